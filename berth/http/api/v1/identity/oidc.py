"""OpenID Connect sign-in: browser routes that redirect (Quay's ``/oauth2/<service>/...``).

``GET /oauth2/{service}/login[?redirect=/path]`` (the sign-in button's target) sends the
browser to the provider with a fresh ``state``, ``nonce`` and PKCE challenge, kept in an
encrypted, short-lived cookie; ``GET /oauth2/{service}/callback`` (the redirect URI to
register at the provider) checks the state, exchanges the code, validates the ID token,
creates or finds the account, signs the browser session in and redirects back. A refused
callback answers 403 with the reason, logs ``login_failure`` and signs nobody in.
``POST /api/v1/externallogin/{service}`` gives the same authorization URL as JSON
(``{"auth_url": ...}``, Quay's route for its UI).
"""

from __future__ import annotations

from typing import Any

import orjson
from cryptography.fernet import InvalidToken
from starlette.responses import Response

from berth.auth.oidc import OidcError, PendingLogin
from berth.auth.tokens import fernet_for
from berth.http.api.v1.errors import MessageError, json_response, not_found
from berth.http.api.v1.framework import ApiApp, ApiRoute, Ctx
from berth.identity.errors import AccountError

COOKIE = "berth_oidc"
PENDING_TTL_S = 600


def _fernet(ctx: Ctx) -> Any:
    return fernet_for("berth-oidc:" + ctx.api.settings.secret_key)


def _service(ctx: Ctx) -> Any:
    logins = ctx.api.svc.oidc
    service = logins.get(ctx.params["service"]) if logins is not None else None
    if service is None:
        raise not_found()
    return service


def _safe_redirect(value: str | None) -> str:
    """Only paths of this site (no scheme, no host, no ``//``)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


async def _start(ctx: Ctx) -> tuple[str, str]:
    service = _service(ctx)
    pending = PendingLogin.new(service.settings.service_id, _safe_redirect(ctx.query("redirect")))
    try:
        url = await service.authorization_url(pending)
    except OidcError as e:
        raise MessageError(503, str(e)) from e
    doc = {
        "s": pending.service_id,
        "st": pending.state,
        "n": pending.nonce,
        "v": pending.verifier,
        "r": pending.redirect,
    }
    return url, _fernet(ctx).encrypt(orjson.dumps(doc)).decode()


def _with_cookie(ctx: Ctx, response: Response, value: str) -> Response:
    response.set_cookie(
        COOKIE,
        value,
        max_age=PENDING_TTL_S,
        path="/oauth2/",
        secure=ctx.api.settings.url_scheme == "https",
        httponly=True,
        samesite="lax",
    )
    return response


async def login_redirect(ctx: Ctx) -> Response:
    url, cookie = await _start(ctx)
    return _with_cookie(ctx, Response(status_code=302, headers={"Location": url}), cookie)


async def external_login(ctx: Ctx) -> Response:
    url, cookie = await _start(ctx)
    return _with_cookie(ctx, json_response({"auth_url": url}), cookie)


def _pending(ctx: Ctx) -> PendingLogin | None:
    raw = ctx.request.cookies.get(COOKIE)
    if not raw:
        return None
    try:
        doc = orjson.loads(_fernet(ctx).decrypt(raw.encode(), ttl=PENDING_TTL_S))
        return PendingLogin(doc["s"], doc["st"], doc["n"], doc["v"], doc.get("r") or "/")
    except (InvalidToken, ValueError, KeyError, TypeError):
        return None


async def callback(ctx: Ctx) -> Response:
    service = _service(ctx)
    service_id = service.settings.service_id
    meta = {"type": "oauth", "service": service_id}
    pending = _pending(ctx)
    try:
        if ctx.query("error"):
            raise OidcError(f"the identity provider answered {ctx.query('error')}")
        state, code = ctx.query("state"), ctx.query("code")
        if pending is None or pending.service_id != service_id:
            raise OidcError("this sign-in was not started here or has expired; try again")
        if not state or state != pending.state:
            raise OidcError("the sign-in state does not match; try again")
        if not code:
            raise OidcError("the identity provider sent no code")
        claims = await service.exchange(code, pending)
        logins = ctx.api.svc.oidc
        assert logins is not None  # _service found the service there
        user = await logins.account(service, claims, ip=ctx.actor_ip)
    except (OidcError, AccountError) as e:
        message = f"Sign-in through {service.settings.service_name} failed: {e}"
        await ctx.api.accounts.sign_in_failed(f"({service_id})", message, meta, ctx.performer())
        response = json_response({"error": message}, 403)
        response.delete_cookie(COOKIE, path="/oauth2/")
        return response
    if not user.enabled:
        await ctx.api.accounts.sign_in_failed(
            user.username, "User account is disabled", meta, ctx.performer()
        )
        return json_response({"error": "User account is disabled"}, 403)
    generation = await ctx.api.accounts.session_uuid(user.id, login=meta, ip=ctx.actor_ip)
    ctx.set_session(ctx.ensure_session().with_login(user.id, generation))
    response = Response(status_code=302, headers={"Location": pending.redirect})
    response.delete_cookie(COOKIE, path="/oauth2/")
    return response


def routes(api: ApiApp) -> list[ApiRoute]:
    enabled = api.svc.oidc is not None and bool(api.svc.oidc.services)
    return [
        ApiRoute(
            "GET",
            "/oauth2/{service}/login",
            login_redirect,
            prefix="",
            csrf=False,
            oauth=False,
            enabled=enabled,
        ),
        ApiRoute(
            "GET",
            "/oauth2/{service}/callback",
            callback,
            prefix="",
            csrf=False,
            oauth=False,
            enabled=enabled,
        ),
        ApiRoute(
            "POST",
            "/externallogin/{service}",
            external_login,
            "Generates the auth URL and CSRF token for an external login service.",
            tag="user",
            internal=True,
            anon_allowed=True,
            enabled=enabled,
        ),
    ]
