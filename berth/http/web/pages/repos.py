"""Repositories: the list (``/repository/``), a new one (``/new``), a repository's page
(``/repository/{ns}/{repo}?tab=info|tags``) and starring.

Data and decisions come from the same services and access helpers as ``/api/v1``'s
``/repository`` routes (``berth.http.api.v1.repos.access``): a page shows what the API would
answer its caller, and a repository the caller can't read answers the API's 403/404.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.responses import Response

from berth.authz import RepositoryState
from berth.http.api.v1.errors import not_found, quay_errors
from berth.http.api.v1.paging import page_start, page_token
from berth.http.api.v1.registry.tags import readable_repo
from berth.http.api.v1.repos.access import (
    caller_principal,
    list_viewer,
    may_create_repo,
    repository_access,
)
from berth.http.web.framework import Page, Redirect, WebApp, WebRoute
from berth.http.web.markdown import render_markdown
from berth.identity.errors import IdentityError
from berth.registry.errors import ManifestUnknown, NameInvalid
from berth.registry.repositories import RepoName, parse_repo_name
from berth.registry.tags import HistoryQuery, NameFilter, TagRecord
from berth.repos.services import ListQuery, RepoSummary

MAX_NAME = 255
MAX_DESCRIPTION = 64 * 1024
TAGS_PER_PAGE = 50
SORTS = {"name": "Name", "modified": "Last modified", "size": "Size"}


# ------------------------------------------------------------------------------ list


async def _namespaces_of(page: Page) -> list[str]:
    """The caller's own namespace and organizations (the list's namespace filter)."""
    user = page.user
    if user is None:
        return []
    orgs = await page.web.api.svc.orgs.list_for_user(user.username)
    return [user.username, *sorted(o.name for o in orgs)]


def _sorted(repos: list[RepoSummary], sort: str) -> list[RepoSummary]:
    if sort == "modified":
        return sorted(repos, key=lambda r: r.last_modified_s or 0, reverse=True)
    if sort == "size":
        return sorted(repos, key=lambda r: r.size_bytes, reverse=True)
    return sorted(repos, key=lambda r: (r.namespace, r.name))


async def repository_list(page: Page) -> Response:
    """Scope ``view``: ``mine`` (everything you read through permissions), ``starred``,
    ``public`` (explore: plus every public repository), or ``ns:<namespace>``. ``filter``
    keeps names containing it; ``sort`` orders the page; ``next_page`` pages on (100 a page
    by creation, the API's paging)."""
    view = page.query("view", "mine" if page.user else "public")
    name_filter = page.query("filter").strip()[:MAX_NAME]
    sort = page.query("sort", "name")
    sort = sort if sort in SORTS else "name"
    if view == "starred" and page.user is None:
        view = "public"
    namespace = view[3:] if view.startswith("ns:") else None
    query = ListQuery(
        namespace=namespace,
        starred=view == "starred",
        public=view == "public",
        last_modified=True,
        name_contains=name_filter or None,
        after_id=page_start(page.web.api, page.query("next_page") or None),
    )
    result = await page.web.api.svc.repos.list_repositories(list_viewer(page.ctx), query)
    repos = result.repositories
    next_page = (
        page_token(page.web.api, result.next_after_id) if result.next_after_id is not None else None
    )
    return page.render(
        "repos/list.html",
        repos=_sorted(repos, sort),
        view=view,
        namespaces=await _namespaces_of(page),
        name_filter=name_filter,
        sort=sort,
        sorts=SORTS,
        next_page=next_page,
        first_page=not page.query("next_page"),
    )


# ------------------------------------------------------------------------------- new


async def _creatable_namespaces(page: Page) -> list[str]:
    """Namespaces where the caller may create a repository (as ``POST /repository`` decides)."""
    principal = caller_principal(page.ctx)
    out = []
    for ns in await _namespaces_of(page):
        if await may_create_repo(page.ctx, RepoName(ns, "new-repository"), principal):
            out.append(ns)
    return out


async def new_repository(page: Page) -> Response:
    namespaces = await _creatable_namespaces(page)
    chosen = page.query("namespace")
    values = {"namespace": chosen if chosen in namespaces else "", "visibility": "private"}
    return page.render("repos/new.html", namespaces=namespaces, values=values, errors={})


async def new_repository_post(page: Page) -> Response:
    form = await page.form()
    namespaces = await _creatable_namespaces(page)
    values = {
        "namespace": form.get("namespace", ""),
        "name": form.get("name", "").strip(),
        "description": form.get("description", ""),
        "visibility": "public" if form.get("visibility") == "public" else "private",
    }
    errors: dict[str, str] = {}
    if values["namespace"] not in namespaces:
        errors["namespace"] = "You may not create repositories in this namespace."
    if not values["name"]:
        errors["name"] = "A name is required."
    elif len(values["name"]) > MAX_NAME:
        errors["name"] = f"At most {MAX_NAME} characters."
    if len(values["description"]) > MAX_DESCRIPTION:
        errors["description"] = f"At most {MAX_DESCRIPTION} characters."
    if not errors:
        repo = RepoName(values["namespace"], values["name"])
        try:
            await page.web.api.svc.repos.create(
                repo,
                creator=caller_principal(page.ctx),
                description=values["description"],
                public=values["visibility"] == "public",
                kind="image",
                extended_names=page.web.api.settings.api.extended_repository_names,
                ip=page.ctx.actor_ip,
            )
        except IdentityError as e:  # Repository already exists, Invalid repository name
            errors["name"] = e.message
        else:
            page.flash(f"Repository {repo.namespace}/{repo.name} created.")
            return page.redirect(f"/repository/{repo.namespace}/{repo.name}")
    return page.render(
        "repos/new.html", status=400, namespaces=namespaces, values=values, errors=errors
    )


# ------------------------------------------------------------------------ repository


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


def _repo_from_path(page: Page) -> RepoName:
    try:
        return parse_repo_name(page.params["repository"], library=None)
    except NameInvalid as e:
        raise not_found() from e


async def _platform_rows(page: Page, row: Any, tag: TagRecord) -> list[TagRow]:
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


async def repository_page(page: Page) -> Response:
    repo = _repo_from_path(page)
    page.ctx.params["repository"] = f"{repo.namespace}/{repo.name}"
    access, row = await readable_repo(page.ctx)  # the API's 403/404
    user = page.user
    with quay_errors():
        detail = await page.web.api.svc.repos.get(
            access.repo, viewer_id=user.id if user else None, include_tags=False
        )
    tab = page.query("tab", "info")
    tab = tab if tab in ("info", "tags") else "info"
    data: dict[str, Any] = {
        "repo": detail,
        "full_name": f"{detail.namespace}/{detail.name}",
        "tab": tab,
        "can_write": access.can_write and RepositoryState(detail.state).accepts_pushes,
        "can_admin": access.can_admin,
        "description_html": render_markdown(detail.description),
    }
    live, _more = await page.web.api.svc.registry.tags.history(
        row, HistoryQuery(page=1, limit=1, active_only=True)
    )
    data["is_empty"] = not live
    if tab == "tags":
        data.update(await _tags(page, row))
        if page.is_htmx:
            return page.render("repos/_tags_table.html", **data)
    return page.render("repos/repository.html", **data)


async def _tags(page: Page, row: Any) -> dict[str, Any]:
    raw_filter = page.query("filter").strip()[:128]
    sort = page.query("sort", "modified")
    sort = sort if sort in ("modified", "name") else "modified"
    try:
        number = max(1, int(page.query("page", "1")))
    except ValueError:
        number = 1
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
        rows.append(TagRow(t.name, t.manifest_digest, t.size, t.start_ms, t.end_ms, None, index))
        if t.is_manifest_list:
            rows.extend(await _platform_rows(page, row, t))
    return {
        "tag_rows": rows,
        "tag_filter": raw_filter,
        "tag_sort": sort,
        "tag_page": number,
        "tag_more": more,
    }


async def star(page: Page) -> Response:
    """Star or unstar (htmx swaps the button; without JavaScript, back to the page)."""
    user = page.require_user()
    repo = _repo_from_path(page)
    access = await repository_access(page.ctx, repo)
    readable = access.exists and (access.role is not None or access.facts.is_public)
    if not readable:
        raise not_found()
    form = await page.form()
    starred = form.get("starred") == "true"
    with quay_errors():
        if starred:
            await page.web.api.svc.repos.star(user.id, repo)
        else:
            await page.web.api.svc.repos.unstar(user.id, repo)
    if page.is_htmx:
        return page.render(
            "repos/_star.html", repo_name=f"{repo.namespace}/{repo.name}", is_starred=starred
        )
    raise Redirect(f"/repository/{repo.namespace}/{repo.name}")


async def home(page: Page) -> Response:
    return page.redirect("/repository/")


def routes(web: WebApp) -> list[WebRoute]:
    return [
        WebRoute("/", home, signed_in=False),
        WebRoute("/repository", home, signed_in=False),
        WebRoute("/repository/", repository_list, name="repositories", signed_in=False),
        WebRoute("/new", new_repository, name="new-repository"),
        WebRoute("/new", new_repository_post, methods=("POST",)),
        WebRoute("/repository/{repository:repository}/star", star, methods=("POST",)),
        WebRoute("/repository/{repository:repository}", repository_page, signed_in=False),
    ]
