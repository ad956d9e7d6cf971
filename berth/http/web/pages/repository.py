"""A repository's page (``/repository/{ns}/{repo}?tab=info|tags|history|settings``) and its
actions: tags (add, move, expiration, delete, restore, the fetch-tag commands), the
description, visibility, permissions, state, policies and deletion.

Every action asks the same access helpers as its ``/api/v1`` route (``writable_repo`` for
tag changes, ``require_repo(ADMIN)`` for settings) and calls the same service; the page
hides what the caller may not use, and the POST handlers refuse it anyway with the API's
403/404/503. A form posted by htmx gets the fragment to swap (errors retarget the action
panel); without JavaScript the form posts, flashes and redirects back (errors: 400 page).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.responses import Response

from berth.authz import SETTABLE_STATES, RepoRole, RepositoryState
from berth.http.api.v1.errors import ApiProblem, forbidden, not_found, quay_errors
from berth.http.api.v1.identity.entities import find_entities
from berth.http.api.v1.registry.tags import (
    TAG_ERROR,
    existing,
    readable_repo,
    registry_errors,
    writable_repo,
)
from berth.http.api.v1.repos.access import RepoAccess, require_repo
from berth.http.web.framework import Page, WebApp, WebRoute
from berth.http.web.markdown import render_markdown
from berth.http.web.pages import builds, notification_settings, security, usagelogs
from berth.http.web.pages.mirroring import mirroring_data
from berth.oci.names import is_valid_tag
from berth.policies.errors import DuplicatePolicy, InvalidPolicy
from berth.policies.errors import NotFound as PolicyNotFound
from berth.policies.rules import immutability_rule, prune_rule
from berth.policies.services import IMMUTABILITY, PRUNE, Scope
from berth.registry.errors import ManifestUnknown, NameInvalid
from berth.registry.repositories import RepoName, RepoRow, parse_repo_name
from berth.registry.tags import HistoryQuery, NameFilter, TagRecord, TagUpdate
from berth.repos.services import RepoDetail

TAGS_PER_PAGE = 50
HISTORY_PER_PAGE = 50
MAX_TAG = 128
MAX_DIGEST = 200
MAX_DESCRIPTION = 64 * 1024
MAX_ENTITY = 255
TABS = {
    "info": "Information",
    "tags": "Tags",
    "history": "Tag history",
    "logs": "Logs",
    "settings": "Settings",
}
ADMIN_TABS = {"logs", "settings"}  # repository admins only (the API's rule for both)
# Admins of a MIRROR repository see it with FEATURE_REPO_MIRROR on (pages/mirroring.py).
MIRROR_TAB = ("mirroring", "Mirroring")
TAG_ACTIONS = ("fetch", "add", "move", "expire", "delete", "immutable")
ROLES = tuple(role.value for role in RepoRole)


class FormError(Exception):
    """A refused form: the message goes next to the field (status 400)."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def _message(e: ApiProblem) -> str:
    return str(e) or "Error"


@dataclass(frozen=True)
class TagRow:
    """A row of the tags tab: a tag, or one platform of an index under it."""

    name: str
    digest: str
    size: int | None
    start_ms: int
    end_ms: int | None
    platform: str | None = None  # "linux/amd64" for an index's child
    is_index: bool = False
    immutable: bool = False

    @property
    def short_digest(self) -> str:
        """``sha256:0123456789ab``."""
        algorithm, _, hex_part = self.digest.partition(":")
        return f"{algorithm}:{hex_part[:12]}"


@dataclass(frozen=True)
class HistoryRow:
    """One movement of a tag for the time machine."""

    record: TagRecord
    status: str  # live, expiring, moved, deleted
    restorable: bool


def repo_from_path(page: Page) -> RepoName:
    try:
        repo = parse_repo_name(page.params["repository"], library=None)
    except NameInvalid as e:
        raise not_found() from e
    page.ctx.params["repository"] = f"{repo.namespace}/{repo.name}"
    return repo


def _base(repo: RepoName | RepoRow | RepoDetail) -> str:
    return f"/repository/{repo.namespace}/{repo.name}"


# ------------------------------------------------------------------------- the page


async def repository_page(page: Page) -> Response:
    repo_from_path(page)
    access, row = await readable_repo(page.ctx)  # the API's 403/404
    user = page.user
    with quay_errors():
        detail = await page.web.api.svc.repos.get(
            access.repo, viewer_id=user.id if user else None, include_tags=False
        )
    tabs = {k: v for k, v in TABS.items() if k not in ADMIN_TABS or access.can_admin}
    mirrored = page.web.api.settings.mirroring.enabled and detail.state == "MIRROR"
    if mirrored and access.can_admin:
        tabs = {**{k: v for k, v in tabs.items() if k != "settings"}, MIRROR_TAB[0]: MIRROR_TAB[1]}
        tabs["settings"] = TABS["settings"]
    if builds.enabled(page):  # readers may list builds (the API's rule)
        tail = ("logs", "settings")
        tabs = {
            **{k: v for k, v in tabs.items() if k not in tail},
            builds.TAB: "Builds",
            **{k: v for k, v in tabs.items() if k in tail},
        }
    tab = page.query("tab", "info")
    if tab == MIRROR_TAB[0] and mirrored and not access.can_admin:
        raise forbidden()  # the mirror routes: repository admins
    tab = tab if tab in tabs or tab in ADMIN_TABS else "info"
    if tab in ADMIN_TABS and not access.can_admin:
        raise forbidden()  # the settings read the permissions: repository admins (as the API)
    can_write = access.can_write and RepositoryState(detail.state).accepts_pushes
    data: dict[str, Any] = {
        "repo": detail,
        "full_name": f"{detail.namespace}/{detail.name}",
        "base": _base(detail),
        "tab": tab,
        "tabs": tabs,
        "can_write": can_write,
        "can_admin": access.can_admin,
        "description_html": render_markdown(detail.description) if tab == "info" else "",
        "edit_description": page.query("edit") == "description" and access.can_write,
        "errors": {},
        "tag_action": None,
    }
    if tab == "info":  # the push commands of an empty repository
        live, _more = await page.web.api.svc.registry.tags.history(
            row, HistoryQuery(page=1, limit=1, active_only=True)
        )
        data["is_empty"] = not live
    else:
        data["is_empty"] = False
    if tab == "tags":
        data.update(await tags_data(page, row))
        action = page.query("action")
        if action == "close" and page.is_htmx:
            return page.render("repository/_tag_action.html", **data)
        if action in TAG_ACTIONS:
            data["tag_action"] = await _tag_action(page, row, action, can_write)
            if page.is_htmx:
                return page.render("repository/_tag_action.html", **data)
        if page.is_htmx:
            return page.render("repository/_tags_table.html", **data)
    elif tab == "history":
        data.update(await history_data(page, row, detail.tag_expiration_s))
        if page.is_htmx:
            return page.render("repository/_history.html", **data)
    elif tab == "settings":
        data.update(await settings_data(page, access, detail))
    elif tab == "logs":
        data["logs"] = await usagelogs.repository_logs(page, detail.namespace, detail.name)
    elif tab == MIRROR_TAB[0]:
        data.update(await mirroring_data(page, access))
    elif tab == builds.TAB:
        data.update(await builds.builds_data(page, access))
    return page.render("repository/repository.html", **data)


async def _platform_rows(page: Page, row: RepoRow, tag: TagRecord) -> list[TagRow]:
    details = page.web.api.svc.registry.details
    try:
        index = await details.get(row, tag.manifest_digest)
        doc = orjson.loads(index.content)
    except (ManifestUnknown, orjson.JSONDecodeError):
        return []
    out = []
    for entry in doc.get("manifests", []) if isinstance(doc, dict) else []:
        platform = entry.get("platform") or {}
        parts = (platform.get("os"), platform.get("architecture"), platform.get("variant"))
        name = "/".join(p for p in parts if p)
        digest = str(entry.get("digest", ""))
        size = None
        with contextlib.suppress(ManifestUnknown):
            size = (await details.get(row, digest)).layers_size
        out.append(TagRow(tag.name, digest, size, tag.start_ms, tag.end_ms, name or "unknown"))
    return out


async def tags_data(page: Page, row: RepoRow, *, defaults: bool = False) -> dict[str, Any]:
    """The tags table: a page of live tags (filter, sort of the page, paging by 50)."""
    raw_filter = "" if defaults else page.query("filter").strip()[:MAX_TAG]
    sort = "modified" if defaults else page.query("sort", "modified")
    sort = sort if sort in ("modified", "name") else "modified"
    number = 1 if defaults else _page_number(page)
    query = HistoryQuery(
        page=number,
        limit=TAGS_PER_PAGE,
        name_filter=NameFilter("like", raw_filter) if raw_filter else None,
        active_only=True,
    )
    tags, more = await page.web.api.svc.registry.tags.history(row, query)
    if sort == "name":
        tags = sorted(tags, key=lambda t: t.name)
    rows: list[TagRow] = []
    for t in tags:
        index = t.is_manifest_list
        rows.append(
            TagRow(
                t.name, t.manifest_digest, t.size, t.start_ms, t.end_ms, None, index, t.immutable
            )
        )
        if t.is_manifest_list:
            rows.extend(await _platform_rows(page, row, t))
    cells = await security.summaries(page, [r.digest for r in rows if not r.is_index])
    pull_stats_on = page.web.api.settings.registry.pull_stats
    pulls = (
        await page.web.api.svc.registry.pull_stats.tags(row, [t.name for t in tags])
        if pull_stats_on
        else {}
    )
    return {
        "tag_rows": rows,
        "security_on": security.enabled(page),
        "security_cells": cells,
        "pull_stats_on": pull_stats_on,
        "tag_pulls": pulls,
        "immutability_on": page.web.api.settings.registry.tags.immutable_tags,
        "tag_filter": raw_filter,
        "tag_sort": sort,
        "tag_page": number,
        "tag_more": more,
    }


def _page_number(page: Page) -> int:
    try:
        return max(1, min(int(page.query("page", "1")), 1_000_000))
    except ValueError:
        return 1


async def _live_tag(page: Page, row: RepoRow, name: str) -> TagRecord:
    if not is_valid_tag(name):
        raise not_found()
    tags, _ = await page.web.api.svc.registry.tags.history(
        row, HistoryQuery(page=1, limit=1, specific_tag=name, active_only=True)
    )
    if not tags:
        raise not_found()
    return tags[0]


async def _tag_action(page: Page, row: RepoRow, action: str, can_write: bool) -> dict[str, Any]:
    """The action panel above the tags table (the fetch commands are for readers too)."""
    if action != "fetch" and not can_write:
        raise forbidden()
    if action == "immutable" and not page.web.api.settings.registry.tags.immutable_tags:
        raise not_found()
    tag = await _live_tag(page, row, page.query("tag"))
    return {"kind": action, "tag": tag, "error": None, "value": ""}


# -------------------------------------------------------------------- tag actions


async def _tag_target(page: Page) -> tuple[RepoAccess, RepoRow]:
    """As ``PUT /api/v1/repository/{r}/tag/{t}``: write role (403), a repository in a
    state taking changes (503), then existence (404)."""
    repo_from_path(page)
    access, row = await writable_repo(page.ctx)
    return access, existing(row)


def _expiration(raw: str) -> float:
    """``<input type=datetime-local>``'s ``YYYY-MM-DDTHH:MM``, read as UTC (the UI's times
    are UTC)."""
    try:
        when = datetime.fromisoformat(raw.strip()[:32])
    except ValueError as e:
        raise FormError("Enter a date and time.", "expires_at") from e
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


async def _resolve_target(page: Page, row: RepoRow, raw: str) -> str:
    """A move's target: a digest, or a live tag's name (its manifest)."""
    raw = raw.strip()
    if not raw:
        raise FormError("Enter a manifest digest or a tag.", "target")
    if len(raw) > MAX_DIGEST:
        raise FormError(f"At most {MAX_DIGEST} characters.", "target")
    if ":" in raw:
        return raw
    if not is_valid_tag(raw):
        raise FormError(TAG_ERROR, "target")
    tags, _ = await page.web.api.svc.registry.tags.history(
        row, HistoryQuery(page=1, limit=1, specific_tag=raw, active_only=True)
    )
    if not tags:
        raise FormError(f"No tag {raw} in this repository.", "target")
    return tags[0].manifest_digest


def _check_tag_name(name: str, field: str) -> None:
    if not name:
        raise FormError("Enter a tag name.", field)
    if len(name) > MAX_TAG:
        raise FormError(f"At most {MAX_TAG} characters.", field)
    if not is_valid_tag(name):
        raise FormError(TAG_ERROR, field)


async def tag_action_post(page: Page) -> Response:
    """``POST .../tag/{tag}/{action}``: add (a new tag on this tag's manifest, or on
    ``manifest_digest``), move, expire (set or clear), delete, restore."""
    access, row = await _tag_target(page)
    action = page.params["action"]
    name = page.params["tag"]
    form = await page.form()
    tags = page.web.api.svc.registry.tags
    performer = page.ctx.performer()
    value = ""
    try:
        if len(name) > MAX_TAG or not is_valid_tag(name):
            raise FormError(TAG_ERROR)
        if action == "add":
            value = form.get("new_tag", "").strip()
            _check_tag_name(value, "new_tag")
            digest = form.get("manifest_digest", "")[:MAX_DIGEST]
            if not digest:
                digest = (await _live_tag(page, row, name)).manifest_digest
            with registry_errors():
                done = await tags.update(
                    row, value, TagUpdate(manifest_digest=digest), performer=performer
                )
            message = (
                f"Tag {value} added."
                if done.created
                else f"Tag {value} moved to {done.digest[:19]}."
                if done.previous_digest != done.digest
                else f"Tag {value} already points there."
            )
        elif action == "move":
            value = form.get("target", "")
            digest = await _resolve_target(page, row, value)
            with registry_errors():
                await tags.update(row, name, TagUpdate(manifest_digest=digest), performer=performer)
            message = f"Tag {name} moved to {digest[:19]}."
        elif action == "expire":
            clear = form.get("clear") == "true"
            value = form.get("expires_at", "")
            when = None if clear else _expiration(value)
            with registry_errors():
                await tags.update(
                    row,
                    name,
                    TagUpdate(set_expiration=True, expiration_s=when),
                    performer=performer,
                )
            message = f"Expiration of {name} cleared." if clear else f"Expiration of {name} set."
        elif action == "delete":
            with registry_errors():
                await tags.delete(row, name, performer=performer)
            message = f"Tag {name} deleted. It can be restored from the tag history."
        elif action == "immutable":
            # As PUT .../tag/{t} {"immutable"}: the feature must be on, and making a tag
            # mutable again takes an administrator.
            flag = form.get("immutable") == "true"
            if not page.web.api.settings.registry.tags.immutable_tags:
                raise FormError("Tag immutability is not enabled (FEATURE_IMMUTABLE_TAGS)")
            if not flag and not access.can_admin:
                raise forbidden()
            with registry_errors():
                await tags.update(row, name, TagUpdate(immutable=flag), performer=performer)
            message = f"Tag {name} is now {'immutable' if flag else 'mutable'}."
        elif action == "restore":
            digest = form.get("manifest_digest", "")[:MAX_DIGEST]
            if not digest:
                raise FormError("Missing manifest_digest")
            with registry_errors():
                await tags.restore(row, name, digest, performer=performer)
            message = f"Tag {name} restored to {digest[:19]}."
        else:
            raise not_found()
    except (FormError, ApiProblem) as e:
        if isinstance(e, ApiProblem) and e.status in (401, 403, 503):
            raise
        error = e.message if isinstance(e, FormError) else _message(e)
        return await _action_failed(page, row, access, action, name, value, error)
    back = "history" if action == "restore" else "tags"
    if page.is_htmx and back == "tags":
        data = await tags_data(page, row, defaults=True)
        return page.render(
            "repository/_tags_tab.html", **data, **_common(row, access), notice=message
        )
    page.flash(message)
    return page.redirect(f"{_base(row)}?tab={back}")


def _common(row: RepoRow, access: RepoAccess) -> dict[str, Any]:
    return {
        "repo": row,
        "base": _base(row),
        "full_name": f"{row.namespace}/{row.name}",
        "can_write": access.can_write and RepositoryState(row.state).accepts_pushes,
        "can_admin": access.can_admin,
        "tag_action": None,
        "is_empty": False,
    }


async def _action_failed(
    page: Page,
    row: RepoRow,
    access: RepoAccess,
    action: str,
    name: str,
    value: str,
    error: str,
) -> Response:
    """The action panel again with the error next to its field: htmx swaps it in place
    (200, retargeted); a plain post gets the tags tab with the panel (400)."""
    tags, _ = await page.web.api.svc.registry.tags.history(
        row, HistoryQuery(page=1, limit=1, specific_tag=name, active_only=True)
    )
    panel = None
    if tags and action in TAG_ACTIONS:
        panel = {"kind": action, "tag": tags[0], "error": error, "value": value}
    data = {**_common(row, access), "tag_action": panel, "notice": None, "failure": error}
    if page.is_htmx and action != "restore":
        template = "repository/_tag_action.html" if panel else "repository/_failure.html"
        response = page.render(template, **data)
        response.headers["HX-Retarget"] = "#tag-action"
        response.headers["HX-Reswap"] = "outerHTML"
        return response
    user = page.user
    with quay_errors():
        detail = await page.web.api.svc.repos.get(
            access.repo, viewer_id=user.id if user else None, include_tags=False
        )
    full = {
        **data,
        **(await tags_data(page, row, defaults=True)),
        "repo": detail,
        "tab": "tags" if action != "restore" else "history",
        "tabs": {k: v for k, v in TABS.items() if k not in ADMIN_TABS or access.can_admin},
        "description_html": "",
        "edit_description": False,
        "errors": {},
    }
    if action == "restore":
        full.update(await history_data(page, row, detail.tag_expiration_s))
    return page.render("repository/repository.html", status=400, **full)


# ----------------------------------------------------------------------- history


async def history_data(page: Page, row: RepoRow, window_s: int) -> dict[str, Any]:
    """Every movement of the repository's tags, newest first (the tags API without
    ``onlyActiveTags``), each marked live, expiring, moved (a later row of the same name
    starts when it ends) or deleted (ended with nothing after it: deleted or expired), and
    restorable when it ended within the namespace's time-machine window."""
    raw_filter = page.query("filter").strip()[:MAX_TAG]
    number = _page_number(page)
    query = HistoryQuery(
        page=number,
        limit=HISTORY_PER_PAGE,
        name_filter=NameFilter("like", raw_filter) if raw_filter else None,
    )
    records, more = await page.web.api.svc.registry.tags.history(row, query)
    now = int(datetime.now(UTC).timestamp() * 1000)
    starts: dict[str, set[int]] = {}
    live_digest: dict[str, str] = {}
    for r in records:
        starts.setdefault(r.name, set()).add(r.start_ms)
        if r.end_ms is None or r.end_ms > now:
            live_digest[r.name] = r.manifest_digest
    rows = []
    for r in records:
        if r.end_ms is None:
            status = "live"
        elif r.end_ms > now:
            status = "expiring"
        elif r.end_ms in starts.get(r.name, set()):
            status = "moved"
        else:
            status = "deleted"
        ended = r.end_ms is not None and r.end_ms <= now
        restorable = (
            ended
            and r.end_ms is not None
            and r.end_ms > now - window_s * 1000
            and live_digest.get(r.name) != r.manifest_digest
        )
        rows.append(HistoryRow(r, status, restorable))
    return {
        "history_rows": rows,
        "history_filter": raw_filter,
        "history_page": number,
        "history_more": more,
        "window_s": window_s,
    }


# ------------------------------------------------------------------------ settings


async def settings_data(page: Page, access: RepoAccess, detail: RepoDetail) -> dict[str, Any]:
    svc = page.web.api.svc
    repo = access.repo
    with quay_errors():
        users = await svc.permissions.list_user_permissions(repo)
        teams = await svc.permissions.list_team_permissions(repo)
    flags = page.web.api.settings
    data: dict[str, Any] = {
        "user_permissions": sorted(users, key=lambda p: (p.is_robot, p.name)),
        "team_permissions": sorted(teams, key=lambda p: p.name),
        "roles": ROLES,
        "is_org": detail.is_organization,
        "state": detail.state,
        "states": [s.value for s in SETTABLE_STATES],
        "may_change_state": flags.api.repo_mirror,
        "immutability_policies": [],
        "prune_policies": [],
        "immutability_on": flags.registry.tags.immutable_tags,
        "prune_on": flags.policies.auto_prune,
    }
    scope = Scope(repo.namespace, repo.name)
    if data["immutability_on"]:
        data["immutability_policies"] = await svc.policies.list(IMMUTABILITY, scope)
    if data["prune_on"]:
        data["prune_policies"] = await svc.policies.list(PRUNE, scope)
    data.update(await notification_settings.notifications_data(page, repo))
    return data


async def _admin_target(page: Page) -> RepoAccess:
    """As the API's admin routes: admin role (403), then existence (404)."""
    repo_from_path(page)
    return (await require_repo(page.ctx, RepoRole.ADMIN)).require_exists()


def _settings_url(access: RepoAccess) -> str:
    return f"{_base(access.repo)}?tab=settings"


async def _settings_done(page: Page, access: RepoAccess, message: str) -> Response:
    page.flash(message)
    if page.is_htmx:
        response = Response(status_code=204)
        response.headers["HX-Redirect"] = _settings_url(access)
        return response
    return page.redirect(_settings_url(access))


async def _settings_failed(page: Page, access: RepoAccess, message: str) -> Response:
    """A refused settings form: the settings again, the API's message on top (400)."""
    if page.is_htmx:
        page.flash(message, "danger")
        response = Response(status_code=204)
        response.headers["HX-Redirect"] = _settings_url(access)
        return response
    user = page.user
    detail = await page.web.api.svc.repos.get(
        access.repo, viewer_id=user.id if user else None, include_tags=False
    )
    data = {
        "repo": detail,
        "full_name": f"{detail.namespace}/{detail.name}",
        "base": _base(detail),
        "tab": "settings",
        "tabs": TABS,
        "can_write": access.can_write,
        "can_admin": True,
        "description_html": "",
        "edit_description": False,
        "errors": {},
        "tag_action": None,
        "is_empty": False,
        "failure": message,
        **(await settings_data(page, access, detail)),
    }
    return page.render("repository/repository.html", status=400, **data)


async def description_post(page: Page) -> Response:
    """As ``PUT /api/v1/repository/{r}``: writers edit the description."""
    repo_from_path(page)
    access = (await require_repo(page.ctx, RepoRole.WRITE)).require_exists()
    form = await page.form()
    text = form.get("description", "")
    if len(text) > MAX_DESCRIPTION:
        user = page.user
        detail = await page.web.api.svc.repos.get(
            access.repo, viewer_id=user.id if user else None, include_tags=False
        )
        return page.render(
            "repository/repository.html",
            status=400,
            repo=detail,
            full_name=f"{detail.namespace}/{detail.name}",
            base=_base(detail),
            tab="info",
            tabs={k: v for k, v in TABS.items() if k not in ADMIN_TABS or access.can_admin},
            can_write=access.can_write,
            can_admin=access.can_admin,
            description_html=render_markdown(detail.description),
            edit_description=True,
            errors={"description": f"At most {MAX_DESCRIPTION} characters."},
            tag_action=None,
            is_empty=False,
            failure=f"The description is too long: at most {MAX_DESCRIPTION} characters.",
        )
    with quay_errors():
        await page.web.api.svc.repos.set_description(
            access.repo, text, performer=page.ctx.performer()
        )
    page.flash("Description saved.")
    return page.redirect(_base(access.repo))


async def visibility_post(page: Page) -> Response:
    access = await _admin_target(page)
    form = await page.form()
    public = form.get("visibility") == "public"
    user = page.require_user()
    with quay_errors():
        await page.web.api.svc.permissions.set_visibility(
            access.repo, public, performer=user.username, ip=page.ctx.actor_ip
        )
    now = "public" if public else "private"
    return await _settings_done(page, access, f"The repository is now {now}.")


async def permission_post(page: Page) -> Response:
    """Grant, change (``role``) or revoke (``role`` = "none") a user's, robot's or team's
    permission: the API's permission routes."""
    access = await _admin_target(page)
    user = page.require_user()
    form = await page.form()
    kind = form.get("kind", "user")
    name = form.get("name", "").strip()
    role = form.get("role", "")
    if not name:
        return await _settings_failed(page, access, "Enter a user, robot or team.")
    if len(name) > MAX_ENTITY:
        return await _settings_failed(page, access, f"At most {MAX_ENTITY} characters.")
    if role not in (*ROLES, "none") or kind not in ("user", "team"):
        return await _settings_failed(page, access, "Choose a role.")
    perms = page.web.api.svc.permissions
    kw: dict[str, Any] = {"performer": user.username, "ip": page.ctx.actor_ip}
    try:
        with quay_errors():
            if role == "none":
                if kind == "team":
                    await perms.delete_team_permission(access.repo, name, **kw)
                else:
                    await perms.delete_user_permission(access.repo, name, **kw)
            elif kind == "team":
                await perms.set_team_permission(access.repo, name, role, **kw)
            else:
                await perms.set_user_permission(access.repo, name, role, **kw)
    except ApiProblem as e:
        if e.status in (401, 403):
            raise
        return await _settings_failed(page, access, _message(e))
    done = f"Permission of {name} removed." if role == "none" else f"{name} now has {role}."
    return await _settings_done(page, access, done)


async def entities(page: Page) -> Response:
    """The permission dialog's type-ahead: ``GET /api/v1/entities/{prefix}`` for the
    repository's namespace (users, its robots, its teams), as ``<option>``s of a datalist."""
    access = await _admin_target(page)
    prefix = page.query("name").strip()[:MAX_ENTITY]
    found = None
    if prefix:
        found = await find_entities(page.ctx, prefix, access.repo.namespace, include_teams=True)
    return page.render(
        "repository/_entities.html",
        teams=found.teams if found else [],
        users=found.users if found else [],
    )


async def state_post(page: Page) -> Response:
    access = await _admin_target(page)
    if not page.web.api.settings.api.repo_mirror:
        raise not_found()  # as PUT .../changestate without FEATURE_REPO_MIRROR
    form = await page.form()
    state = form.get("state", "")
    if state not in {s.value for s in SETTABLE_STATES}:
        return await _settings_failed(page, access, "Choose a state.")
    with quay_errors():
        await page.web.api.svc.repos.set_state(access.repo, state, performer=page.ctx.performer())
    return await _settings_done(page, access, f"The repository's state is now {state}.")


async def policy_post(page: Page) -> Response:
    """Add or delete an immutability or auto-prune policy of the repository (the policy
    API's repository routes, same service and checks)."""
    access = await _admin_target(page)
    settings = page.web.api.settings
    kind_name = page.params["kind"]
    if kind_name == "immutability" and settings.registry.tags.immutable_tags:
        kind: Any = IMMUTABILITY
    elif kind_name == "autoprune" and settings.policies.auto_prune:
        kind = PRUNE
    else:
        raise not_found()
    form = await page.form()
    scope = Scope(access.repo.namespace, access.repo.name)
    policies = page.web.api.svc.policies
    performer = page.ctx.performer()
    pattern = form.get("tagPattern", "").strip()
    if len(pattern) > 1024 or len(form.get("value", "")) > 64:
        return await _settings_failed(page, access, "The pattern or value is too long.")
    try:
        if form.get("delete"):
            await policies.delete(kind, scope, form["delete"][:64], performer=performer)
            message = "Policy deleted."
        else:
            matches = form.get("tagPatternMatches", "true") == "true"
            if kind is PRUNE:
                value: Any = form.get("value", "").strip()
                value = int(value) if value.isdigit() else value
                rule: Any = prune_rule(form.get("method", ""), value, pattern or None, matches)
            else:
                rule = immutability_rule(pattern, matches)
            await policies.create(kind, scope, rule, performer=performer)
            message = "Policy added."
    except (InvalidPolicy, DuplicatePolicy) as e:
        return await _settings_failed(page, access, e.message)
    except PolicyNotFound as e:
        raise not_found() from e
    return await _settings_done(page, access, message)


async def delete_repository_post(page: Page) -> Response:
    """As ``DELETE /api/v1/repository/{r}`` (admins), after typing the name to confirm."""
    access = await _admin_target(page)
    form = await page.form()
    full = f"{access.repo.namespace}/{access.repo.name}"
    if form.get("confirm", "").strip() != full:
        return await _settings_failed(page, access, f"Type {full} to confirm the deletion.")
    await page.web.api.svc.repos.delete(access.repo, performer=page.ctx.performer())
    page.flash(f"Repository {full} deleted.")
    if page.is_htmx:
        response = Response(status_code=204)
        response.headers["HX-Redirect"] = f"/repository/?view=ns:{access.repo.namespace}"
        return response
    return page.redirect(f"/repository/?view=ns:{access.repo.namespace}")


def routes(web: WebApp) -> list[WebRoute]:
    base = "/repository/{repository:repository}"
    return [
        WebRoute(base + "/tag/{tag}/{action}", tag_action_post, methods=("POST",)),
        WebRoute(base + "/description", description_post, methods=("POST",)),
        WebRoute(base + "/settings/visibility", visibility_post, methods=("POST",)),
        WebRoute(base + "/settings/permission", permission_post, methods=("POST",)),
        WebRoute(base + "/settings/state", state_post, methods=("POST",)),
        WebRoute(base + "/settings/policy/{kind}", policy_post, methods=("POST",)),
        WebRoute(base + "/settings/delete", delete_repository_post, methods=("POST",)),
        WebRoute(base + "/settings/entities", entities),
        WebRoute(base, repository_page, signed_in=False),  # last: {repository} is greedy
    ]
