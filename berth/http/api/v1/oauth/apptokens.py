"""``/user/apptoken``: app-specific tokens (docker password with the username ``$app``)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from berth.http.api.v1.errors import json_response, not_found
from berth.http.api.v1.formats import format_date
from berth.http.api.v1.framework import ApiApp, ApiRoute, Ctx, Param
from berth.oauth.errors import AppTokenNotFound
from berth.oauth.services import AppToken

EXPIRING_SOON_S = 7 * 86400

NEW_TOKEN = {
    "type": "object",
    "required": ["title"],
    "properties": {"title": {"type": "string"}},
}


def app_token_view(token: AppToken, *, with_code: bool = False) -> dict[str, Any]:
    view = {
        "uuid": token.uuid,
        "title": token.title,
        "last_accessed": format_date(token.last_accessed),
        "created": format_date(token.created_at),
        "expiration": format_date(token.expires_at),
    }
    if with_code:
        view["token_code"] = token.token_code
    return view


async def list_tokens(ctx: Ctx) -> Response:
    user = ctx.require_user("user:admin")
    expiring = ctx.query_bool("expiring", False)
    tokens = await ctx.api.oauth.list_app_tokens(
        user.id, expiring_within_s=EXPIRING_SOON_S if expiring else None
    )
    return json_response({"tokens": [app_token_view(t) for t in tokens], "only_expiring": expiring})


async def create_token(ctx: Ctx) -> Response:
    user = ctx.require_user("user:admin")
    ctx.require_fresh_login()
    body = await ctx.body(NEW_TOKEN)
    token = await ctx.api.oauth.create_app_token(
        user.id,
        body["title"],
        expires_in_s=ctx.api.settings.auth.app_specific_token_expiration_s,
        performer=ctx.performer(),
    )
    return json_response({"token": app_token_view(token, with_code=True)})


async def get_token(ctx: Ctx) -> Response:
    user = ctx.require_user("user:admin")
    ctx.require_fresh_login()
    try:
        token = await ctx.api.oauth.get_app_token(user.id, ctx.params["token_uuid"])
    except AppTokenNotFound as e:
        raise not_found() from e
    return json_response({"token": app_token_view(token, with_code=True)})


async def revoke_token(ctx: Ctx) -> Response:
    user = ctx.require_user("user:admin")
    ctx.require_fresh_login()
    try:
        await ctx.api.oauth.revoke_app_token(
            user.id, ctx.params["token_uuid"], performer=ctx.performer()
        )
    except AppTokenNotFound as e:
        raise not_found() from e
    return Response(status_code=204)


def routes(api: ApiApp) -> list[ApiRoute]:
    if not api.settings.auth.app_specific_tokens:
        return []
    sc = ("user:admin",)
    return [
        ApiRoute(
            "GET",
            "/user/apptoken",
            list_tokens,
            "Lists the app specific tokens for the user.",
            tag="appspecifictokens",
            scopes=sc,
            query=(
                Param("expiring", "boolean", "If true, only returns those tokens expiring soon"),
            ),
        ),
        ApiRoute(
            "POST",
            "/user/apptoken",
            create_token,
            "Create a new app specific token for user.",
            tag="appspecifictokens",
            scopes=sc,
            body=NEW_TOKEN,
            body_name="NewToken",
        ),
        ApiRoute(
            "GET",
            "/user/apptoken/{token_uuid}",
            get_token,
            "Returns a specific app token for the user.",
            tag="appspecifictokens",
            scopes=sc,
        ),
        ApiRoute(
            "DELETE",
            "/user/apptoken/{token_uuid}",
            revoke_token,
            "Revokes a specific app token for the user.",
            tag="appspecifictokens",
            scopes=sc,
        ),
    ]
