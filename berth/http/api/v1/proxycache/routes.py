"""``/organization/{orgname}/proxycache`` and ``…/validateproxycache`` (FEATURE_PROXY_CACHE).

Quay's answers: GET (an org member) 200 ``{upstream_registry, expiration_s, insecure}``, all
three "" when none is configured; POST (an org admin) 201 ``"Created"``, 400 "Proxy Cache
Configuration already exists" (checked before the host; no update: delete and create
again), 400 when the upstream host does not resolve or is not allowed; DELETE 201
``"Deleted"``, 404 when none; validate 202 ``"Valid"`` or ``"Anonymous"``, 400 when the
login fails. Credentials are never returned. The service writes the usage-log entries.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from berth.http.api.v1.errors import invalid_request, json_response, not_found, unauthorized
from berth.http.api.v1.framework import ApiApp, ApiRoute, Ctx
from berth.http.api.v1.identity.access import administered_org, org_access
from berth.proxycache.errors import (
    AlreadyConfigured,
    InvalidUpstreamConfig,
    NotConfigured,
    ValidationFailed,
)
from berth.proxycache.services import ProxyCacheService

PROXY_CACHE_BODY: dict[str, Any] = {
    "type": "object",
    "description": "Proxy cache configuration for an organization",
    "required": ["upstream_registry"],
    "properties": {
        "upstream_registry": {
            "type": "string",
            "description": "Name of the upstream registry that is to be cached",
        },
        "upstream_registry_username": {
            "type": ["string", "null"],
            "description": "Username for the upstream registry",
        },
        "upstream_registry_password": {
            "type": ["string", "null"],
            "description": "Password for the upstream registry",
        },
        "expiration_s": {
            "type": ["integer", "null"],
            "description": "Seconds a cached tag lives after its last pull (default 86400)",
        },
        "insecure": {
            "type": ["boolean", "null"],
            "description": "Talk to the upstream without TLS verification",
        },
    },
}


def _service(ctx: Ctx) -> ProxyCacheService:
    service = ctx.api.svc.proxy_cache
    if service is None:  # the routes are registered only with the feature on
        raise not_found()
    return service


async def _org(ctx: Ctx, *, admin: bool) -> str:
    name = ctx.params["orgname"]
    if admin:
        access = await administered_org(ctx, name)
    else:
        access = await org_access(ctx, name)
        if not (access.is_member or access.reads_all):
            raise unauthorized(ctx.caller.user is not None)
    access.require_org()
    return name


def _credentials(body: dict[str, Any]) -> tuple[str | None, str | None]:
    return (
        body.get("upstream_registry_username") or None,
        body.get("upstream_registry_password") or None,
    )


async def get_proxy_cache(ctx: Ctx) -> Response:
    org = await _org(ctx, admin=False)
    view = await _service(ctx).get(org)
    return json_response(
        {
            "upstream_registry": view.upstream_registry,
            "expiration_s": view.expiration_s,
            "insecure": view.insecure,
        }
    )


async def create_proxy_cache(ctx: Ctx) -> Response:
    org = await _org(ctx, admin=True)
    body = await ctx.body(PROXY_CACHE_BODY)
    username, password = _credentials(body)
    expiration = body.get("expiration_s")
    if expiration is not None and expiration <= 0:
        raise invalid_request("expiration_s must be a positive number of seconds")
    try:
        await _service(ctx).create(
            org,
            body["upstream_registry"],
            username=username,
            password=password,
            expiration_s=expiration,
            insecure=bool(body.get("insecure")),
            performer=ctx.performer(),
        )
    except (AlreadyConfigured, InvalidUpstreamConfig) as e:
        raise invalid_request(e.message) from e
    except NotConfigured as e:
        raise not_found() from e
    return json_response("Created", 201)


async def delete_proxy_cache(ctx: Ctx) -> Response:
    org = await _org(ctx, admin=True)
    try:
        await _service(ctx).delete(org, performer=ctx.performer())
    except NotConfigured as e:
        raise not_found() from e
    return json_response("Deleted", 201)


async def validate_proxy_cache(ctx: Ctx) -> Response:
    await _org(ctx, admin=True)
    body = await ctx.body(PROXY_CACHE_BODY)
    username, password = _credentials(body)
    try:
        answer = await _service(ctx).validate(
            body["upstream_registry"],
            username=username,
            password=password,
            insecure=bool(body.get("insecure")),
        )
    except (InvalidUpstreamConfig, ValidationFailed) as e:
        raise invalid_request(e.message) from e
    return json_response(answer, 202)


def routes(api: ApiApp) -> list[ApiRoute]:
    on = api.settings.proxy_cache.enabled
    common: dict[str, Any] = {"tag": "organization", "scopes": ("org:admin",), "enabled": on}
    body: dict[str, Any] = {"body": PROXY_CACHE_BODY, "body_name": "ProxyCacheConfig"}
    path = "/organization/{orgname}/proxycache"
    return [
        ApiRoute("GET", path, get_proxy_cache, "Retrieves the proxy cache configuration of "
                 "the organization", **common),
        ApiRoute("POST", path, create_proxy_cache, "Creates proxy cache configuration for "
                 "the organization", **common, **body),
        ApiRoute("DELETE", path, delete_proxy_cache, "Delete proxy cache configuration for "
                 "the organization", **common),
        ApiRoute("POST", "/organization/{orgname}/validateproxycache", validate_proxy_cache,
                 "Validates the proxy cache configuration of the organization", **common,
                 **body),
    ]  # fmt: skip
