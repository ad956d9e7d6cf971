"""The notification bell and its page (``/notifications``: the caller's in-app
notifications, as ``/api/v1/user/notifications`` lists them; dismiss with htmx or a plain
form), and password recovery (``/recovery``: ask for the e-mail, and ``/recovery?code=``,
the recovery e-mail's link, which sets a new password as ``POST /api/v1/recovery/reset``).
"""

from __future__ import annotations

from starlette.responses import Response

from berth.http.web.framework import Page, WebApp, WebRoute
from berth.identity.errors import AccountError, IdentityError
from berth.notifications.errors import InvalidCode, NotificationNotFound

PER_PAGE = 20
BADGE_WINDOW = 20  # the bell counts undismissed notifications among the newest 20
MAX_FIELD = 255
TOO_LONG = "At most 1024 characters."
MISMATCH = "The passwords do not match."


async def notifications_page(page: Page) -> Response:
    user = page.require_user()
    try:
        number = max(int(page.query("page", "1")), 1)
    except ValueError:
        number = 1
    found, more = await page.web.api.svc.notifications.user_notifications(
        user.id, page=number, limit=PER_PAGE
    )
    return page.render("notifications/list.html", notifications=found, more=more, number=number)


async def badge(page: Page) -> Response:
    """The bell's count (an htmx fragment loaded by every page's masthead)."""
    user = page.require_user()
    found, more = await page.web.api.svc.notifications.user_notifications(
        user.id, limit=BADGE_WINDOW
    )
    unread = sum(1 for n in found if not n.dismissed)
    return page.render("notifications/_badge.html", unread=unread, more=more and unread > 0)


async def dismiss(page: Page) -> Response:
    user = page.require_user()
    try:
        n = await page.web.api.svc.notifications.dismiss(user.id, page.params["uuid"])
    except NotificationNotFound:
        page.flash("No such notification.", "danger")
        return page.redirect("/notifications")
    if page.is_htmx:
        return page.render("notifications/_row.html", n=n)
    return page.redirect("/notifications")


# ---------------------------------------------------------------------------- recovery


async def recovery(page: Page) -> Response:
    code = page.query("code")
    return page.render("notifications/recovery.html", code=code, errors={})


async def recovery_request(page: Page) -> Response:
    form = await page.form()
    email = form.get("email", "").strip()
    if not email or len(email) > MAX_FIELD:
        return page.render(
            "notifications/recovery.html",
            status=400,
            code="",
            errors={"email": "An e-mail address is required."},
        )
    result = await page.web.api.svc.notifications.request_recovery(email)
    if result.status == "org":
        page.flash(
            f"{email} belongs to the organization {result.orgname}: "
            "organizations have no password; sign in as one of its administrators.",
            "warning",
        )
    else:
        page.flash("If an account has this address, a recovery e-mail is on its way.", "info")
    return page.redirect("/signin")


async def recovery_reset(page: Page) -> Response:
    form = await page.form()
    code = form.get("code", "")
    password = form.get("password", "")
    errors: dict[str, str] = {}
    if len(password) > 1024:
        errors.update(password=TOO_LONG)
    elif password != form.get("password_again", ""):
        errors.update(password_again=MISMATCH)
    if not errors:
        api = page.web.api
        try:
            user_id = await api.svc.notifications.recovery_user(code)
            await api.accounts.update_user(
                user_id, password=password, performer=page.ctx.performer()
            )
            await api.accounts.end_sessions(user_id)
        except InvalidCode as e:
            errors["code"] = e.message
        except (AccountError, IdentityError) as e:
            errors["password"] = str(e)
    if errors:
        return page.render("notifications/recovery.html", status=400, code=code, errors=errors)
    page.flash("Your password is changed. Sign in with it.")
    return page.redirect("/signin")


def routes(web: WebApp) -> list[WebRoute]:
    mailing = web.api.settings.notifications.mailing
    post = ("POST",)
    return [
        WebRoute("/notifications", notifications_page),
        WebRoute("/notifications/badge", badge),
        WebRoute("/notifications/{uuid}/dismiss", dismiss, methods=post),
        WebRoute("/recovery", recovery, open=True, no_store=True, enabled=mailing),
        WebRoute("/recovery", recovery_reset, methods=post, open=True, enabled=mailing),
        WebRoute("/recovery/request", recovery_request, methods=post, open=True, enabled=mailing),
    ]
