"""A repository's Settings → "Events and notifications" (Quay's place for them), and an
organization's namespace (quota) notifications in its settings: the list with
each notification's event, method, where it goes (secrets masked, as the API answers) and
its failures; a form to create one (event, its configuration, method and the method's
fields); test, delete and re-enable after failures; and, for the e-mail method, the
authorization e-mail Quay requires before an address gets notifications.

The same service (``NotificationService``) and rules as ``/api/v1/repository/{repo}/
notification/`` (repository admins: ``repo_scope``, 403 then 404) and
``/api/v1/organization/{org}/notifications`` (organization admins,
FEATURE_QUOTA_NOTIFICATIONS). The service validates everything (unknown event or method,
bad URL refused by the SSRF guard, an unauthorized e-mail address) and its message comes
back on the settings tab.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from berth.http.api.v1.errors import not_found
from berth.http.api.v1.notifications.routes import org_scope, repo_scope, user_scope
from berth.http.web.framework import Page, Redirect, WebApp, WebRoute
from berth.notifications.errors import (
    InvalidNotification,
    MailingDisabled,
    NotificationNotFound,
    ScopeNotFound,
)
from berth.notifications.events import EVENTS, PRIORITY_LEVELS
from berth.notifications.services import NotificationView, Scope
from berth.notifications.tasks import FAILURE_THRESHOLD
from berth.registry.errors import NameInvalid
from berth.registry.repositories import RepoName, parse_repo_name

MAX_FIELD = 2048
METHODS = {
    "quay_notification": "Berth notification (in the bell)",
    "email": "E-mail",
    "webhook": "Webhook POST",
    "slack": "Slack notification",
}
NOT_AUTHORIZED = "has not been authorized"


def _repo(page: Page) -> RepoName:
    try:
        repo = parse_repo_name(page.params["repository"], library=None)
    except NameInvalid as e:
        raise not_found() from e
    page.ctx.params["repository"] = f"{repo.namespace}/{repo.name}"
    return repo


def _back(repo: RepoName) -> str:
    return f"/repository/{repo.namespace}/{repo.name}?tab=settings#notifications"


def target(n: NotificationView) -> str:
    """Where a notification goes, as the list shows it (config is already masked)."""
    c = n.config
    if n.method == "email":
        return str(c.get("email", ""))
    if n.method in ("webhook", "slack"):
        return str(c.get("url", ""))
    if n.method == "quay_notification":
        t = c.get("target") or {}
        return f"{t.get('kind', '')} {t.get('name', '')}".strip()
    return ""


def event_detail(n: NotificationView) -> str:
    ec = n.event_config
    if n.event == "repo_image_expiry" and ec.get("days"):
        return f"{ec['days']} days before"
    if n.event == "vulnerability_found" and "level" in ec:
        names = {str(v): k for k, v in PRIORITY_LEVELS.items()}
        return f"{names.get(str(ec['level']), ec['level'])} or worse"
    if ec.get("ref-regex"):
        return f"refs matching {ec['ref-regex']}"
    return ""


async def notifications_data(page: Page, repo: RepoName) -> dict[str, Any]:
    """What ``repository/_notifications.html`` shows (the caller is a repository admin)."""
    base = f"/repository/{repo.namespace}/{repo.name}/settings/notifications"
    return await _data(page, Scope(repo.namespace, repo.name), base)


async def org_notifications_data(page: Page, org: str) -> dict[str, Any]:
    """The organization's namespace (quota) notifications (its admins), when on."""
    if not page.web.api.settings.notifications.quota_notifications:
        return {"notifications_on": False}
    return {**await _data(page, Scope(org), f"/organization/{org}/notifications"), "is_org": True}


async def user_notifications_data(page: Page, username: str) -> dict[str, Any]:
    """The signed-in user's namespace (quota) notifications, when on."""
    if not page.web.api.settings.notifications.quota_notifications:
        return {"notifications_on": False}
    data = await _data(page, Scope(username), f"/user/{username}/notifications")
    return {**data, "is_org": False}


async def _data(page: Page, scope: Scope, base: str) -> dict[str, Any]:
    svc = page.web.api.svc.notifications
    level = "namespace" if scope.repository is None else "repository"
    try:
        views = await svc.list(scope)
    except ScopeNotFound:
        views = []
    rows = [
        {
            "view": v,
            "event_title": EVENTS[v.event].title if v.event in EVENTS else v.event,
            "method_title": METHODS.get(v.method, v.method),
            "target": target(v),
            "detail": event_detail(v),
            "disabled": v.number_of_failures >= FAILURE_THRESHOLD,
        }
        for v in views
    ]
    return {
        "notifications_on": True,
        "notifications": rows,
        "notif_base": base,
        "notif_repository": level == "repository",
        "notif_title": "Events and notifications"
        if level == "repository"
        else "Quota notifications",
        "notification_events": [(e.name, e.title) for e in EVENTS.values() if e.scope == level],
        "notification_methods": METHODS,
        "vulnerability_levels": [k for k in PRIORITY_LEVELS if k != "Unknown"],
        "notification_mailing": page.web.api.settings.notifications.mailing,
    }


def _field(form: dict[str, str], name: str) -> str:
    return form.get(name, "").strip()[:MAX_FIELD]


def _configs(form: dict[str, str]) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(method, config, eventConfig) from the create form, in the API's body shapes."""
    method = _field(form, "method")
    config: dict[str, Any] = {}
    if method == "email":
        config["email"] = _field(form, "email")
    elif method in ("webhook", "slack"):
        config["url"] = _field(form, f"{method}_url")
        if method == "webhook":
            if _field(form, "template"):
                config["template"] = _field(form, "template")
            if _field(form, "secret"):
                config["secret"] = _field(form, "secret")
    elif method == "quay_notification":
        config["target"] = {
            "kind": _field(form, "target_kind") or "user",
            "name": _field(form, "target_name"),
        }
    event = _field(form, "event")
    event_config: dict[str, Any] = {}
    if event == "repo_image_expiry":
        event_config["days"] = _field(form, "days")
    elif event == "vulnerability_found":
        event_config["level"] = str(PRIORITY_LEVELS.get(_field(form, "level"), ""))
    elif event.startswith("build_") and _field(form, "ref_regex"):
        event_config["ref-regex"] = _field(form, "ref_regex")
    return method, config, event_config


async def _target(page: Page) -> tuple[Scope, str]:
    """The notifications' owner (the API's access rule) and the page to go back to."""
    if "name" in page.params:  # the user's own namespace (user:admin, the API's rule)
        if not page.web.api.settings.notifications.quota_notifications:
            raise not_found()
        user = page.require_user()
        if page.params["name"] != user.username:
            raise not_found()
        return await user_scope(page.ctx), f"/user/{user.username}?tab=settings#notifications"
    if "org" in page.params:
        org = page.params["org"]
        if not page.web.api.settings.notifications.quota_notifications:
            raise not_found()
        page.ctx.params["orgname"] = org
        return await org_scope(page.ctx), f"/organization/{org}?tab=settings#notifications"
    repo = _repo(page)
    return await repo_scope(page.ctx), _back(repo)


async def create(page: Page) -> Response:
    scope, back = await _target(page)
    form = await page.form()
    method, config, event_config = _configs(form)
    try:
        view = await page.web.api.svc.notifications.create(
            scope,
            event=_field(form, "event"),
            method=method,
            config=config,
            event_config=event_config,
            title=_field(form, "title")[:255] or None,
            performer=page.ctx.performer(),
        )
    except InvalidNotification as e:
        message = e.message
        if method == "email" and NOT_AUTHORIZED in message:
            message += ": send it an authorization e-mail below, then create the notification."
        page.flash(message, "danger")
        raise Redirect(back) from e
    page.flash(f"Notification created: {EVENTS[view.event].title}, {METHODS[view.method]}.")
    return page.redirect(back)


async def _act(page: Page, action: str) -> Response:
    scope, back = await _target(page)
    svc = page.web.api.svc.notifications
    uuid = page.params["uuid"]
    try:
        if action == "test":
            await svc.test(scope, uuid)
            page.flash("Test notification queued: it is delivered with the event's sample data.")
        elif action == "reset":
            await svc.reset(scope, uuid, performer=page.ctx.performer())
            page.flash("Notification re-enabled: its failures are reset.")
        else:
            await svc.delete(scope, uuid, performer=page.ctx.performer())
            page.flash("Notification deleted.")
    except NotificationNotFound as e:
        page.flash(f"No notification found with uuid {e.uuid}", "danger")
    return page.redirect(back)


async def test_notification(page: Page) -> Response:
    return await _act(page, "test")


async def reset_notification(page: Page) -> Response:
    return await _act(page, "reset")


async def delete_notification(page: Page) -> Response:
    return await _act(page, "delete")


async def authorize_email(page: Page) -> Response:
    """Quay's ``POST /repository/{repo}/authorizedemail/{email}``: mail the address a
    confirmation link (once confirmed it may receive the repository's notifications)."""
    repo = _repo(page)
    await repo_scope(page.ctx)
    form = await page.form()
    email = _field(form, "email")[:255]
    if "@" not in email:
        page.flash("Give the e-mail address to authorize.", "danger")
        raise Redirect(_back(repo))
    svc = page.web.api.svc.notifications
    try:
        found = await svc.authorized_email(repo, email)
        if found is not None and found.confirmed:
            page.flash(f"{email} is already authorized for {repo.full}.")
        else:
            await svc.authorize_email(repo, email)
            page.flash(f"An authorization e-mail went to {email}: follow its link, then retry.")
    except MailingDisabled as e:
        page.flash("E-mail is off on this registry (FEATURE_MAILING).", "danger")
        raise Redirect(_back(repo)) from e
    return page.redirect(_back(repo))


def routes(web: WebApp) -> list[WebRoute]:
    base = "/repository/{repository:repository}/settings/notifications"
    org = "/organization/{org}/notifications"
    own = "/user/{name}/notifications"
    post = ("POST",)
    table = [WebRoute(base + "/authorize-email", authorize_email, post)]
    for b in (base, org, own):
        table += [
            WebRoute(b, create, post),
            WebRoute(b + "/{uuid}/test", test_notification, post),
            WebRoute(b + "/{uuid}/reset", reset_notification, post),
            WebRoute(b + "/{uuid}/delete", delete_notification, post),
        ]
    return table
