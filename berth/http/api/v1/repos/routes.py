"""Repositories (create, list, get, describe, delete, visibility, state) and stars.

Repository-scoped routes check the caller's role before the repository's existence
(``require_repo``); creation asks the access policy's ``may_create`` like a push does.
"""

from __future__ import annotations

from starlette.responses import Response

from berth.authz import SETTABLE_STATES, RepoRole, RepositoryState, at_least
from berth.http.api.v1.errors import (
    BAD_REQUEST_MESSAGE,
    MessageError,
    forbidden,
    invalid_request,
    json_response,
    not_found,
    quay_errors,
)
from berth.http.api.v1.framework import ApiApp, ApiRoute, Ctx, Param
from berth.http.api.v1.paging import page_start, page_token
from berth.http.api.v1.quota_views import quotas_shown
from berth.http.api.v1.repos.access import (
    RepoAccess,
    caller_principal,
    list_viewer,
    may_create_repo,
    repo_name,
    repository_access,
    require_repo,
)
from berth.http.api.v1.repos.serializers import repository_item, repository_view, starred_item
from berth.registry.repositories import RepoName
from berth.repos.services import ListQuery, RepoPage

_VISIBILITY = {"type": "string", "enum": ["public", "private"]}
NEW_REPO = {
    "type": "object",
    "required": ["repository", "visibility", "description"],
    "properties": {
        "repository": {"type": "string"},
        "visibility": _VISIBILITY,
        "namespace": {"type": "string"},
        "description": {"type": "string"},
        "repo_kind": {"type": ["string", "null"], "enum": ["image", None]},
    },
}
REPO_UPDATE = {
    "type": "object",
    "required": ["description"],
    "properties": {"description": {"type": "string"}},
}
CHANGE_VISIBILITY = {
    "type": "object",
    "required": ["visibility"],
    "properties": {"visibility": _VISIBILITY},
}
CHANGE_STATE = {
    "type": "object",
    "required": ["state"],
    "properties": {"state": {"type": "string", "enum": [state.value for state in SETTABLE_STATES]}},
}
NEW_STAR = {
    "type": "object",
    "required": ["namespace", "repository"],
    "properties": {"namespace": {"type": "string"}, "repository": {"type": "string"}},
}
NAMESPACE_REQUIRED = "namespace, starred or public are required for this API call"
NO_CALLER = "Must provide a namespace or must be logged in."


# ------------------------------------------------------------------------------ helpers


def _readable(access: RepoAccess) -> bool:
    return access.exists and (at_least(access.role, RepoRole.READ) or access.facts.is_public)


def _paged(ctx: Ctx, page: RepoPage, items: list[dict[str, object]]) -> Response:
    body: dict[str, object] = {"repositories": items}
    if page.next_after_id is not None:
        body["next_page"] = page_token(ctx.api, page.next_after_id)
    return json_response(body)


# ----------------------------------------------------------------------------- handlers


async def create_repository(ctx: Ctx) -> Response:
    body = await ctx.body(NEW_REPO)
    user = ctx.caller.user
    if user is None:
        raise invalid_request(NO_CALLER)
    repo = RepoName(body.get("namespace", user.username), body["repository"])
    principal = caller_principal(ctx)
    if not await may_create_repo(ctx, repo, principal):
        raise forbidden()
    kind = body.get("repo_kind") or "image"
    with quay_errors():  # Repository already exists, Invalid repository name: 400
        await ctx.api.svc.repos.create(
            repo,
            creator=principal,
            description=body["description"],
            public=body["visibility"] == "public",
            kind=kind,
            extended_names=ctx.api.settings.api.extended_repository_names,
            ip=ctx.actor_ip,
        )
    return json_response({"namespace": repo.namespace, "name": repo.name, "kind": kind}, 201)


async def list_repositories(ctx: Ctx) -> Response:
    namespace = ctx.query("namespace") or None
    starred = ctx.query_bool("starred")
    public = ctx.query_bool("public")
    if not (namespace or starred or public):
        raise invalid_request(NAMESPACE_REQUIRED)
    if starred and ctx.caller.user is None:
        raise MessageError(400, BAD_REQUEST_MESSAGE)
    query = ListQuery(
        namespace=namespace,
        starred=starred,
        public=public,
        kind=ctx.query("repo_kind") or "image",
        last_modified=ctx.query_bool("last_modified"),
        popularity=ctx.query_bool("popularity"),
        after_id=page_start(ctx.api, ctx.query("next_page")),
    )
    page = await ctx.api.svc.repos.list_repositories(list_viewer(ctx), query)
    quota_report = ctx.api.settings.quotas.management or ctx.query_bool("quota")
    configured: dict[str, int | None] = {}
    if quota_report and page.repositories:
        overview = await ctx.api.svc.quotas.overview({r.namespace for r in page.repositories})
        configured = {ns: report.configured_quota for ns, (_, report) in overview.items()}
    items = [
        repository_item(
            r,
            last_modified=query.last_modified,
            popularity=query.popularity,
            with_star=ctx.caller.user is not None,
            quota_report=quota_report,
            configured_quota=configured.get(r.namespace),
        )
        for r in page.repositories
    ]
    return _paged(ctx, page, items)


async def get_repository(ctx: Ctx) -> Response:
    access = (await require_repo(ctx, RepoRole.READ)).require_exists()
    user = ctx.caller.user
    with quay_errors():
        detail = await ctx.api.svc.repos.get(
            access.repo,
            viewer_id=user.id if user else None,
            include_tags=ctx.query_bool("includeTags", True),
            include_stats=ctx.query_bool("includeStats"),
        )
    view = repository_view(
        detail,
        can_write=access.can_write and RepositoryState(detail.state).accepts_pushes,
        can_admin=access.can_admin,
    )
    if quotas_shown(ctx.api.settings):
        overview = await ctx.api.svc.quotas.overview([detail.namespace])
        report = overview.get(detail.namespace)
        view["quota_report"] = {
            "quota_bytes": detail.size_bytes,
            "configured_quota": report[1].configured_quota if report else None,
        }
    return json_response(view)


async def update_repository(ctx: Ctx) -> Response:
    access = await require_repo(ctx, RepoRole.WRITE)
    body = await ctx.body(REPO_UPDATE)
    access.require_exists()
    with quay_errors():
        await ctx.api.svc.repos.set_description(
            access.repo, body["description"], performer=ctx.performer()
        )
    return json_response({"success": True})


async def delete_repository(ctx: Ctx) -> Response:
    """204 whether or not it existed (as Quay); the name is free at once."""
    access = await require_repo(ctx, RepoRole.ADMIN)
    await ctx.api.svc.repos.delete(access.repo, performer=ctx.performer())
    return Response(status_code=204)


async def change_visibility(ctx: Ctx) -> Response:
    access = await require_repo(ctx, RepoRole.ADMIN)
    body = await ctx.body(CHANGE_VISIBILITY)
    access.require_exists()
    user = ctx.caller.user
    with quay_errors():
        await ctx.api.svc.permissions.set_visibility(
            access.repo,
            body["visibility"] == "public",
            performer=user.username if user else None,
            ip=ctx.actor_ip,
        )
    return json_response({"success": True})


async def change_state(ctx: Ctx) -> Response:
    access = await require_repo(ctx, RepoRole.ADMIN)
    body = await ctx.body(CHANGE_STATE)
    access.require_exists()
    with quay_errors():
        await ctx.api.svc.repos.set_state(access.repo, body["state"], performer=ctx.performer())
    return json_response({"success": True})


async def list_starred(ctx: Ctx) -> Response:
    ctx.require_user("user:admin")
    query = ListQuery(starred=True, kind=None, after_id=page_start(ctx.api, ctx.query("next_page")))
    page = await ctx.api.svc.repos.list_repositories(list_viewer(ctx), query)
    return _paged(ctx, page, [starred_item(r) for r in page.repositories])


async def star(ctx: Ctx) -> Response:
    """Idempotent; a repository the caller can't read is as missing (404)."""
    body = await ctx.body(NEW_STAR)
    user = ctx.require_user("user:admin")
    repo = RepoName(body["namespace"], body["repository"])
    if not _readable(await repository_access(ctx, repo)):
        raise not_found()
    with quay_errors():
        await ctx.api.svc.repos.star(user.id, repo)
    return json_response({"namespace": repo.namespace, "repository": repo.name}, 201)


async def unstar(ctx: Ctx) -> Response:
    """204 when a star went or the repository is readable (nothing to remove); else 404."""
    user = ctx.require_user("user:admin")
    repo = repo_name(ctx)
    access = await repository_access(ctx, repo)
    with quay_errors():
        removed = await ctx.api.svc.repos.unstar(user.id, repo)
    if not removed and not _readable(access):
        raise not_found()
    return Response(status_code=204)


# ------------------------------------------------------------------------------- routes


def routes(api: ApiApp) -> list[ApiRoute]:
    tag = "repository"
    return [
        ApiRoute(
            "POST",
            "/repository",
            create_repository,
            "Create a new repository.",
            tag=tag,
            body=NEW_REPO,
            body_name="NewRepo",
            scopes=("repo:create",),
        ),
        ApiRoute(
            "GET",
            "/repository",
            list_repositories,
            "Fetch the list of repositories visible to the current user under a variety of "
            "situations.",
            tag=tag,
            scopes=("repo:read",),
            query=(
                Param("namespace", "string", "Filters the repositories returned to this namespace"),
                Param(
                    "starred",
                    "boolean",
                    "Filters the repositories returned to those starred by the user",
                ),
                Param(
                    "public",
                    "boolean",
                    "Adds any repositories visible to the user by virtue of being public",
                ),
                Param(
                    "last_modified",
                    "boolean",
                    "Whether to include when the repository was last modified.",
                ),
                Param(
                    "popularity",
                    "boolean",
                    "Whether to include the popularity metric (pulls in the last 7 days).",
                ),
                Param(
                    "quota",
                    "boolean",
                    "Whether to include quota_report (always with FEATURE_QUOTA_MANAGEMENT).",
                ),
                Param("repo_kind", "string", "The kind of repositories to return"),
                Param("next_page", "string", "The page token for the next page"),
            ),
        ),
        ApiRoute(
            "GET",
            "/repository/{repository}",
            get_repository,
            "Fetch the specified repository.",
            tag=tag,
            scopes=("repo:read",),
            query=(
                Param("includeStats", "boolean", "Whether to include action statistics"),
                Param("includeTags", "boolean", "Whether to include repository tags"),
            ),
        ),
        ApiRoute(
            "PUT",
            "/repository/{repository}",
            update_repository,
            "Update the description in the specified repository.",
            tag=tag,
            body=REPO_UPDATE,
            body_name="RepoUpdate",
            scopes=("repo:write",),
        ),
        ApiRoute(
            "DELETE",
            "/repository/{repository}",
            delete_repository,
            "Delete a repository.",
            tag=tag,
            scopes=("repo:admin",),
        ),
        ApiRoute(
            "POST",
            "/repository/{repository}/changevisibility",
            change_visibility,
            "Change the visibility of a repository.",
            tag=tag,
            body=CHANGE_VISIBILITY,
            body_name="ChangeVisibility",
            scopes=("repo:admin",),
        ),
        ApiRoute(
            "PUT",
            "/repository/{repository}/changestate",
            change_state,
            "Change the state of a repository.",
            tag=tag,
            body=CHANGE_STATE,
            body_name="ChangeRepoState",
            scopes=("repo:admin",),
            enabled=api.settings.api.repo_mirror,
        ),
        ApiRoute(
            "GET",
            "/user/starred",
            list_starred,
            "List all starred repositories.",
            tag="user",
            scopes=("user:admin",),
            query=(Param("next_page", "string", "The page token for the next page"),),
        ),
        ApiRoute(
            "POST",
            "/user/starred",
            star,
            "Star a repository.",
            tag="user",
            body=NEW_STAR,
            body_name="NewStarredRepository",
            scopes=("repo:read",),
        ),
        ApiRoute(
            "DELETE",
            "/user/starred/{repository}",
            unstar,
            "Removes a star from a repository.",
            tag="user",
            scopes=("user:admin",),
        ),
    ]
