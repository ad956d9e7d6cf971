"""The superuser panel (``/superuser``): users (create with a generated password shown
once, change password and e-mail, disable and enable, delete) and the job queue.

The same rules as ``/api/v1/superuser/users/``: superusers only (403 otherwise; global
read-only superusers see the panel without its forms, and their posts are refused), changes
need a fresh sign-in, superusers themselves can't be changed or deleted here, passwords only
with database authentication. The garbage collector's last and next pass, and the bytes
each recent pass freed (a bar chart and a table).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

from starlette.responses import Response

from berth.gc.services import GcPassInfo
from berth.gc.tasks import COLLECT_GARBAGE
from berth.http.api.v1.identity.superuser import generate_password
from berth.http.web.filters import human_bytes, ms_date
from berth.http.web.framework import Page, WebApp, WebRoute
from berth.http.web.pages.users import fresh_sign_in
from berth.identity.accounts import UserRecord
from berth.identity.errors import AccountError, IdentityError
from berth.identity.robots import credential_formats

MAX_FIELD = 255
BACK = "/superuser"
SECRET_NAME = re.compile(r"secret|password|passwd|token|key|credential|private|signing", re.I)
USERINFO = re.compile(r"(?<=://)[^/@\s]+@")
MASK = "••••••"
# the raw keys behind the typed settings (GET /api/v1/superuser/config masks them itself)
NOT_SHOWN = frozenset({"quay_config"})


def _shown(name: str, value: Any) -> str:
    """A configuration value as the panel shows it: secrets masked whole, credentials in a
    URL (``scheme://user:password@host``) masked."""
    if value is None:
        return ""
    if SECRET_NAME.search(name) and not isinstance(value, bool | int):
        return MASK if value else ""
    if isinstance(value, frozenset | set):
        value = sorted(str(v) for v in value)
    text = str(value)
    return USERINFO.sub(MASK + "@", text)


def running_configuration(settings: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Every field of the settings tree, flattened (``api.mailing``, ...), secrets masked."""
    rows: list[tuple[str, str]] = []
    for f in dataclasses.fields(settings):
        if f.name in NOT_SHOWN:
            continue
        value = getattr(settings, f.name)
        name = prefix + f.name
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            rows.extend(running_configuration(value, name + "."))
        elif isinstance(value, dict):
            rows.extend((f"{name}.{k}", _shown(f"{name}.{k}", v)) for k, v in value.items())
        else:
            rows.append((name, _shown(name, str(value) if isinstance(value, Path) else value)))
    return rows


GC_PASSES_SHOWN = 20
CHART_W, CHART_H, BAR_GAP = 400, 80, 4


@dataclasses.dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str


def freed_bars(passes: list[GcPassInfo]) -> list[Bar]:
    """Bytes freed per pass as SVG bars, oldest on the left, scaled to the largest."""
    ordered = list(reversed(passes))
    if not ordered:
        return []
    top = max(p.bytes_freed for p in ordered) or 1
    width = CHART_W / GC_PASSES_SHOWN - BAR_GAP
    bars = []
    for i, p in enumerate(ordered):
        height = max(1.0, CHART_H * p.bytes_freed / top) if p.bytes_freed else 0.0
        label = f"{ms_date(p.finished_at)}: {human_bytes(p.bytes_freed)} freed, {p.blobs} blobs"
        bars.append(Bar(i * (width + BAR_GAP), CHART_H - height, width, height, label))
    return bars


async def panel(page: Page) -> Response:
    page.ctx.require_superuser(fresh=False)
    api = page.web.api
    users = await api.accounts.list_users()
    jobs = api.svc.jobs
    gc_done = await jobs.list(state="done", kind=COLLECT_GARBAGE.name, limit=1)
    gc_waiting = await jobs.list(state="queued", kind=COLLECT_GARBAGE.name, limit=1)
    gc_passes = await api.svc.gc.recent_passes(limit=GC_PASSES_SHOWN)
    scanner = None
    if api.settings.scanner.enabled:
        db_status, manifests = await api.svc.scanner.status()
        scanner = {"db": db_status, "manifests": manifests}
    return page.render(
        "superuser/panel.html",
        readonly=not page.ctx.caller.is_superuser,  # a global read-only superuser
        scanner=scanner,
        users=users,
        superusers={u.username for u in users if api.is_superuser_account(u)},
        orgs=await api.svc.orgs.usage(),
        stored_bytes=await api.svc.repos.stored_bytes(),
        jobs=await jobs.counts(),
        recent_jobs=await jobs.list(limit=20),
        gc_last=gc_done[0].finished_at if gc_done else None,
        gc_next=gc_waiting[0].run_at if gc_waiting else None,
        gc_interval_s=api.settings.gc_interval_s,
        gc_passes=gc_passes,
        gc_bars=freed_bars(gc_passes),
        database_auth=api.settings.api.database_auth,
        configuration=running_configuration(api.settings),
        app_tokens=(
            await api.oauth.list_all_app_tokens() if api.settings.auth.app_specific_tokens else None
        ),
    )


async def _target(page: Page) -> UserRecord | None:
    """The user named in the path, unless it is missing, a robot or a superuser (flashed)."""
    api = page.web.api
    user = await api.accounts.get_user(page.params["name"])
    if user is None or user.kind != "user":
        page.flash("No such user.", "danger")
        return None
    if api.is_superuser_account(user):
        page.flash("Cannot update a superuser", "danger")
        return None
    return user


def _guard(page: Page) -> None:
    page.ctx.require_superuser(fresh=False)
    fresh_sign_in(page, BACK)


async def create_user(page: Page) -> Response:
    _guard(page)
    api = page.web.api
    form = await page.form()
    name = form.get("username", "").strip()
    email = form.get("email", "").strip() or None
    if not api.settings.api.database_auth:
        page.flash("Cannot create a user in a non-database auth system", "danger")
        return page.redirect(BACK)
    if not name or len(name) > MAX_FIELD or (email and len(email) > MAX_FIELD):
        page.flash(f"A user name (and e-mail) of at most {MAX_FIELD} characters.", "danger")
        return page.redirect(BACK)
    password = generate_password()
    try:
        await api.accounts.create_user(name, password, email=email, performer=page.ctx.performer())
    except (AccountError, IdentityError) as e:
        page.flash(str(e), "danger")
        return page.redirect(BACK)
    return page.render(
        "superuser/created.html",
        username=name,
        password=password,
        login=credential_formats(name, password, api.settings.server_hostname)["podman_login"],
    )


async def update_user(page: Page) -> Response:
    """``action``: email, password, enable, disable."""
    _guard(page)
    api = page.web.api
    user = await _target(page)
    if user is None:
        return page.redirect(BACK)
    form = await page.form()
    action = form.get("action", "")
    email: str | None = None
    password: str | None = None
    enabled: bool | None = None
    if action == "email":
        email = form.get("email", "").strip()
        if not email or len(email) > MAX_FIELD:
            page.flash(f"An e-mail address of at most {MAX_FIELD} characters.", "danger")
            return page.redirect(BACK)
    elif action == "password":
        if not api.settings.api.database_auth:
            page.flash("Cannot change password in non-database auth system", "danger")
            return page.redirect(BACK)
        password = form.get("password", "")
        if len(password) > 1024:
            page.flash("At most 1024 characters.", "danger")
            return page.redirect(BACK)
    elif action in ("enable", "disable"):
        enabled = action == "enable"
    else:
        page.flash("Unknown change.", "danger")
        return page.redirect(BACK)
    try:
        await api.accounts.update_user(
            user.id,
            email=email,
            password=password,
            enabled=enabled,
            performer=page.ctx.performer(),
        )
    except (AccountError, IdentityError) as e:
        page.flash(str(e), "danger")
        return page.redirect(BACK)
    done = {"email": "E-mail changed", "password": "Password changed",
            "enable": "Enabled", "disable": "Disabled"}[action]  # fmt: skip
    page.flash(f"{done}: {user.username}.")
    return page.redirect(BACK)


async def delete_user(page: Page) -> Response:
    _guard(page)
    user = await _target(page)
    if user is None:
        return page.redirect(BACK)
    await page.web.api.accounts.mark_user_for_deletion(
        user.username, performer=page.ctx.performer()
    )
    page.flash(f"User {user.username} deleted.")
    return page.redirect(BACK)


async def delete_organization(page: Page) -> Response:
    user = page.ctx.require_superuser(fresh=False)
    fresh_sign_in(page, BACK)
    name = page.params["org"]
    try:
        await page.web.api.svc.orgs.delete(name, performer=user.username, ip=page.ctx.actor_ip)
    except IdentityError as e:
        page.flash(e.message, "danger")
        return page.redirect(BACK)
    page.flash(f"Organization {name} deleted.")
    return page.redirect(BACK)


async def rename_organization(page: Page) -> Response:
    """As ``PUT /api/v1/superuser/organizations/{name}``."""
    user = page.ctx.require_superuser(fresh=False)
    fresh_sign_in(page, BACK)
    form = await page.form()
    old, new = form.get("org", "").strip(), form.get("name", "").strip()
    if not old or not new or len(old) > MAX_FIELD or len(new) > MAX_FIELD:
        page.flash(f"Name the organization and its new name (at most {MAX_FIELD}).", "danger")
        return page.redirect(BACK)
    try:
        await page.web.api.svc.orgs.rename(old, new, performer=user.username, ip=page.ctx.actor_ip)
    except IdentityError as e:
        page.flash(e.message, "danger")
        return page.redirect(BACK)
    page.flash(f"Organization {old} is now {new}.")
    return page.redirect(BACK)


def routes(web: WebApp) -> list[WebRoute]:
    enabled = web.api.settings.api.super_users_enabled
    post = ("POST",)
    return [
        WebRoute("/superuser", panel, enabled=enabled),
        WebRoute("/superuser/users", create_user, methods=post, no_store=True, enabled=enabled),
        WebRoute("/superuser/users/{name}", update_user, methods=post, enabled=enabled),
        WebRoute("/superuser/users/{name}/delete", delete_user, methods=post, enabled=enabled),
        WebRoute(
            "/superuser/organizations/rename",
            rename_organization,
            methods=post,
            enabled=enabled,
        ),
        WebRoute(
            "/superuser/organizations/{org}/delete",
            delete_organization,
            methods=post,
            enabled=enabled,
        ),
    ]
