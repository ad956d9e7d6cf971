"""Sign-in, sign-out, the first user of an empty instance, and self-service sign-up.

The same session as ``/api/v1``'s ``POST /signin``: signing in here also signs the browser in
to the API, and signing out ends every session of the user (``AccountService.end_sessions``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response

from berth.http.api.v1.errors import ApiProblem
from berth.http.api.v1.identity.users import login, password_sign_in
from berth.http.web.framework import Page, WebApp, WebRoute, safe_next
from berth.identity.accounts import check_password_rules
from berth.identity.errors import AccountError, InvalidPassword, InvalidUsername, NamespaceTaken

MAX_FIELD = 255


async def _initializing(page: Page) -> bool:
    """Is this the first-superuser page (FEATURE_USER_INITIALIZE, database auth, no user)?"""
    flags = page.web.api.settings.api
    return (
        flags.user_initialize
        and flags.database_auth
        and await page.web.api.accounts.instance_is_empty()
    )


def _providers(page: Page, target: str) -> list[dict[str, str | None]]:
    """A "Sign in with <SERVICE_NAME>" button per OpenID Connect login service
    (``<NAME>_LOGIN_CONFIG``), to ``/oauth2/<service>/login``, coming back to ``target``."""
    return [
        {
            "name": s.service_name,
            "icon": s.service_icon,
            "url": f"/oauth2/{s.service_id}/login?" + urlencode({"redirect": target}),
        }
        for s in page.web.api.settings.oidc
    ]


def _signin_options(page: Page, target: str | None = None) -> dict[str, Any]:
    flags = page.web.api.settings.api
    target = target or safe_next(page.query("next"))
    providers = _providers(page, target)
    return {
        "can_sign_up": flags.direct_login and flags.user_creation and flags.database_auth,
        "next": target,
        "providers": providers,
        # FEATURE_DIRECT_LOGIN off hides the password form, as in Quay (unless it is the
        # only way in)
        "password_form": flags.direct_login or not providers,
        "directory": not flags.database_auth,
    }


async def signin(page: Page) -> Response:
    if page.user is not None:
        return page.redirect(safe_next(page.query("next")))
    if await _initializing(page):
        return page.render("session/initialize.html", errors={}, values={})
    return page.render("session/signin.html", error=None, username="", **_signin_options(page))


async def signin_post(page: Page) -> Response:
    form = await page.form()
    username = form.get("username", "").strip()
    password = form.get("password", "")
    target = safe_next(form.get("next"))
    options = _signin_options(page, target)
    error: str | None
    if not username or not password:
        error = "Enter your username and password."
    elif len(username) > MAX_FIELD or len(password) > 1024:
        error = "Invalid Username or Password"
    else:
        try:
            error = await password_sign_in(page.ctx, username, password)
        except ApiProblem as e:  # 429: locked out for a while
            return page.render(
                "session/signin.html", status=e.status, error=str(e), username=username, **options
            )
    if error is not None:
        return page.render(
            "session/signin.html", status=403, error=error, username=username, **options
        )
    return page.redirect(target)


async def signout(page: Page) -> Response:
    user = page.user
    if user is not None:
        await page.web.api.accounts.end_sessions(user.id)
    page.ctx.set_session(None)
    page.flash("You are signed out.", "info")
    return page.redirect("/signin")


def _account_fields(form: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    values = {k: form.get(k, "").strip() for k in ("username", "email")}
    errors: dict[str, str] = {}
    for key, value in values.items():
        if len(value) > MAX_FIELD:
            errors[key] = f"At most {MAX_FIELD} characters."
    if not values["username"]:
        errors["username"] = "A username is required."
    password = form.get("password", "")
    if password != form.get("confirm", ""):
        errors["confirm"] = "The passwords do not match."
    else:
        try:
            check_password_rules(password)
        except InvalidPassword as e:
            errors["password"] = str(e)
    return values, errors


async def initialize_post(page: Page) -> Response:
    """The first user (the API's ``POST /api/v1/user/initialize`` without a token)."""
    if not await _initializing(page):
        page.flash("This instance already has users: sign in.", "info")
        return page.redirect("/signin")
    form = await page.form()
    values, errors = _account_fields(form)
    if not errors:
        try:
            created = await page.web.api.accounts.create_user(
                values["username"], form["password"], email=values["email"] or None
            )
        except AccountError as e:
            errors["username"] = f"Failed to initialize user: {e}"
        else:
            await login(page.ctx, created.id)
            page.flash(f"Welcome, {created.username}: your account is created.")
            return page.redirect("/repository/")
    return page.render("session/initialize.html", status=400, errors=errors, values=values)


async def signup(page: Page) -> Response:
    if page.user is not None:
        return page.redirect("/repository/")
    return page.render("session/signup.html", errors={}, values={})


async def signup_post(page: Page) -> Response:
    """Self-service accounts (FEATURE_USER_CREATION), as ``POST /api/v1/user/``."""
    form = await page.form()
    values, errors = _account_fields(form)
    if not errors:
        try:
            created = await page.web.api.accounts.create_user(
                values["username"], form["password"], email=values["email"] or None
            )
        except NamespaceTaken:
            errors["username"] = "The username already exists"
        except (InvalidUsername, InvalidPassword) as e:
            errors["username"] = str(e)
        else:
            await login(page.ctx, created.id)
            page.flash(f"Welcome, {created.username}: your account is created.")
            return page.redirect("/repository/")
    return page.render("session/signup.html", status=400, errors=errors, values=values)


def routes(web: WebApp) -> list[WebRoute]:
    flags = web.api.settings.api
    sign_up = flags.direct_login and flags.user_creation and flags.database_auth
    return [
        WebRoute("/signin", signin, name="signin", signed_in=False, open=True),
        WebRoute("/signin", signin_post, methods=("POST",), signed_in=False, open=True),
        WebRoute("/signout", signout, methods=("POST",), signed_in=False, open=True),
        WebRoute(
            "/initialize",
            initialize_post,
            methods=("POST",),
            signed_in=False,
            open=True,
            enabled=flags.user_initialize,
        ),
        WebRoute("/createaccount", signup, signed_in=False, open=True, enabled=sign_up),
        WebRoute(
            "/createaccount",
            signup_post,
            methods=("POST",),
            signed_in=False,
            open=True,
            enabled=sign_up,
        ),
    ]
