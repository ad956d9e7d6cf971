"""An organization's auto-prune policies (Settings → "Auto-prune policies", Quay's
organization settings): list, add (number of tags, age, or Berth's "not pulled for"), delete.

The same service and rule as ``/api/v1/organization/{org}/autoprunepolicy/``: organization
administrators (``org_scope``: Quay's AdministerOrganizationPermission), FEATURE_AUTO_PRUNE.
The service validates the rule and writes the usage-log entries.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from berth.http.api.v1.errors import not_found
from berth.http.api.v1.policies.routes import org_scope
from berth.http.web.framework import Page, WebApp, WebRoute
from berth.policies.errors import DuplicatePolicy, InvalidPolicy
from berth.policies.errors import NotFound as PolicyNotFound
from berth.policies.rules import prune_rule
from berth.policies.services import PRUNE, Scope

METHODS = {
    "number_of_tags": "Keep the newest N tags",
    "creation_date": "Prune tags older than (e.g. 30d, 12w)",
    "last_pull_date": "Prune tags not pulled for (e.g. 90d)",
}


async def policies_data(page: Page, org: str) -> dict[str, Any]:
    on = page.web.api.settings.policies.auto_prune
    return {
        "prune_on": on,
        "org_prune_policies": await page.web.api.svc.policies.list(PRUNE, Scope(org)) if on else [],
        "prune_methods": METHODS,
    }


async def org_autoprune(page: Page) -> Response:
    org = page.params["org"]
    if not page.web.api.settings.policies.auto_prune:
        raise not_found()
    page.ctx.params["orgname"] = org
    scope = await org_scope(page.ctx)
    form = await page.form()
    back = f"/organization/{org}?tab=settings#autoprune"
    policies = page.web.api.svc.policies
    performer = page.ctx.performer()
    pattern = form.get("tagPattern", "").strip()
    try:
        if len(pattern) > 1024 or len(form.get("value", "")) > 64:
            raise InvalidPolicy("The pattern or value is too long.")
        if form.get("delete"):
            await policies.delete(PRUNE, scope, form["delete"][:64], performer=performer)
            page.flash("Auto-prune policy deleted.")
        else:
            value: Any = form.get("value", "").strip()
            value = int(value) if value.isdigit() else value
            matches = form.get("tagPatternMatches", "true") == "true"
            rule = prune_rule(form.get("method", ""), value, pattern or None, matches)
            await policies.create(PRUNE, scope, rule, performer=performer)
            page.flash("Auto-prune policy added.")
    except (InvalidPolicy, DuplicatePolicy) as e:
        page.flash(e.message, "danger")
    except PolicyNotFound as e:
        raise not_found() from e
    return page.redirect(back)


def routes(web: WebApp) -> list[WebRoute]:
    return [WebRoute("/organization/{org}/autoprune", org_autoprune, ("POST",))]
