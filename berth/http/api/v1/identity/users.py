"""The current user, sign-in/out, sign-up, other users, and ``user/initialize``."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from berth.auth.errors import InvalidCredentials, TooManyAttempts
from berth.http.api.v1.errors import (
    MessageError,
    invalid_request,
    json_response,
    not_found,
    requires_auth,
)
from berth.http.api.v1.framework import ApiApp, ApiRoute, Ctx
from berth.http.api.v1.identity.serializers import org_summary, user_summary, user_view
from berth.http.api.v1.quota_views import namespace_quota_view, quotas_shown
from berth.identity.accounts import UserRecord, check_password_rules
from berth.identity.errors import AccountError, InvalidPassword, InvalidUsername, NamespaceTaken
from berth.oauth.services import ALL_SCOPES

INITIALIZE_TOKEN_TTL_S = 9000

SIGNIN = {
    "type": "object",
    "required": ["username", "password"],
    "properties": {
        "username": {"type": "string"},
        "password": {"type": "string"},
        "invite_code": {"type": "string"},
    },
}
NEW_USER = {
    "type": "object",
    "required": ["username", "password"],
    "properties": {
        "username": {"type": "string"},
        "password": {"type": "string"},
        "email": {"type": "string"},
        "invite_code": {"type": "string"},
        "recaptcha_response": {"type": "string"},
    },
}
UPDATE_USER = {
    "type": "object",
    "properties": {
        "password": {"type": "string"},
        "invoice_email": {"type": "boolean"},
        "email": {"type": "string"},
        "tag_expiration_s": {"type": "integer", "minimum": 0},
        "username": {"type": "string"},
        "invoice_email_address": {"type": ["string", "null"]},
        "given_name": {"type": ["string", "null"]},
        "family_name": {"type": ["string", "null"]},
        "company": {"type": ["string", "null"]},
        "location": {"type": ["string", "null"]},
    },
}
INITIALIZE = {
    "type": "object",
    "required": ["username", "password"],
    "properties": {
        "username": {"type": "string"},
        "password": {"type": "string"},
        "email": {"type": "string"},
        "access_token": {"type": "boolean"},
    },
}


CLIENT_KEY = {
    "type": "object",
    "required": ["password"],
    "properties": {"password": {"type": "string"}},
}


async def client_key(ctx: Ctx) -> Response:
    """``POST /user/clientkey``: the caller's encrypted password, for ``docker login``."""
    user = ctx.require_user()
    body = await ctx.body(CLIENT_KEY)
    try:
        await ctx.api.svc.auth.authenticate_basic(
            user.username, body["password"], ip=ctx.actor_ip, registry=False
        )
    except TooManyAttempts as e:
        raise MessageError(429, str(e)) from e
    except InvalidCredentials as e:
        raise invalid_request("Invalid password") from e
    return json_response({"key": ctx.api.encrypted_password(body["password"])})


async def _me_view(ctx: Ctx) -> dict[str, Any]:
    user = ctx.caller.user
    assert user is not None
    orgs = await _organizations_of(ctx, user) if ctx.caller.has_scope("user:admin") else []
    super_user = ctx.caller.is_superuser if ctx.api.settings.api.super_users_enabled else None
    view = user_view(
        user,
        organizations=orgs,
        super_user=super_user,
        readonly_super_user=ctx.is_readonly_superuser,
    )
    federated = ctx.api.svc.federated
    if federated is not None and ctx.caller.has_scope("user:admin"):
        view["logins"] = [
            {"service": x.service, "service_identifier": x.ident, "metadata": x.metadata}
            for x in await federated.logins_of(user.id)
        ]
    if quotas_shown(ctx.api.settings):
        view.update(await namespace_quota_view(ctx.api.svc, user.username))
    return view


async def get_user(ctx: Ctx) -> Response:
    if ctx.caller.user is None or not ctx.caller.has_scope("user:read"):
        raise requires_auth(session_required=False)
    if ctx.caller.user.kind != "user":
        raise requires_auth(session_required=False)
    return json_response(await _me_view(ctx))


async def login(ctx: Ctx, user_id: int, log: dict[str, Any] | None = None) -> None:
    """Sign the session in; ``log``: a sign-in's metadata (logged as ``login_success``)."""
    generation = await ctx.api.accounts.session_uuid(user_id, login=log, ip=ctx.actor_ip)
    ctx.set_session(ctx.ensure_session().with_login(user_id, generation))


async def signin(ctx: Ctx) -> Response:
    body = await ctx.body(SIGNIN)
    failure = await password_sign_in(ctx, body["username"], body["password"])
    if failure is not None:
        return json_response(
            {"needsEmailVerification": False, "invalidCredentials": True, "message": failure}, 403
        )
    return json_response({"success": True})


async def password_sign_in(ctx: Ctx, username: str, password: str) -> str | None:
    """Sign the session in with a password (``POST /signin`` and the web UI's sign-in page):
    None on success, else the failure's message (logged as ``login_failure``); 429 while
    the account is locked out."""
    meta = {"type": "quayauth", "useragent": ctx.request.headers.get("user-agent", "")}
    try:
        principal = await ctx.api.svc.auth.authenticate_basic(
            username, password, ip=ctx.actor_ip, registry=False
        )
    except TooManyAttempts as e:
        problem = MessageError(429, str(e))
        problem.headers = {"Retry-After": str(e.retry_after)}
        raise problem from e
    except InvalidCredentials as e:
        return await _signin_failed(ctx, username, e.reason, meta)
    # The provider may know the user by another name (LDAP: the e-mail address).
    user = await ctx.api.accounts.get_user(principal.name or username)
    if principal.kind != "user" or user is None or user.kind != "user":
        return await _signin_failed(ctx, username, "Invalid Username or Password", meta)
    await login(ctx, user.id, meta)
    return None


async def _signin_failed(ctx: Ctx, username: str, message: str, meta: dict[str, Any]) -> str:
    await ctx.api.accounts.sign_in_failed(username, message, meta, ctx.performer())
    return message


async def signout(ctx: Ctx) -> Response:
    if ctx.caller.user is not None:
        await ctx.api.accounts.end_sessions(ctx.caller.user.id)
    ctx.set_session(None)
    return json_response({"success": True})


async def create_user(ctx: Ctx) -> Response:
    body = await ctx.body(NEW_USER)
    try:
        check_password_rules(body["password"])
        created = await ctx.api.accounts.create_user(
            body["username"], body["password"], email=body.get("email")
        )
    except NamespaceTaken as e:
        raise invalid_request("The username already exists") from e
    except (InvalidUsername, InvalidPassword) as e:
        raise invalid_request(str(e)) from e
    await login(ctx, created.id)
    user = await ctx.api.accounts.get_user_by_id(created.id)
    assert user is not None
    ctx.caller = ctx.caller.__class__(
        "session", user, None, None, ctx.session, ctx.api.is_superuser_account(user)
    )
    return json_response(await _me_view(ctx))


async def update_user(ctx: Ctx) -> Response:
    user = ctx.require_user("user:admin")
    ctx.require_fresh_login()
    body = await ctx.body(UPDATE_USER)
    if "username" in body and body["username"] != user.username:
        raise invalid_request("Changing the username is not supported")
    if "password" in body and not ctx.api.settings.api.database_auth:
        raise invalid_request("Passwords are managed by the directory, not by this registry")
    expiration = body.get("tag_expiration_s")
    allowed = ctx.api.settings.registry.tag_expiration_options
    if expiration is not None and expiration not in allowed:
        raise invalid_request("Invalid tag expiration option")
    try:
        updated = await ctx.api.accounts.update_user(
            user.id,
            email=body.get("email"),
            password=body.get("password"),
            tag_expiration_s=expiration,
            performer=ctx.performer(),
        )
    except InvalidPassword as e:
        raise invalid_request(str(e)) from e
    if body.get("password") is not None and ctx.caller.kind == "session":
        await login(ctx, user.id)  # the change ended every session: this one signs in again
    ctx.caller = ctx.caller.__class__(
        ctx.caller.kind,
        updated,
        ctx.caller.scopes,
        ctx.caller.grant,
        ctx.caller.session,
        ctx.caller.superuser_account,
    )
    return json_response(await _me_view(ctx))


async def delete_user(ctx: Ctx) -> Response:
    user = ctx.require_user("user:admin")
    ctx.require_fresh_login()
    if ctx.caller.superuser_account:
        raise invalid_request("Cannot delete a superuser")
    await ctx.api.accounts.mark_user_for_deletion(user.username)
    ctx.set_session(None)
    return Response(status_code=204)


async def get_other_user(ctx: Ctx) -> Response:
    user = await ctx.api.accounts.get_user(ctx.params["username"])
    if user is None or user.kind != "user":
        raise not_found()
    return json_response(user_summary(user))


async def initialize(ctx: Ctx) -> Response:
    """First user of an empty instance (outside the API blueprint: no CSRF, no OAuth)."""
    api = ctx.api
    if not api.settings.api.database_auth:
        raise MessageError(400, "Cannot initialize user in a non-database auth system")
    body = await ctx.body(INITIALIZE)
    if not await api.accounts.instance_is_empty():
        raise MessageError(400, "Cannot initialize user in a non-empty database")
    try:
        check_password_rules(body["password"])
        created = await api.accounts.create_user(
            body["username"], body["password"], email=body.get("email")
        )
    except AccountError as e:
        raise MessageError(400, f"Failed to initialize user: {e}") from e
    result: dict[str, Any] = {
        "username": created.username,
        "email": created.email,
        "encrypted_password": api.encrypted_password(body["password"]),
    }
    if body.get("access_token"):
        app = await api.oauth.create_application(
            created.username,
            "automation",
            client_id=created.username,
            description="Application token generated via /api/v1/user/initialize",
        )
        issued = await api.oauth.issue_token(
            app, created.id, ALL_SCOPES, INITIALIZE_TOKEN_TTL_S, name="initialize"
        )
        result["access_token"] = issued.token
    await login(ctx, created.id)
    return json_response(result)


def routes(api: ApiApp) -> list[ApiRoute]:
    flags = api.settings.api
    out = [
        ApiRoute(
            "GET",
            "/user/",
            get_user,
            "Get user information for the authenticated user.",
            tag="user",
            anon_allowed=True,
            scopes=("user:read",),
        ),
        ApiRoute(
            "PUT",
            "/user/",
            update_user,
            "Update a users details such as password or email.",
            tag="user",
            internal=True,
            body=UPDATE_USER,
            body_name="UpdateUser",
            scopes=("user:admin",),
        ),
        ApiRoute(
            "DELETE",
            "/user/",
            delete_user,
            "Deletes the current user.",
            tag="user",
            internal=True,
            scopes=("user:admin",),
        ),
        ApiRoute(
            "POST",
            "/user/clientkey",
            client_key,
            "Return's the user's private client key.",
            tag="user",
            internal=True,
            body=CLIENT_KEY,
            body_name="GenerateClientKey",
            scopes=("user:admin",),
        ),
        ApiRoute(
            "POST",
            "/signout",
            signout,
            "Request that the current user be signed out.",
            tag="user",
            internal=True,
        ),
        ApiRoute(
            "GET",
            "/users/{username}",
            get_other_user,
            "Get user information for the specified user.",
            tag="user",
        ),
    ]
    if flags.direct_login:
        out.append(
            ApiRoute(
                "POST",
                "/signin",
                signin,
                "Sign in the user with the specified credentials.",
                tag="user",
                anon_allowed=True,
                internal=True,
                readonly_exempt=True,
                body=SIGNIN,
                body_name="SigninUser",
            )
        )
    out.append(
        ApiRoute(
            "POST",
            "/user/",
            create_user,
            "Create a new user.",
            tag="user",
            internal=True,
            body=NEW_USER,
            body_name="NewUser",
            # Quay: sign-up needs Database authentication (directory users sign in).
            enabled=flags.direct_login and flags.user_creation and flags.database_auth,
        )
    )
    if flags.user_initialize:
        out.append(
            ApiRoute(
                "POST",
                "/user/initialize",
                initialize,
                "Create the first user of an empty instance.",
                tag="user",
                anon_allowed=True,
                internal=True,
                body=INITIALIZE,
                csrf=False,
                oauth=False,
            )
        )
    return out


async def _organizations_of(ctx: Ctx, user: UserRecord) -> list[dict[str, Any]]:
    """``organizations`` of ``GET /user/``: each organization with the user's role."""
    rows = await ctx.api.svc.orgs.roles_of(user.id)
    return [org_summary(name, email, role) for name, email, role in rows]
