"""FEATURE_ASSIGN_OAUTH_TOKEN: an organization admin assigns an OAuth token of one of its
applications to a user (``POST /oauth/authorize/assignuser``, what Ansible's
``quay_api_token`` does with ``for_user``); the user lists the assignments
(``GET /api/v1/user/assignedauthorization``) and authorizes one through
``POST /oauth/authorizeapp`` with its ``assignment_uuid`` (the token is then theirs), or
deletes it."""

from __future__ import annotations

from starlette.responses import Response

from berth.http.api.v1.errors import (
    AbortError,
    MessageError,
    json_response,
    not_found,
    requires_auth,
)
from berth.http.api.v1.formats import avatar
from berth.http.api.v1.framework import ApiApp, ApiRoute, Ctx
from berth.oauth.errors import ApplicationNotFound
from berth.oauth.services import SCOPES, AssignedToken, parse_scopes


async def assign_user(ctx: Ctx) -> Response:
    user = ctx.caller.user
    if user is None or ctx.caller.kind != "session" or user.kind != "user":
        raise requires_auth()
    await ctx.verify_csrf()
    form = {**(await ctx.form()), **dict(ctx.request.query_params)}
    try:
        app = await ctx.api.oauth.get_application(form.get("client_id", ""))
    except ApplicationNotFound as e:
        raise MessageError(404, "Cannot find application") from e
    if not await ctx.api.is_namespace_admin(user, app.namespace):
        raise AbortError(403, "Unauthorized")
    target = await ctx.api.accounts.get_user(form.get("username", ""))
    if target is None or target.kind != "user":
        raise MessageError(404, "Cannot find user")
    scope = form.get("scope", "")
    if not parse_scopes(scope):
        raise MessageError(400, "Invalid scope")
    if form.get("response_type", "token") != "token":
        raise MessageError(400, "Unsupported response_type (only token)")
    await ctx.api.oauth.assign_token(
        app,
        target.id,
        redirect_uri=form.get("redirect_uri", ""),
        scope=scope,
        response_type="token",
    )
    if form.get("format") == "json":
        return json_response({"message": "Token assigned successfully"})
    return Response(
        "<!doctype html><title>Token assigned</title><p>Token assigned successfully.</p>",
        media_type="text/html",
    )


def _view(t: AssignedToken) -> dict[str, object]:
    app = t.application
    return {
        "uuid": t.uuid,
        "application": {
            "name": app.name,
            "clientId": app.client_id,
            "description": app.description,
            "url": app.application_uri,
            "avatar": avatar(app.name, app.avatar_email, "app"),
            "organization": {"name": app.namespace, "avatar": avatar(app.namespace, None, "org")},
        },
        "redirectUri": t.redirect_uri,
        "scopes": [{"scope": s, "description": SCOPES[s]} for s in sorted(parse_scopes(t.scope))],
        "responseType": t.response_type,
    }


async def list_assigned(ctx: Ctx) -> Response:
    user = ctx.require_user("user:admin")
    found = await ctx.api.oauth.assigned_tokens(user.id)
    return json_response({"authorizations": [_view(t) for t in found]})


async def delete_assigned(ctx: Ctx) -> Response:
    user = ctx.require_user("user:admin")
    if not await ctx.api.oauth.delete_assigned_token(user.id, ctx.params["uuid"]):
        raise not_found()
    return Response(status_code=204)


def routes(api: ApiApp) -> list[ApiRoute]:
    enabled = api.settings.api.assign_oauth_token
    return [
        ApiRoute(
            "POST", "/oauth/authorize/assignuser", assign_user,
            prefix="", csrf=False, oauth=False, enabled=enabled,
        ),
        ApiRoute(
            "GET", "/user/assignedauthorization", list_assigned,
            "List the OAuth tokens assigned to the user.", tag="user", internal=True,
            scopes=("user:admin",), enabled=enabled,
        ),
        ApiRoute(
            "DELETE", "/user/assignedauthorization/{uuid}", delete_assigned,
            "Delete an OAuth token assigned to the user.", tag="user", internal=True,
            scopes=("user:admin",), enabled=enabled,
        ),
    ]  # fmt: skip
