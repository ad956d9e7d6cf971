"""A repository's Mirroring tab (``/repository/{ns}/{repo}?tab=mirroring``): the mirror's
configuration (create or change), its status, the last sync's per-tag results, and
"Sync now" / "Cancel sync".

Shown to repository admins when FEATURE_REPO_MIRROR is on and the repository is in
``MIRROR`` state (as Quay's UI). The forms post to ``…/mirror``, ``…/mirror/sync-now`` and
``…/mirror/sync-cancel`` and call the same service and checks as the ``mirror`` API routes;
refusals come back as the API's messages on top of the tab.
"""

from __future__ import annotations

import datetime
from typing import Any

from starlette.responses import Response

from berth.authz import RepoRole
from berth.http.api.v1.errors import not_found
from berth.http.api.v1.mirroring.routes import serialize
from berth.http.api.v1.repos.access import RepoAccess, require_repo
from berth.http.web.framework import Page, WebApp, WebRoute
from berth.mirroring.errors import (
    InvalidMirrorConfig,
    MirrorExists,
    MirrorNotFound,
    SyncNotAllowed,
)
from berth.mirroring.services import MirrorInput, MirrorService
from berth.registry.errors import NameInvalid
from berth.registry.repositories import parse_repo_name

TAB = "mirroring"


def _service(page: Page) -> MirrorService:
    service = page.web.api.svc.mirrors
    if service is None:
        raise not_found()
    return service


async def _admin_target(page: Page) -> RepoAccess:
    """As the API's mirror routes: admin role (403), then existence (404)."""
    try:
        repo = parse_repo_name(page.params["repository"], library=None)
    except NameInvalid as e:
        raise not_found() from e
    page.ctx.params["repository"] = f"{repo.namespace}/{repo.name}"
    return (await require_repo(page.ctx, RepoRole.ADMIN)).require_exists()


def _local_input(value: str | None) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` -> the ``datetime-local`` input's ``YYYY-MM-DDTHH:MM``."""
    return value[:16] if value else ""


async def mirroring_data(page: Page, access: RepoAccess) -> dict[str, Any]:
    try:
        view = await _service(page).get(access.repo)
    except MirrorNotFound:
        return {
            "mirror": None,
            "mirror_start": _now_input(),
            "mirror_result": None,
            "mirror_message": None,
            "mirror_has_password": False,
            "mirror_busy": False,
        }
    shown = serialize(view)
    result = view.last_result or {}
    return {
        "mirror": shown,
        "mirror_start": _local_input(shown["sync_start_date"]),
        "mirror_result": result or None,
        "mirror_message": view.last_message,
        "mirror_has_password": bool(view.password),
        "mirror_busy": view.sync_status in ("SYNC_NOW", "SYNCING"),
    }


def _now_input() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M")


def _url(access: RepoAccess) -> str:
    return f"/repository/{access.repo.namespace}/{access.repo.name}?tab={TAB}"


def _done(page: Page, access: RepoAccess, message: str, kind: str = "success") -> Response:
    page.flash(message, kind)
    if page.is_htmx:
        response = Response(status_code=204)
        response.headers["HX-Redirect"] = _url(access)
        return response
    return page.redirect(_url(access))


def _form_input(form: dict[str, str], *, creating: bool) -> MirrorInput:
    start = form.get("sync_start", "").strip()
    if start and len(start) == 16:
        start += ":00"
    interval = form.get("sync_interval", "").strip()
    username = form.get("username", "").strip()
    password = form.get("password", "")
    globs = [g.strip() for g in form.get("tags", "").split(",") if g.strip()]
    proxy = {k: form.get(k, "").strip() or None for k in ("http_proxy", "https_proxy", "no_proxy")}
    return MirrorInput(
        is_enabled=form.get("is_enabled") == "on",
        external_reference=form.get("external_reference", "").strip() or None,
        username=username or None,
        username_given=True,
        password=password or None,
        # An empty password field keeps the stored one (it is never shown), unless the
        # username is cleared too.
        password_given=bool(password) or not username,
        sync_start_date=(start + "Z") if start else None,
        sync_interval=int(interval) if interval.isdigit() else (3600 if creating else None),
        robot_username=form.get("robot_username", "").strip() or None,
        root_rule=globs or None,
        verify_tls=form.get("verify_tls") == "on",
        proxy=proxy,
        skopeo_timeout_interval=300 if creating else None,
    )


async def mirror_post(page: Page) -> Response:
    """Create the mirror (no configuration yet) or change it: the API's POST / PUT."""
    access = await _admin_target(page)
    service = _service(page)
    form = await page.form()
    try:
        try:
            await service.get(access.repo)
            creating = False
        except MirrorNotFound:
            creating = True
        data = _form_input(form, creating=creating)
        if creating:
            if not data.external_reference or not data.root_rule or not data.sync_start_date:
                raise InvalidMirrorConfig("Registry location, tags and next sync are required.")
            await service.create(access.repo, data, performer=page.ctx.performer())
            return _done(page, access, "Mirroring configured.")
        await service.update(access.repo, data, performer=page.ctx.performer())
    except (InvalidMirrorConfig, MirrorExists) as e:
        return _done(page, access, e.message, "danger")
    return _done(page, access, "Mirroring configuration saved.")


async def sync_post(page: Page) -> Response:
    access = await _admin_target(page)
    service = _service(page)
    action = page.params["action"]
    try:
        if action == "sync-now":
            await service.sync_now(access.repo, performer=page.ctx.performer())
            return _done(page, access, "Sync requested.")
        if action == "sync-cancel":
            await service.sync_cancel(access.repo, performer=page.ctx.performer())
            return _done(page, access, "Sync cancelled.")
    except SyncNotAllowed as e:
        return _done(page, access, e.message, "warning")
    except MirrorNotFound:
        return _done(page, access, "No mirror is configured.", "warning")
    raise not_found()


def routes(web: WebApp) -> list[WebRoute]:
    if not web.api.settings.mirroring.enabled:
        return []
    base = "/repository/{repository:repository}/mirror"
    return [
        WebRoute(base + "/{action}", sync_post, methods=("POST",)),
        WebRoute(base, mirror_post, methods=("POST",)),
    ]
