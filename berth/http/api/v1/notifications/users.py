"""The caller's in-app notifications (``/user/notifications``, Quay's bell), the team
invitation link of the invitation e-mail (``/confirminvite``), and password recovery
(``/recovery``, behind FEATURE_MAILING).

``POST /api/v1/recovery {email}`` answers 200 ``{"status": "sent"}`` whether or not an
account has the address (no enumeration), or ``{"status": "org", "orgemail", "orgname"}``
for an organization's address, as Quay does. The e-mail links to
``/recovery?code=...`` (the web UI's page); Berth's
``POST /api/v1/recovery/reset {code, password}`` sets the new password with that code
(once: the code dies with the password it was issued for).
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.responses import RedirectResponse, Response

from berth.http.api.v1.errors import (
    invalid_request,
    json_response,
    model_errors,
    not_found,
)
from berth.http.api.v1.framework import ApiApp, ApiRoute, Ctx
from berth.http.api.v1.notifications.serializers import user_notification_view
from berth.notifications.errors import InvalidCode, NotificationNotFound, ScopeNotFound

DISMISS_BODY = {
    "type": "object",
    "description": "Information for updating a notification",
    "properties": {
        "dismissed": {
            "type": "boolean",
            "description": "Whether the notification is dismissed by the user",
        },
    },
}
RECOVERY_BODY = {
    "type": "object",
    "description": "Request object for sending a password recovery e-mail",
    "required": ["email"],
    "properties": {
        "email": {"type": "string", "description": "The user's email address"},
        "recaptcha_response": {
            "type": "string",
            "description": "The recaptcha response code for verification",
        },
    },
}
RESET_BODY = {
    "type": "object",
    "description": "A recovery code and the new password",
    "required": ["code", "password"],
    "properties": {
        "code": {"type": "string", "description": "The code of the recovery e-mail's link"},
        "password": {"type": "string", "description": "The new password"},
    },
}


async def list_notifications(ctx: Ctx) -> Response:
    user = ctx.require_user("user:admin")
    page = ctx.query_int("page", 1) or 1
    limit = ctx.query_int("limit", 10) or 10
    found, more = await ctx.api.svc.notifications.user_notifications(
        user.id, page=page, limit=limit
    )
    return json_response(
        {"notifications": [user_notification_view(n) for n in found], "additional": more}
    )


async def get_notification(ctx: Ctx) -> Response:
    user = ctx.require_user("user:admin")
    try:
        found = await ctx.api.svc.notifications.user_notification(user.id, ctx.params["uuid"])
    except NotificationNotFound as e:
        raise not_found() from e
    return json_response(user_notification_view(found))


async def update_notification(ctx: Ctx) -> Response:
    user = ctx.require_user("user:admin")
    body = await ctx.body(DISMISS_BODY)
    try:
        found = await ctx.api.svc.notifications.dismiss(
            user.id, ctx.params["uuid"], dismissed=bool(body.get("dismissed", False))
        )
    except NotificationNotFound as e:
        raise not_found() from e
    return json_response(user_notification_view(found))


async def request_recovery(ctx: Ctx) -> Response:
    body = await ctx.body(RECOVERY_BODY)
    result = await ctx.api.svc.notifications.request_recovery(str(body["email"]))
    if result.status == "org":
        return json_response(
            {"status": "org", "orgemail": result.orgemail, "orgname": result.orgname}
        )
    return json_response({"status": "sent"})


async def reset_password(ctx: Ctx) -> Response:
    body = await ctx.body(RESET_BODY)
    try:
        user_id = await ctx.api.svc.notifications.recovery_user(str(body["code"]))
    except InvalidCode as e:
        raise invalid_request(e.message) from e
    with model_errors():
        await ctx.api.svc.accounts.update_user(
            user_id, password=str(body["password"]), performer=ctx.performer()
        )
    await ctx.api.svc.accounts.end_sessions(user_id)
    return json_response({"success": True})


async def send_recovery(ctx: Ctx) -> Response:
    """A superuser mails a user a password-reset link: 200 ``{email}``."""
    ctx.require_superuser()
    try:
        email = await ctx.api.svc.notifications.send_recovery(ctx.params["username"])
    except ScopeNotFound as e:
        raise not_found() from e
    except InvalidCode as e:
        raise invalid_request(e.message) from e
    return json_response({"email": email})


async def confirm_invite(ctx: Ctx) -> Response:
    """The invitation e-mail's link: a signed-in user joins the team (or, with
    ``decline=true``, declines) and lands on the organization; others sign in first."""
    code = ctx.query("code") or ""
    user = ctx.caller.user
    if user is None or user.kind != "user":
        target = str(ctx.request.url.path) + "?" + str(ctx.request.url.query)
        return RedirectResponse("/signin?" + urlencode({"next": target}), status_code=302)
    teams = ctx.api.svc.teams
    with model_errors():
        if ctx.query_bool("decline"):
            await teams.decline_invite(code, user.username, ip=ctx.actor_ip)
            return RedirectResponse("/", status_code=302)
        invite = await teams.accept_invite(code, user.username, ip=ctx.actor_ip)
    return RedirectResponse(f"/organization/{invite.org}?tab=teams", status_code=302)


def routes(api: ApiApp) -> list[ApiRoute]:
    mailing = api.settings.notifications.mailing
    item = "/user/notifications/{uuid}"
    superusers = api.settings.api.super_users_enabled
    return [
        ApiRoute(
            "POST",
            "/superusers/users/{username}/sendrecovery",
            send_recovery,
            "Sends a password recovery e-mail to the specified user.",
            tag="superuser",
            scopes=("super:user",),
            internal=True,
            enabled=mailing and superusers,
        ),
        ApiRoute(
            "GET",
            "/user/notifications",
            list_notifications,
            "List the notifications for the user.",
            tag="user",
            scopes=("user:admin",),
            internal=True,
        ),
        ApiRoute(
            "GET",
            item,
            get_notification,
            "Get a notification of the user.",
            tag="user",
            scopes=("user:admin",),
            internal=True,
        ),
        ApiRoute(
            "PUT",
            item,
            update_notification,
            "Update (dismiss) a notification of the user.",
            tag="user",
            scopes=("user:admin",),
            internal=True,
            body=DISMISS_BODY,
            body_name="UpdateNotification",
        ),
        ApiRoute(
            "POST",
            "/recovery",
            request_recovery,
            "Request a password recovery email.",
            tag="user",
            anon_allowed=True,
            internal=True,
            body=RECOVERY_BODY,
            body_name="RequestRecovery",
            enabled=mailing,
        ),
        ApiRoute(
            "POST",
            "/recovery/reset",
            reset_password,
            "Set a new password with the code of a recovery email.",
            tag="user",
            anon_allowed=True,
            internal=True,
            body=RESET_BODY,
            body_name="ResetPassword",
            enabled=mailing,
        ),
        ApiRoute(
            "GET",
            "/confirminvite",
            confirm_invite,
            prefix="",
            csrf=False,
            oauth=False,
            anon_allowed=True,
            enabled=mailing,
        ),
    ]
