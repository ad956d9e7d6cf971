"""User settings (``/user/{name}?tab=settings|tokens|robots``): password, e-mail, the
encrypted CLI password, app-specific tokens (shown once), time-machine window, the user's
robot accounts, deleting the account.

The same rules as ``/api/v1/user/...``: only the signed-in user opens its own settings
(anyone else's ``/user/{name}`` goes to that namespace's repositories); changes to the
password, e-mail, tokens and the account need a fresh sign-in (FRESH_LOGIN_TIMEOUT), and a
password change ends every other session as ``PUT /api/v1/user/`` does.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response

from berth.auth.errors import InvalidCredentials, TooManyAttempts
from berth.http.api.v1.errors import ApiProblem
from berth.http.api.v1.identity.users import login
from berth.http.web.framework import Page, Redirect, WebApp, WebRoute
from berth.http.web.pages import notification_settings, quotas, usagelogs
from berth.identity.accounts import UserRecord
from berth.identity.errors import AccountError, IdentityError
from berth.identity.robots import credential_formats
from berth.oauth.errors import AppTokenNotFound

MAX_FIELD = 255
TABS = {
    "settings": "Account settings",
    "tokens": "App-specific tokens",
    "applications": "Authorized applications",
    "robots": "Robot accounts",
    "logs": "Usage logs",
}


def _url(user: UserRecord, tab: str = "settings") -> str:
    return f"/user/{user.username}?tab={tab}"


def _self(page: Page) -> UserRecord:
    """The signed-in user, who must be the one in the path (others: their namespace)."""
    user = page.require_user()
    if page.params["name"] != user.username:
        raise Redirect(f"/repository/?view=ns:{page.params['name']}")
    return user


def fresh_sign_in(page: Page, back: str) -> None:
    """Changes need a recent sign-in, as the API's ``require_fresh_login``."""
    try:
        page.ctx.require_fresh_login()
    except ApiProblem as e:
        page.flash("Sign in again to make this change.", "warning")
        raise Redirect("/signin?" + urlencode({"next": back})) from e


async def user_page(page: Page) -> Response:
    user = _self(page)
    api = page.web.api
    tab = page.query("tab", "settings")
    if tab not in TABS:
        tab = "settings"
    tokens = await api.oauth.list_app_tokens(user.id) if tab == "tokens" else []
    robots = await api.svc.robots.list(user.username) if tab == "robots" else []
    grants = await api.oauth.user_grants(user.id) if tab == "applications" else []
    logs = await usagelogs.user_logs(page, user.username) if tab == "logs" else None
    notes: dict[str, Any] = {"notifications_on": False}
    if tab == "settings":
        notes = await notification_settings.user_notifications_data(page, user.username)
    logins = await _external_logins(page, user) if tab == "settings" else []
    return page.render(
        "user/settings.html",
        user=user,
        tab=tab,
        tabs=TABS,
        tokens=tokens,
        robots=robots,
        grants=grants,
        logs=logs,
        **notes,
        quota_bar=await quotas.bar(page, user.username),
        expiration_options=sorted(api.settings.registry.tag_expiration_options),
        change_expiration=api.settings.api.change_tag_expiration,
        database_auth=api.settings.api.database_auth,
        app_tokens=api.settings.auth.app_specific_tokens,
        logins=logins,
    )


async def _external_logins(page: Page, user: UserRecord) -> list[dict[str, Any]]:
    """The identity-provider accounts this user signs in with (LDAP, OIDC login services)."""
    api = page.web.api
    if api.svc.federated is None:
        return []
    names = {s.service_id: s.service_name for s in api.settings.oidc}
    return [
        {
            "service": "LDAP directory" if x.service == "ldap" else names.get(x.service, x.service),
            "kind": "LDAP" if x.service == "ldap" else "OpenID Connect",
            "ident": x.ident,
            "linked": x.created_at,
        }
        for x in await api.svc.federated.logins_of(user.id)
    ]


async def update_account(page: Page) -> Response:
    """E-mail, password or time-machine window (whichever the form carries)."""
    user = _self(page)
    api = page.web.api
    back = _url(user)
    fresh_sign_in(page, back)
    form = await page.form()
    email = form.get("email", "").strip() or None
    password = form.get("password") or None
    expiration_raw = form.get("tag_expiration_s")
    expiration = None
    try:
        if email is not None and len(email) > MAX_FIELD:
            raise IdentityError(f"At most {MAX_FIELD} characters.")
        if password is not None:
            if len(password) > 1024:
                raise IdentityError("At most 1024 characters.")
            if password != form.get("password_again"):
                raise IdentityError("The passwords do not match.")
            if not api.settings.api.database_auth:
                raise IdentityError("Cannot change password in non-database auth system")
        if expiration_raw is not None:
            expiration = int(expiration_raw)
            if expiration not in api.settings.registry.tag_expiration_options:
                raise IdentityError("Invalid tag expiration option")
        await api.accounts.update_user(
            user.id,
            email=email,
            password=password,
            tag_expiration_s=expiration,
            performer=page.ctx.performer(),
        )
    except (IdentityError, AccountError, ValueError) as e:
        page.flash(getattr(e, "message", None) or str(e), "danger")
        return page.redirect(back)
    if password is not None:
        await login(page.ctx, user.id)  # the change ended every session: this one goes on
        page.flash("Password changed; your other sessions are signed out.")
    else:
        page.flash("Account settings saved.")
    return page.redirect(back)


async def cli_password(page: Page) -> Response:
    """The encrypted password for ``docker login`` (``POST /api/v1/user/clientkey``): the
    current password is checked; the answer is never cached."""
    user = _self(page)
    api = page.web.api
    form = await page.form()
    password = form.get("password", "")
    try:
        await api.svc.auth.authenticate_basic(
            user.username, password, ip=page.ctx.actor_ip, registry=False
        )
    except TooManyAttempts as e:
        page.flash(str(e), "danger")
        return page.redirect(_url(user))
    except InvalidCredentials:
        page.flash("Invalid password", "danger")
        return page.redirect(_url(user))
    key = api.encrypted_password(password)
    logins = credential_formats(user.username, key, api.settings.server_hostname)
    shown = {k: logins[k] for k in ("podman_login", "docker_login", "docker_config")}
    return page.render(
        "user/secret.html", user=user, title="Encrypted CLI password", secret=key, formats=shown
    )


async def create_token(page: Page) -> Response:
    user = _self(page)
    api = page.web.api
    back = _url(user, "tokens")
    fresh_sign_in(page, back)
    form = await page.form()
    title = form.get("title", "").strip()
    if not title or len(title) > MAX_FIELD:
        page.flash(f"A token needs a title of at most {MAX_FIELD} characters.", "danger")
        return page.redirect(back)
    token = await api.oauth.create_app_token(
        user.id,
        title,
        expires_in_s=api.settings.auth.app_specific_token_expiration_s,
        performer=page.ctx.performer(),
    )
    assert token.token_code is not None
    logins = credential_formats("$app", token.token_code, api.settings.server_hostname)
    shown = {k: logins[k] for k in ("podman_login", "docker_login")}
    return page.render(
        "user/secret.html",
        user=user,
        title=f"App-specific token {title}",
        secret=token.token_code,
        formats=shown,
    )


async def revoke_token(page: Page) -> Response:
    user = _self(page)
    back = _url(user, "tokens")
    fresh_sign_in(page, back)
    try:
        await page.web.api.oauth.revoke_app_token(
            user.id, page.params["token"], performer=page.ctx.performer()
        )
    except AppTokenNotFound:
        page.flash("No such token.", "danger")
        return page.redirect(back)
    page.flash("Token revoked.")
    return page.redirect(back)


async def revoke_grant(page: Page) -> Response:
    """Revoke an access token the user granted an application (its bearer stops working)."""
    user = _self(page)
    back = _url(user, "applications")
    fresh_sign_in(page, back)
    if await page.web.api.oauth.revoke_user_grant(user.id, page.params["grant"]):
        page.flash("Authorization revoked.")
    else:
        page.flash("No such authorization.", "danger")
    return page.redirect(back)


async def delete_account(page: Page) -> Response:
    user = _self(page)
    back = _url(user)
    fresh_sign_in(page, back)
    form = await page.form()
    if form.get("confirm") != user.username:
        page.flash("Type your user name to delete your account.", "danger")
        return page.redirect(back)
    if page.caller.superuser_account:
        page.flash("Cannot delete a superuser", "danger")
        return page.redirect(back)
    await page.web.api.accounts.mark_user_for_deletion(user.username)
    page.ctx.set_session(None)
    return page.redirect("/signin")


def routes(web: WebApp) -> list[WebRoute]:
    post = ("POST",)
    return [
        WebRoute("/user/{name}", user_page),
        WebRoute("/user/{name}/account", update_account, methods=post),
        WebRoute("/user/{name}/clientkey", cli_password, methods=post, no_store=True),
        WebRoute("/user/{name}/tokens", create_token, methods=post, no_store=True),
        WebRoute("/user/{name}/tokens/{token}/revoke", revoke_token, methods=post),
        WebRoute("/user/{name}/grants/{grant}/revoke", revoke_grant, methods=post),
        WebRoute("/user/{name}/delete", delete_account, methods=post),
    ]
