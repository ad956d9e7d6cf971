"""Repository permissions of users, robots and teams (``/repository/{r}/permissions/...``),
for repository admins (Quay's ``require_repo_admin``: permission before existence).

Quay's error shapes kept: a missing permission is 400 ``{"message"}`` on GET but 400
``invalid_request`` on DELETE; an unknown user, a foreign robot, an unknown team and the
namespace owner (``Namespace owner must always be admin.``) are 400 ``invalid_request``;
the transitive view of a user without any role is 404.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from starlette.responses import Response

from berth.authz import RepoRole
from berth.http.api.v1.errors import json_response, not_found, quay_errors
from berth.http.api.v1.framework import ApiApp, ApiRoute, Ctx, Handler
from berth.http.api.v1.identity.permission_serializers import (
    team_permission_view,
    user_permission_view,
)
from berth.http.api.v1.repos.access import require_repo
from berth.identity.errors import PermissionNotFound
from berth.registry.repositories import RepoName

T = TypeVar("T")

ROLE_BODY = {
    "type": "object",
    "required": ["role"],
    "properties": {
        "role": {
            "type": "string",
            "description": "Role to use",
            "enum": [role.value for role in RepoRole],
        },
    },
}


async def _admin_repo(ctx: Ctx) -> tuple[RepoName, str]:
    """The repository (404 when missing, after the permission check) and the performer."""
    access = (await require_repo(ctx, RepoRole.ADMIN)).require_exists()
    assert ctx.caller.user is not None
    return access.repo, ctx.caller.user.username


# ---- users and robots ----------------------------------------------------------------
async def list_user_permissions(ctx: Ctx) -> Response:
    perms = await _read(ctx, ctx.api.svc.permissions.list_user_permissions)
    return json_response({"permissions": {p.name: user_permission_view(p) for p in perms}})


async def get_user_permission(ctx: Ctx) -> Response:
    perm = await _read(ctx, ctx.api.svc.permissions.get_user_permission, "username")
    return json_response(user_permission_view(perm))


async def get_user_transitive_permission(ctx: Ctx) -> Response:
    roles = await _read(ctx, ctx.api.svc.permissions.user_repository_roles, "username")
    if not roles:
        raise not_found()
    return json_response({"permissions": [{"role": role} for role in roles]})


async def set_user_permission(ctx: Ctx) -> Response:
    perm = await _grant(ctx, ctx.api.svc.permissions.set_user_permission, "username")
    return json_response(user_permission_view(perm))


async def delete_user_permission(ctx: Ctx) -> Response:
    return await _revoke(ctx, ctx.api.svc.permissions.delete_user_permission, "username")


# ---- teams ---------------------------------------------------------------------------
async def list_team_permissions(ctx: Ctx) -> Response:
    perms = await _read(ctx, ctx.api.svc.permissions.list_team_permissions)
    return json_response({"permissions": {p.name: team_permission_view(p) for p in perms}})


async def get_team_permission(ctx: Ctx) -> Response:
    perm = await _read(ctx, ctx.api.svc.permissions.get_team_permission, "teamname")
    return json_response({"role": perm.role})


async def set_team_permission(ctx: Ctx) -> Response:
    perm = await _grant(ctx, ctx.api.svc.permissions.set_team_permission, "teamname")
    return json_response(team_permission_view(perm))


async def delete_team_permission(ctx: Ctx) -> Response:
    return await _revoke(ctx, ctx.api.svc.permissions.delete_team_permission, "teamname")


# ---- the same steps for users and teams ----------------------------------------------
async def _read(ctx: Ctx, fetch: Callable[..., Awaitable[T]], param: str | None = None) -> T:
    """``fetch`` (repository, then the path parameter ``param`` if any); a missing
    permission is a model error escaping Quay's handler: 400 ``{"message"}``."""
    repo, _ = await _admin_repo(ctx)
    args = (ctx.params[param],) if param else ()
    with quay_errors(as_message=(PermissionNotFound,)):
        return await fetch(repo, *args)


async def _grant(ctx: Ctx, grant: Callable[..., Awaitable[T]], param: str) -> T:
    """PUT ``{"role"}`` for the user or team named by the path parameter ``param``."""
    repo, performer = await _admin_repo(ctx)
    body = await ctx.body(ROLE_BODY)
    with quay_errors():
        return await grant(
            repo, ctx.params[param], body["role"], performer=performer, ip=ctx.actor_ip
        )


async def _revoke(ctx: Ctx, revoke: Callable[..., Awaitable[None]], param: str) -> Response:
    repo, performer = await _admin_repo(ctx)
    with quay_errors():
        await revoke(repo, ctx.params[param], performer=performer, ip=ctx.actor_ip)
    return Response(status_code=204)


def routes(api: ApiApp) -> list[ApiRoute]:
    def route(method: str, path: str, handler: Handler, summary: str, **kw: Any) -> ApiRoute:
        return ApiRoute(
            method, "/repository/{repository}/permissions" + path, handler, summary,
            tag="permission", scopes=("repo:admin",), **kw,
        )  # fmt: skip

    user, team = "/user/{username}", "/team/{teamname}"
    return [
        route("GET", "/user/", list_user_permissions, "List all user permissions."),
        route(
            "GET", user + "/transitive", get_user_transitive_permission,
            "Get the roles of the specified user on the repository, directly or through "
            "its teams.",
        ),
        route("GET", user, get_user_permission, "Get the permission for the specified user."),
        route(
            "PUT", user, set_user_permission, "Update the permissions for an existing repository.",
            body=ROLE_BODY, body_name="UserPermission",
        ),
        route("DELETE", user, delete_user_permission, "Delete the permission for the user."),
        route("GET", "/team/", list_team_permissions, "List all team permission."),
        route("GET", team, get_team_permission, "Fetch the permission for the specified team."),
        route(
            "PUT", team, set_team_permission, "Update the existing team permission.",
            body=ROLE_BODY, body_name="TeamPermission",
        ),
        route(
            "DELETE", team, delete_team_permission, "Delete the permission for the specified team."
        ),
    ]  # fmt: skip
