"""An organization's proxy-cache configuration (``/organization/{org}?tab=proxycache``):
show it, create it (with "Validate" first if wanted), delete it.

Organization administrators only, with FEATURE_PROXY_CACHE on; the forms call
``ProxyCacheService`` after the API's ``administered_org`` check, as the ``proxycache`` and
``validateproxycache`` routes do, and show their messages. Credentials are never shown.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from berth.http.api.v1.errors import not_found
from berth.http.api.v1.identity.access import administered_org
from berth.http.web.framework import Page, WebApp, WebRoute
from berth.proxycache.errors import (
    AlreadyConfigured,
    InvalidUpstreamConfig,
    NotConfigured,
    ValidationFailed,
)
from berth.proxycache.services import ProxyCacheService

TAB = ("proxycache", "Proxy cache")


def enabled(page: Page) -> bool:
    return page.web.api.svc.proxy_cache is not None


def _service(page: Page) -> ProxyCacheService:
    service = page.web.api.svc.proxy_cache
    if service is None:
        raise not_found()
    return service


async def proxy_cache_data(page: Page, org: str) -> dict[str, Any]:
    view = await _service(page).get(org)
    return {
        "proxy": view if view.upstream_registry else None,
        "request_host": page.web.api.settings.server_hostname,
    }


def _back(page: Page, org: str, message: str, kind: str = "success") -> Response:
    page.flash(message, kind)
    return page.redirect(f"/organization/{org}?tab={TAB[0]}")


def _fields(form: dict[str, str]) -> dict[str, Any]:
    expiration = form.get("expiration_s", "").strip()
    return {
        "upstream_registry": form.get("upstream_registry", "").strip(),
        "username": form.get("username", "").strip() or None,
        "password": form.get("password", "") or None,
        "insecure": form.get("insecure") == "on",
        "expiration_s": int(expiration) if expiration.isdigit() else None,
    }


async def proxy_cache_post(page: Page) -> Response:
    """Create (``action=create``), validate (``action=validate``) or delete."""
    org = page.params["org"]
    (await administered_org(page.ctx, org)).require_org()
    service = _service(page)
    form = await page.form()
    action = form.get("action", "create")
    try:
        if action == "delete":
            await service.delete(org, performer=page.ctx.performer())
            return _back(page, org, "Proxy cache configuration deleted.")
        fields = _fields(form)
        if not fields["upstream_registry"]:
            return _back(page, org, "The upstream registry is required.", "danger")
        if action == "validate":
            answer = await service.validate(
                fields["upstream_registry"],
                username=fields["username"],
                password=fields["password"],
                insecure=fields["insecure"],
            )
            text = "credentials accepted" if answer == "Valid" else "anonymous access works"
            return _back(page, org, f"Validated: {text} ({answer}).", "info")
        if fields["expiration_s"] is not None and fields["expiration_s"] <= 0:
            return _back(
                page, org, "The expiration must be a positive number of seconds.", "danger"
            )
        await service.create(
            org,
            fields["upstream_registry"],
            username=fields["username"],
            password=fields["password"],
            expiration_s=fields["expiration_s"],
            insecure=fields["insecure"],
            performer=page.ctx.performer(),
        )
    except (AlreadyConfigured, InvalidUpstreamConfig, ValidationFailed) as e:
        return _back(page, org, e.message, "danger")
    except NotConfigured:
        return _back(page, org, "No proxy cache is configured.", "warning")
    return _back(page, org, "Proxy cache configured.")


def routes(web: WebApp) -> list[WebRoute]:
    if not web.api.settings.proxy_cache.enabled:
        return []
    return [WebRoute("/organization/{org}/proxycache", proxy_cache_post, methods=("POST",))]
