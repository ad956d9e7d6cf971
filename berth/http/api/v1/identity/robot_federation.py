"""Robot identity federation (Quay 3.13+): the robots' ``federation`` routes, and the token
exchange ``GET /oauth2/federation/robot/token`` (berth/auth/federation.py)."""

from __future__ import annotations

import orjson
from starlette.responses import Response

from berth.auth.errors import InvalidCredentials
from berth.http.api.v1.errors import (
    BAD_REQUEST_MESSAGE,
    MessageError,
    invalid_request,
    json_response,
    quay_errors,
)
from berth.http.api.v1.framework import ApiApp, ApiRoute, Ctx
from berth.http.api.v1.identity.robots import _admin_namespace, _short
from berth.identity.errors import RobotNotFound
from berth.identity.robots import InvalidFederation, parse_federation

FEDERATION = {
    "type": "array",
    "description": "Federation configuration for the robot",
    "items": {
        "type": "object",
        "required": ["issuer", "subject"],
        "properties": {
            "issuer": {"type": "string", "description": "The issuer URL of the OIDC provider"},
            "subject": {"type": "string", "description": "The subject of the token"},
        },
    },
}


async def get_federation(ctx: Ctx) -> Response:
    namespace, _ = await _admin_namespace(ctx)
    with quay_errors(as_message=(RobotNotFound,)):
        entries = await ctx.api.svc.robots.federation(namespace, _short(ctx))
    return json_response(entries)


async def set_federation(ctx: Ctx) -> Response:
    namespace, performer = await _admin_namespace(ctx)
    raw = await ctx.request.body()
    try:
        body = orjson.loads(raw) if raw.strip() else None
    except orjson.JSONDecodeError as e:
        raise MessageError(400, BAD_REQUEST_MESSAGE) from e
    try:
        entries = parse_federation(body)
    except InvalidFederation as e:
        raise invalid_request(str(e)) from e
    with quay_errors(as_message=(RobotNotFound,)):
        stored = await ctx.api.svc.robots.set_federation(
            namespace, _short(ctx), entries, performer=performer, ip=ctx.actor_ip
        )
    return json_response(stored)


async def delete_federation(ctx: Ctx) -> Response:
    namespace, performer = await _admin_namespace(ctx)
    with quay_errors(as_message=(RobotNotFound,)):
        await ctx.api.svc.robots.delete_federation(
            namespace, _short(ctx), performer=performer, ip=ctx.actor_ip
        )
    return Response(status_code=204)


async def robot_token(ctx: Ctx) -> Response:
    """Basic ``ns+robot : <external OIDC JWT>`` -> ``{"token": ...}``; 401 ``{"error"}``."""
    header = ctx.request.headers.get("authorization", "")
    exchange = ctx.api.svc.federation
    if not header.lower().startswith("basic ") or exchange is None:
        return json_response({"error": "missing auth"}, 401)
    try:
        username, token = ctx.api.svc.auth.parse_basic(header)
        if "+" not in username:
            raise InvalidCredentials("Robot account not found")
        issued = await exchange.exchange(username, token, ip=ctx.actor_ip)
    except InvalidCredentials as e:
        return json_response({"error": e.reason}, 401)
    return json_response({"token": issued})


def routes(api: ApiApp) -> list[ApiRoute]:
    out: list[ApiRoute] = [
        ApiRoute(
            "GET", "/oauth2/federation/robot/token", robot_token,
            prefix="", csrf=False, oauth=False,
        ),
    ]  # fmt: skip
    for base, scope, whose in (
        ("/user/robots/{robot_shortname}/federation", "user:admin", "the user's"),
        ("/organization/{orgname}/robots/{robot_shortname}/federation", "org:admin", "the org's"),
    ):
        sc = (scope,)
        out += [
            ApiRoute(
                "GET", base, get_federation,
                f"Returns the federation configuration for {whose} robot.", tag="robot",
                scopes=sc,
            ),
            ApiRoute(
                "POST", base, set_federation,
                f"Create or update federation configuration for {whose} robot.", tag="robot",
                scopes=sc, body=FEDERATION, body_name="CreateRobotFederation",
            ),
            ApiRoute(
                "DELETE", base, delete_federation,
                f"Delete federation configuration for {whose} robot.", tag="robot", scopes=sc,
            ),
        ]  # fmt: skip
    return out
