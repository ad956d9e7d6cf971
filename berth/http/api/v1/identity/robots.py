"""Robot accounts of the caller (``/user/robots``) and of organizations
(``/organization/{orgname}/robots``): list, get, create, delete, permissions, regenerate, plus
Berth's ``.../credentials`` (the credential formats of Quay's UI).

Quay's quirks kept: an unknown robot is 400 ``{"message"}``; create answers 201 and takes an
optional body; regenerate is POST only (PUT: 405); organization members may list robots, tokens
and permissions are for admins. Robot federation (Quay 3.15+) is not offered.
"""

from __future__ import annotations

from starlette.responses import Response

from berth.http.api.v1.errors import MessageError, json_response, quay_errors, unauthorized
from berth.http.api.v1.framework import ApiApp, ApiRoute, Ctx, Param
from berth.http.api.v1.identity.access import org_standing, require_org_admin
from berth.http.api.v1.identity.permission_serializers import (
    robot_credentials_view,
    robot_permission_view,
    robot_view,
    robot_with_permissions_view,
)
from berth.identity.errors import RobotNotFound
from berth.identity.robots import RobotInfo, credential_formats

# Werkzeug's description of a bare 403 (Quay's org robot permissions use ``abort(403)``).
FORBIDDEN_MESSAGE = (
    "You don't have the permission to access the requested resource. It is either "
    "read-protected or not readable by the server."
)

CREATE_ROBOT = {
    "type": "object",
    "description": "Optional data for creating a robot",
    "properties": {
        "description": {
            "type": "string",
            "description": "Optional text description for the robot",
            "maxLength": 255,
        },
        "unstructured_metadata": {
            "type": "object",
            "description": "Optional unstructured metadata for the robot",
        },
    },
}
LIST_QUERY = (
    Param(
        "permissions",
        "boolean",
        "Whether to include repositories and teams in which the robots have permission.",
    ),
    Param("token", "boolean", "If false, the robot's token is not returned."),
    Param("limit", "integer", "If specified, the number of robots to return."),
)


async def _admin_namespace(ctx: Ctx) -> tuple[str, str]:
    """(namespace, performer): the caller's own namespace on ``/user/robots`` routes (needs
    ``user:admin``), the path's organization on the others (needs its administration)."""
    org = ctx.params.get("orgname")
    if org is None:
        user = ctx.require_user("user:admin")
        return user.username, user.username
    return org, (await require_org_admin(ctx, org)).username


def _short(ctx: Ctx) -> str:
    return ctx.params["robot_shortname"]


def _robots_view(robots: list[RobotInfo], *, token: bool, permissions: bool) -> Response:
    if permissions:
        views = [robot_with_permissions_view(r, token=token) for r in robots]
    else:
        views = [robot_view(r, token=token) for r in robots]
    return json_response({"robots": views})


async def list_user_robots(ctx: Ctx) -> Response:
    user = ctx.require_user("user:admin")
    token, permissions = ctx.query_bool("token", True), ctx.query_bool("permissions")
    robots = await ctx.api.svc.robots.list(
        user.username, with_token=token, with_permissions=permissions, limit=ctx.query_int("limit")
    )
    return _robots_view(robots, token=token, permissions=permissions)


async def list_org_robots(ctx: Ctx) -> Response:
    """Members may list; tokens and permissions only for admins."""
    org = ctx.params["orgname"]
    standing = await org_standing(ctx, org)
    if not standing.is_member:
        raise unauthorized(ctx.caller.user is not None)
    token = standing.is_admin and ctx.query_bool("token", True)
    permissions = standing.is_admin and ctx.query_bool("permissions")
    with quay_errors():
        robots = await ctx.api.svc.robots.list(
            org, with_token=token, with_permissions=permissions, limit=ctx.query_int("limit")
        )
    return _robots_view(robots, token=token, permissions=permissions)


async def get_robot(ctx: Ctx) -> Response:
    namespace, _ = await _admin_namespace(ctx)
    with quay_errors(as_message=(RobotNotFound,)):
        robot = await ctx.api.svc.robots.get(namespace, _short(ctx))
    return json_response(robot_view(robot, token=True))


async def create_robot(ctx: Ctx) -> Response:
    namespace, performer = await _admin_namespace(ctx)
    body = await ctx.body(CREATE_ROBOT, optional=True)
    with quay_errors():
        robot = await ctx.api.svc.robots.create(
            namespace,
            _short(ctx),
            description=body.get("description") or "",
            unstructured_metadata=body.get("unstructured_metadata"),
            performer=performer,
            ip=ctx.actor_ip,
        )
    return json_response(robot_view(robot, token=True), 201)


async def delete_robot(ctx: Ctx) -> Response:
    namespace, performer = await _admin_namespace(ctx)
    with quay_errors(as_message=(RobotNotFound,)):
        await ctx.api.svc.robots.delete(
            namespace, _short(ctx), performer=performer, ip=ctx.actor_ip
        )
    return Response(status_code=204)


async def regenerate_robot(ctx: Ctx) -> Response:
    namespace, performer = await _admin_namespace(ctx)
    with quay_errors(as_message=(RobotNotFound,)):
        robot = await ctx.api.svc.robots.regenerate(
            namespace, _short(ctx), performer=performer, ip=ctx.actor_ip
        )
    return json_response(robot_view(robot, token=True, metadata=False))


async def robot_permissions(ctx: Ctx) -> Response:
    """Both variants need a ``user:admin`` token (Quay's ``require_user_admin``); the
    organization one answers a bare 403 to non-admins."""
    user = ctx.require_user("user:admin")
    namespace = ctx.params.get("orgname", user.username)
    if "orgname" in ctx.params and not (await org_standing(ctx, namespace)).is_admin:
        raise MessageError(403, FORBIDDEN_MESSAGE)
    with quay_errors(as_message=(RobotNotFound,)):
        perms = await ctx.api.svc.robots.permissions(namespace, _short(ctx))
    return json_response({"permissions": [robot_permission_view(p) for p in perms]})


async def robot_credentials(ctx: Ctx) -> Response:
    namespace, _ = await _admin_namespace(ctx)
    with quay_errors(as_message=(RobotNotFound,)):
        robot = await ctx.api.svc.robots.get(namespace, _short(ctx))
    assert robot.token is not None
    formats = credential_formats(robot.name, robot.token, ctx.api.settings.server_hostname)
    return json_response(robot_credentials_view(robot, formats))


def routes(api: ApiApp) -> list[ApiRoute]:
    out: list[ApiRoute] = []
    for base, scope, whose, list_robots in (
        ("/user/robots", "user:admin", "the user", list_user_robots),
        ("/organization/{orgname}/robots", "org:admin", "the organization", list_org_robots),
    ):
        one = base + "/{robot_shortname}"
        sc = (scope,)
        out += [
            ApiRoute(
                "GET",
                base,
                list_robots,
                f"List the robots of {whose}.",
                tag="robot",
                scopes=sc,
                query=LIST_QUERY,
            ),
            ApiRoute(
                "GET", one, get_robot, f"Returns {whose}'s robot with the specified name.",
                tag="robot", scopes=sc,
            ),
            ApiRoute(
                "PUT", one, create_robot, f"Create a new robot of {whose} (body optional).",
                tag="robot", scopes=sc, body=CREATE_ROBOT, body_name="CreateRobot",
            ),
            ApiRoute(
                "DELETE", one, delete_robot, f"Delete a robot of {whose}.", tag="robot",
                scopes=sc,
            ),
            ApiRoute(
                "GET", one + "/permissions", robot_permissions,
                f"Returns the list of repository permissions of {whose}'s robot.",
                tag="robot", scopes=("user:admin",),
            ),
            ApiRoute(
                "POST", one + "/regenerate", regenerate_robot,
                f"Regenerates the token of {whose}'s robot.", tag="robot", scopes=sc,
            ),
            ApiRoute(
                "GET", one + "/credentials", robot_credentials,
                f"Berth extension (not in Quay): ready-to-use credentials of {whose}'s robot "
                "(docker/podman login, Docker config.json, Kubernetes pull secret, rkt, Mesos).",
                tag="robot", scopes=sc,
            ),
        ]  # fmt: skip
    return out
