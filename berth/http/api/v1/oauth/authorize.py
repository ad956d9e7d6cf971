"""Routes outside the API blueprint that clients depend on: ``/csrf_token`` and the OAuth
implicit grant ``POST /oauth/authorizeapp`` (the Ansible collection scrapes its 302)."""

from __future__ import annotations

import urllib.parse

from starlette.responses import Response

from berth.http.api.v1.errors import AbortError, MessageError, json_response, requires_auth
from berth.http.api.v1.framework import ApiApp, ApiRoute, Ctx
from berth.oauth.errors import ApplicationNotFound
from berth.oauth.services import parse_scopes

IMPLICIT_TOKEN_TTL_S = 315576000  # ten years, as Quay's "Generate Token"


async def csrf_token(ctx: Ctx) -> Response:
    return json_response({"csrf_token": ctx.ensure_session().csrf})


def _redirect_allowed(api: ApiApp, registered: str, wanted: str) -> bool:
    local = f"{api.base_url}/oauth/localapp"
    if wanted == local or wanted.startswith(local + "?"):
        return True
    return bool(registered) and wanted.startswith(registered)


async def authorize_app(ctx: Ctx) -> Response:
    user = ctx.caller.user
    if user is None or ctx.caller.kind != "session" or user.kind != "user":
        raise requires_auth()
    await ctx.verify_csrf()
    form = await ctx.form()
    client_id = form.get("client_id", "")
    redirect_uri = form.get("redirect_uri", "")
    response_type = form.get("response_type", "")
    scope = form.get("scope", "")
    try:
        app = await ctx.api.oauth.get_application(client_id)
    except ApplicationNotFound as e:
        raise MessageError(404, "Cannot find application") from e
    assignment = form.get("assignment_uuid")
    if assignment:
        # FEATURE_ASSIGN_OAUTH_TOKEN: the user authorizes a token an admin assigned to it
        assigned = {t.uuid: t for t in await ctx.api.oauth.assigned_tokens(user.id)}.get(assignment)
        if assigned is None or assigned.application.client_id != app.client_id:
            raise AbortError(403, "Unauthorized")
        scope = assigned.scope
        if not redirect_uri:
            redirect_uri = assigned.redirect_uri
    elif not await ctx.api.is_namespace_admin(user, app.namespace):
        raise AbortError(403, "Unauthorized")
    if not _redirect_allowed(ctx.api, app.redirect_uri, redirect_uri):
        raise MessageError(400, "Invalid redirect_uri")
    scopes = parse_scopes(scope)
    if not scopes:
        raise MessageError(400, "Invalid scope")
    if response_type != "token":
        raise MessageError(400, "Unsupported response_type (only token)")
    issued = await ctx.api.oauth.issue_token(app, user.id, scopes, IMPLICIT_TOKEN_TTL_S)
    if assignment:
        await ctx.api.oauth.delete_assigned_token(user.id, assignment)
    params = {"scope": scope}
    if form.get("state"):
        params["state"] = form["state"]
    sep = "&" if "?" in redirect_uri else "?"
    fragment = urllib.parse.urlencode(
        {
            "access_token": issued.token,
            "token_type": "Bearer",
            "expires_in": str(IMPLICIT_TOKEN_TTL_S),
        }
    )
    location = f"{redirect_uri}{sep}{urllib.parse.urlencode(params)}#{fragment}"
    return Response(status_code=302, headers={"Location": location})


async def local_app(ctx: Ctx) -> Response:
    """Landing page of locally generated tokens (the token travels in the fragment)."""
    return Response(
        "<!doctype html><title>Token generated</title>"
        "<p>The access token is in this page's URL fragment.</p>",
        media_type="text/html",
    )


def routes(api: ApiApp) -> list[ApiRoute]:
    return [
        ApiRoute("GET", "/csrf_token", csrf_token, prefix="", csrf=False, oauth=False),
        ApiRoute("POST", "/oauth/authorizeapp", authorize_app, prefix="", csrf=False, oauth=False),
        ApiRoute("GET", "/oauth/localapp", local_app, prefix="", csrf=False, oauth=False),
    ]
