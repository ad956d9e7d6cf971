"""Repository permissions of users, robots and teams (``/repository/{r}/permissions/...``),
for repository admins (Quay's ``require_repo_admin``: permission before existence).

Quay's error shapes kept: a missing permission is 400 ``{"message"}`` on GET but 400
``invalid_request`` on DELETE; an unknown user, a foreign robot, an unknown team and the
namespace owner (``Namespace owner must always be admin.``) are 400 ``invalid_request``;
the transitive view of a user without any role is 404.
"""

from __future__ import annotations

from starlette.responses import Response

from berth.http.api.v1.errors import json_response, not_found
from berth.http.api.v1.framework import ApiApp, ApiRoute, Ctx
from berth.http.api.v1.orgaccess import quay_errors
from berth.http.api.v1.permission_views import team_permission_view, user_permission_view
from berth.http.api.v1.repoaccess import require_repo
from berth.permissions.errors import PermissionNotFound
from berth.registry.repositories import RepoName

ROLE_BODY = {
    "type": "object",
    "required": ["role"],
    "properties": {
        "role": {
            "type": "string",
            "description": "Role to use",
            "enum": ["read", "write", "admin"],
        },
    },
}


async def _admin_repo(ctx: Ctx) -> tuple[RepoName, str]:
    """The repository (404 when missing, after the permission check) and the performer."""
    access = (await require_repo(ctx, "admin")).require_exists()
    assert ctx.caller.user is not None
    return access.repo, ctx.caller.user.username


# ---- users and robots ----------------------------------------------------------------
async def list_user_permissions(ctx: Ctx) -> Response:
    repo, _ = await _admin_repo(ctx)
    with quay_errors():
        perms = await ctx.api.svc.permissions.list_user_permissions(repo)
    return json_response({"permissions": {p.name: user_permission_view(p) for p in perms}})


async def get_user_permission(ctx: Ctx) -> Response:
    repo, _ = await _admin_repo(ctx)
    with quay_errors(as_message=(PermissionNotFound,)):
        perm = await ctx.api.svc.permissions.get_user_permission(repo, ctx.params["username"])
    return json_response(user_permission_view(perm))


async def get_user_transitive_permission(ctx: Ctx) -> Response:
    repo, _ = await _admin_repo(ctx)
    with quay_errors():
        roles = await ctx.api.svc.permissions.user_repository_roles(repo, ctx.params["username"])
    if not roles:
        raise not_found()
    return json_response({"permissions": [{"role": role} for role in roles]})


async def set_user_permission(ctx: Ctx) -> Response:
    repo, performer = await _admin_repo(ctx)
    body = await ctx.body(ROLE_BODY)
    with quay_errors():
        perm = await ctx.api.svc.permissions.set_user_permission(
            repo, ctx.params["username"], body["role"], performer=performer, ip=ctx.actor_ip
        )
    return json_response(user_permission_view(perm))


async def delete_user_permission(ctx: Ctx) -> Response:
    repo, performer = await _admin_repo(ctx)
    with quay_errors():
        await ctx.api.svc.permissions.delete_user_permission(
            repo, ctx.params["username"], performer=performer, ip=ctx.actor_ip
        )
    return Response(status_code=204)


# ---- teams ---------------------------------------------------------------------------
async def list_team_permissions(ctx: Ctx) -> Response:
    repo, _ = await _admin_repo(ctx)
    with quay_errors():
        perms = await ctx.api.svc.permissions.list_team_permissions(repo)
    return json_response({"permissions": {p.name: team_permission_view(p) for p in perms}})


async def get_team_permission(ctx: Ctx) -> Response:
    repo, _ = await _admin_repo(ctx)
    with quay_errors(as_message=(PermissionNotFound,)):
        perm = await ctx.api.svc.permissions.get_team_permission(repo, ctx.params["teamname"])
    return json_response({"role": perm.role})


async def set_team_permission(ctx: Ctx) -> Response:
    repo, performer = await _admin_repo(ctx)
    body = await ctx.body(ROLE_BODY)
    with quay_errors():
        perm = await ctx.api.svc.permissions.set_team_permission(
            repo, ctx.params["teamname"], body["role"], performer=performer, ip=ctx.actor_ip
        )
    return json_response(team_permission_view(perm))


async def delete_team_permission(ctx: Ctx) -> Response:
    repo, performer = await _admin_repo(ctx)
    with quay_errors():
        await ctx.api.svc.permissions.delete_team_permission(
            repo, ctx.params["teamname"], performer=performer, ip=ctx.actor_ip
        )
    return Response(status_code=204)


def routes(api: ApiApp) -> list[ApiRoute]:
    base = "/repository/{repository}/permissions"
    user, team = base + "/user/{username}", base + "/team/{teamname}"
    sc = ("repo:admin",)
    return [
        ApiRoute(
            "GET", base + "/user/", list_user_permissions, "List all user permissions.",
            tag="permission", scopes=sc,
        ),
        ApiRoute(
            "GET", user + "/transitive", get_user_transitive_permission,
            "Get the permissions of the specified user on the repository, directly or "
            "through its teams.", tag="permission", scopes=sc,
        ),
        ApiRoute(
            "GET", user, get_user_permission, "Get the permission for the specified user.",
            tag="permission", scopes=sc,
        ),
        ApiRoute(
            "PUT", user, set_user_permission, "Update the permissions for an existing repository.",
            tag="permission", scopes=sc, body=ROLE_BODY, body_name="UserPermission",
        ),
        ApiRoute(
            "DELETE", user, delete_user_permission, "Delete the permission for the user.",
            tag="permission", scopes=sc,
        ),
        ApiRoute(
            "GET", base + "/team/", list_team_permissions, "List all team permission.",
            tag="permission", scopes=sc,
        ),
        ApiRoute(
            "GET", team, get_team_permission, "Fetch the permission for the specified team.",
            tag="permission", scopes=sc,
        ),
        ApiRoute(
            "PUT", team, set_team_permission, "Update the existing team permission.",
            tag="permission", scopes=sc, body=ROLE_BODY, body_name="TeamPermission",
        ),
        ApiRoute(
            "DELETE", team, delete_team_permission,
            "Delete the permission for the specified team.", tag="permission", scopes=sc,
        ),
    ]  # fmt: skip
