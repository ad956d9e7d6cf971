"""Repositories: the list (``/repository/``), a new one (``/new``) and starring (a
repository's own page and its actions: ``repository.py``).

Data and decisions come from the same services and access helpers as ``/api/v1``'s
``/repository`` routes (``berth.http.api.v1.repos.access``): a page shows what the API would
answer its caller, and a repository the caller can't read answers the API's 403/404.
"""

from __future__ import annotations

from starlette.responses import Response

from berth.http.api.v1.errors import not_found, quay_errors
from berth.http.api.v1.paging import page_start, page_token
from berth.http.api.v1.repos.access import (
    caller_principal,
    list_viewer,
    may_create_repo,
    repository_access,
)
from berth.http.web.framework import Page, Redirect, WebApp, WebRoute
from berth.http.web.pages import quotas
from berth.http.web.pages.repository import repo_from_path
from berth.identity.errors import IdentityError
from berth.registry.repositories import RepoName
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
    # The quota of each namespace on the page (two queries; none when quotas are off).
    quota_bars = await quotas.bars(
        page, {r.namespace for r in repos} | set(filter(None, [namespace]))
    )
    return page.render(
        "repos/list.html",
        repos=_sorted(repos, sort),
        quota_bars=quota_bars,
        namespace_bar=quota_bars.get(namespace) if namespace else None,
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


async def star(page: Page) -> Response:
    """Star or unstar (htmx swaps the button; without JavaScript, back to the page)."""
    user = page.require_user()
    repo = repo_from_path(page)
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
    ]
