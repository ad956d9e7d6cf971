"""``/superuser/ratelimits/``: per-namespace rate limits (Berth's routes, beyond Quay).

- ``GET /superuser/ratelimits/`` -> ``{"ratelimits": [{namespace, v2?, api?}]}``
- ``GET /superuser/ratelimits/{namespace}`` -> ``{namespace, v2?, api?}`` (404: no namespace)
- ``PUT /superuser/ratelimits/{namespace}`` with ``{"v2": {"caller": 100, "namespace":
  1000, "window": 60}, "api": {...}}`` replaces the namespace's limits; answers the view
- ``DELETE /superuser/ratelimits/{namespace}`` -> 204 (BERTH_RATE_LIMITS applies again)

Superusers only (403 otherwise, 401 anonymous); bad values 400 ``invalid_request``.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from berth.http.api.v1.errors import invalid_request, json_response, not_found
from berth.http.api.v1.framework import ApiApp, ApiRoute, Ctx
from berth.ratelimits.errors import InvalidOverride, NamespaceNotFound
from berth.ratelimits.services import NamespaceLimits

LIMIT = {
    "type": "object",
    "properties": {
        "caller": {"type": ["integer", "null"], "description": "Requests per window per caller"},
        "namespace": {
            "type": ["integer", "null"],
            "description": "Requests per window into the namespace, all callers",
        },
        "window": {"type": "integer", "description": "Window in seconds (default 60)"},
    },
}
BODY = {
    "type": "object",
    "description": "The namespace's rate limits per surface",
    "properties": {"v2": LIMIT, "api": LIMIT},
}


def _view(n: NamespaceLimits) -> dict[str, Any]:
    out: dict[str, Any] = {"namespace": n.namespace}
    for surface, lim in n.limits.items():
        out[surface] = {"caller": lim.caller, "namespace": lim.namespace, "window": lim.window_s}
    return out


async def list_limits(ctx: Ctx) -> Response:
    ctx.require_superuser()
    items = await ctx.api.svc.rate_limits.list()
    return json_response({"ratelimits": [_view(n) for n in items]})


async def get_limits(ctx: Ctx) -> Response:
    ctx.require_superuser()
    try:
        found = await ctx.api.svc.rate_limits.get(ctx.params["namespace"])
    except NamespaceNotFound as e:
        raise not_found() from e
    return json_response(_view(found))


async def set_limits(ctx: Ctx) -> Response:
    ctx.require_superuser()
    body = await ctx.body(BODY)
    try:
        done = await ctx.api.svc.rate_limits.set(
            ctx.params["namespace"], body, performer=ctx.performer()
        )
    except NamespaceNotFound as e:
        raise not_found() from e
    except InvalidOverride as e:
        raise invalid_request(e.message) from e
    return json_response(_view(done))


async def delete_limits(ctx: Ctx) -> Response:
    ctx.require_superuser()
    try:
        await ctx.api.svc.rate_limits.delete(ctx.params["namespace"], performer=ctx.performer())
    except NamespaceNotFound as e:
        raise not_found() from e
    return Response(status_code=204)


def routes(api: ApiApp) -> list[ApiRoute]:
    on = api.settings.api.super_users_enabled
    common: dict[str, Any] = {"tag": "ratelimits", "scopes": ("super:user",), "enabled": on}
    base = "/superuser/ratelimits/"
    item = base + "{namespace}"
    return [
        ApiRoute("GET", base, list_limits, "Lists the per-namespace rate limits", **common),
        ApiRoute("GET", item, get_limits, "A namespace's rate limits", **common),
        ApiRoute(
            "PUT",
            item,
            set_limits,
            "Sets a namespace's rate limits",
            body=BODY,
            body_name="NamespaceRateLimits",
            **common,
        ),
        ApiRoute("DELETE", item, delete_limits, "Removes a namespace's rate limits", **common),
    ]
