"""The superuser's rate limits (``/superuser/ratelimits``, beyond Quay): the configured
BERTH_RATE_LIMITS of ``/v2`` and ``/api/v1``, and the per-namespace limits superusers set
(list, set, remove) through the same ``RateLimitService`` as
``/api/v1/superuser/ratelimits/``: superusers only, a fresh sign-in to change them (as the
API asks), the service's message for a bad value.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from berth.http.web.framework import Page, Redirect, WebApp, WebRoute
from berth.http.web.pages.users import fresh_sign_in
from berth.ratelimits.errors import InvalidOverride, NamespaceNotFound
from berth.ratelimits.settings import SURFACES

BACK = "/superuser/ratelimits"
FIGURES = ("caller", "namespace", "window")


async def rate_limits(page: Page) -> Response:
    page.ctx.require_superuser(fresh=False)
    api = page.web.api
    return page.render(
        "superuser/ratelimits.html",
        readonly=not page.ctx.caller.is_superuser,  # a global read-only superuser
        enabled=api.settings.rate_limits.enabled,
        configured=api.settings.rate_limits.limits,
        overrides=await api.svc.rate_limits.list(),
        surfaces=SURFACES,
        shared=api.settings.rate_limits.redis is not None,
    )


def _body(form: dict[str, str]) -> dict[str, Any]:
    """The form's figures as the API's body: ``{v2: {caller, namespace, window}, ...}``; a
    surface with no figure is not limited."""
    body: dict[str, Any] = {}
    for surface in SURFACES:
        limit: dict[str, Any] = {}
        for figure in FIGURES:
            raw = form.get(f"{surface}_{figure}", "").strip()[:12]
            if raw:
                try:
                    limit[figure] = int(raw)
                except ValueError as e:
                    raise InvalidOverride(f"{surface}.{figure} must be a positive integer") from e
        if limit.keys() - {"window"}:
            body[surface] = limit
    return body


async def set_rate_limits(page: Page) -> Response:
    page.ctx.require_superuser(fresh=False)
    fresh_sign_in(page, BACK)
    form = await page.form()
    namespace = form.get("namespace", "").strip()[:255]
    svc = page.web.api.svc.rate_limits
    try:
        if form.get("action") == "delete":
            await svc.delete(namespace, performer=page.ctx.performer())
            page.flash(f"Rate limits of {namespace} removed: BERTH_RATE_LIMITS applies.")
        else:
            await svc.set(namespace, _body(form), performer=page.ctx.performer())
            page.flash(f"Rate limits of {namespace} saved.")
    except NamespaceNotFound as e:
        page.flash(f"No namespace {namespace}.", "danger")
        raise Redirect(BACK) from e
    except InvalidOverride as e:
        page.flash(e.message, "danger")
        raise Redirect(BACK) from e
    return page.redirect(BACK)


def routes(web: WebApp) -> list[WebRoute]:
    on = web.api.settings.api.super_users_enabled
    return [
        WebRoute(BACK, rate_limits, enabled=on),
        WebRoute(BACK, set_rate_limits, ("POST",), enabled=on),
    ]
