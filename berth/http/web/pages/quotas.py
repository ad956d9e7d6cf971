"""Quota pages: the usage bar (bytes used against the namespace's quota, with a banner past
its warning or reject limit) on organization and user pages, the sidebar's ``/quota`` (the
signed-in user's namespaces), the quota section of an organization's settings, the
repository list's share of the quota, and the superuser's quota editor
(``/superuser/quotas``).

The same service and rules as the API's ``…/quota`` routes: anyone who may see the
namespace page sees its bar (Quay shows ``quota_report`` in the organization and user
views); writes need a superuser with FEATURE_SUPERUSERS_FULL_ACCESS (Quay 3.16+; 403 for
anyone else); everything is behind FEATURE_QUOTA_MANAGEMENT + FEATURE_EDIT_QUOTA.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from starlette.responses import Response

from berth.http.api.v1.errors import forbidden, not_found
from berth.http.api.v1.quota_views import quotas_shown
from berth.http.web.framework import Page, Redirect, WebApp, WebRoute, safe_next
from berth.quotas.enforcement import REJECT, WARNING
from berth.quotas.errors import InvalidQuota, QuotaNotFound
from berth.quotas.limits import format_bytes, parse_limit
from berth.quotas.services import Limit, Quota


@dataclass(frozen=True)
class QuotaBar:
    """One namespace's usage against its quota, as the bar shows it."""

    namespace: str
    used: int
    limit: int | None  # None: no quota applies
    quota: Quota | None  # the namespace's own (None: none; the system default may apply)
    warning_percent: int | None
    reject_percent: int | None

    @property
    def percent(self) -> float | None:
        return None if not self.limit else 100.0 * self.used / self.limit

    @property
    def shown_percent(self) -> float:
        """The filled part of the bar (0-100)."""
        return round(min(self.percent or 0.0, 100.0), 1)

    @property
    def state(self) -> str:
        """``over`` (past a reject limit: pushes refused), ``warning`` or ``ok``."""
        pct = self.percent
        if pct is None:
            return "ok"
        if self.reject_percent is not None and pct >= self.reject_percent:
            return "over"
        if self.warning_percent is not None and pct >= self.warning_percent:
            return "warning"
        return "ok"

    @property
    def used_text(self) -> str:
        return format_bytes(self.used)

    @property
    def limit_text(self) -> str:
        return format_bytes(self.limit) if self.limit else ""

    @property
    def is_default(self) -> bool:
        return self.quota is None and self.limit is not None

    @property
    def limits(self) -> tuple[Limit, ...]:
        return self.quota.limits if self.quota else ()


def _lowest(limits: Collection[Limit], kind: str) -> int | None:
    found = [lim.percent for lim in limits if lim.kind == kind]
    return min(found) if found else None


def enabled(page: Page) -> bool:
    return quotas_shown(page.web.api.settings)


async def bars(page: Page, namespaces: Collection[str]) -> dict[str, QuotaBar]:
    """Each namespace's bar (two queries for any number); {} when quotas are off."""
    if not enabled(page) or not namespaces:
        return {}
    svc = page.web.api.svc.quotas
    out: dict[str, QuotaBar] = {}
    for name, (own, report) in (await svc.overview(sorted(set(namespaces)))).items():
        if own is not None:
            limits: Collection[Limit] = own.limits
        elif svc.default_quota is not None:
            limits = svc.default_quota.limits
        else:
            limits = ()
        out[name] = QuotaBar(
            name,
            report.quota_bytes,
            report.configured_quota,
            own,
            _lowest(limits, WARNING),
            _lowest(limits, REJECT),
        )
    return out


async def bar(page: Page, namespace: str) -> QuotaBar | None:
    return (await bars(page, [namespace])).get(namespace)


def may_edit(page: Page) -> bool:
    """Quay 3.16+: a superuser with FEATURE_SUPERUSERS_FULL_ACCESS."""
    settings = page.web.api.settings
    return (
        enabled(page)
        and settings.api.super_users_enabled
        and page.caller.is_superuser
        and settings.api.superusers_full_access
    )


# ------------------------------------------------------------------------------ pages


async def my_quotas(page: Page) -> Response:
    """The sidebar's "Quotas": the user's namespace and organizations."""
    user = page.require_user()
    if not enabled(page):
        return page.render("quota/mine.html", bars=[], orgs=set(), can_edit=False, off=True)
    orgs = await page.web.api.svc.orgs.list_for_user(user.username)
    names = [user.username, *sorted(o.name for o in orgs)]
    found = await bars(page, names)
    return page.render(
        "quota/mine.html",
        bars=[found[n] for n in names if n in found],
        orgs={o.name for o in orgs},
        can_edit=may_edit(page),
        off=False,
    )


async def superuser_quotas(page: Page) -> Response:
    page.ctx.require_superuser(fresh=False)
    if not enabled(page):
        raise not_found()
    api = page.web.api
    orgs = await api.svc.orgs.usage()
    users = [u for u in await api.accounts.list_users()]
    org_names = sorted(o.name for o in orgs)
    names = org_names + sorted(u.username for u in users)
    found = await bars(page, names)
    selected = page.query("namespace")
    return page.render(
        "quota/superuser.html",
        bars=[found[n] for n in names if n in found],
        orgs=set(org_names),
        selected=found.get(selected) if selected else None,
        can_edit=may_edit(page),
        default_bytes=format_bytes(api.settings.quotas.default_reject_bytes)
        if api.settings.quotas.default_reject_bytes
        else "",
    )


async def edit_quota(page: Page) -> Response:
    """The quota editor's forms: set the limit (creates the quota or changes it), delete the
    quota, add or delete a Warning/Reject limit. Back to the page the form came from."""
    if not enabled(page):
        raise not_found()
    page.require_user()
    if not may_edit(page):
        raise forbidden()
    namespace = page.params["namespace"]
    form = await page.form()
    back = safe_next(form.get("next"), "/superuser/quotas?namespace=" + namespace)
    svc = page.web.api.svc.quotas
    performer = page.ctx.performer()
    action = form.get("action", "")
    try:
        current = await svc.quotas(namespace)
        quota = current[0] if current else None
        if action == "set":
            limit_bytes = parse_limit(form.get("limit", "")[:64])
            if quota is None:
                await svc.create(namespace, limit_bytes, performer=performer)
            else:
                assert quota.id is not None
                await svc.update(namespace, quota.id, limit_bytes, performer=performer)
            page.flash(f"Quota of {namespace}: {format_bytes(limit_bytes)}.")
        elif quota is None or quota.id is None:
            raise InvalidQuota(f"{namespace} has no quota of its own")
        elif action == "delete":
            await svc.delete(namespace, quota.id, performer=performer)
            page.flash(f"Quota of {namespace} deleted.")
        elif action == "add_limit":
            try:
                percent = int(form.get("percent", ""))
            except ValueError as e:
                raise InvalidQuota("Quota limit threshold percent must be a number") from e
            kind = form.get("type", "")
            await svc.create_limit(namespace, quota.id, kind, percent, performer=performer)
            page.flash(f"{kind} limit at {percent}% added.")
        elif action == "delete_limit":
            await svc.delete_limit(
                namespace, quota.id, int(form.get("limit_id", "0") or 0), performer=performer
            )
            page.flash("Limit deleted.")
        else:
            raise InvalidQuota("Unknown action")
    except QuotaNotFound as e:
        raise not_found() from e
    except (InvalidQuota, ValueError) as e:
        page.flash(getattr(e, "message", str(e)), "danger")
        raise Redirect(back) from e
    return page.redirect(back)


def routes(web: WebApp) -> list[WebRoute]:
    s = web.api.settings
    on = quotas_shown(s)
    su = on and s.api.super_users_enabled
    return [
        WebRoute("/quota", my_quotas),
        WebRoute("/superuser/quotas", superuser_quotas, enabled=su),
        WebRoute("/superuser/quota/{namespace}", edit_quota, ("POST",), enabled=su),
    ]
