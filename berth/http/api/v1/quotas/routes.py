"""Namespace quotas: Quay's ``…/quota`` routes for organizations, the caller's own account
and superusers (endpoints/api/namespacequota.py, superuser.py).

Reads: organization members and full-access superusers (others 403, anonymous 401), the
caller's own quotas under ``/user/quota``. Writes need a superuser with
FEATURE_SUPERUSERS_FULL_ACCESS (Quay 3.16+; anyone else 403). All behind
FEATURE_SUPER_USERS + FEATURE_QUOTA_MANAGEMENT + FEATURE_EDIT_QUOTA (404 when off). Bad
values: Quay's 400 ``invalid_request`` with the model's message, nothing written. The
quota service writes the usage-log entries.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar

from starlette.responses import Response

from berth.http.api.v1.errors import (
    forbidden,
    invalid_request,
    json_response,
    not_found,
    requires_auth,
    unauthorized,
)
from berth.http.api.v1.framework import ApiApp, ApiRoute, Ctx, Handler
from berth.http.api.v1.identity.access import org_access
from berth.http.api.v1.quota_views import limit_view, quota_view
from berth.http.api.v1.schema import validation_error
from berth.quotas.errors import InvalidQuota, QuotaNotFound
from berth.quotas.limits import parse_limit
from berth.quotas.services import Quota, QuotaService

T = TypeVar("T")

_LIMIT_PATTERN = {"type": "string", "description": "Human readable storage capacity"}
NEW_QUOTA = {
    "type": "object",
    "description": "Description of a new organization quota (one of limit_bytes, limit)",
    "properties": {
        "limit_bytes": {"type": "integer", "description": "Number of bytes allowed"},
        "limit": _LIMIT_PATTERN,
    },
}
UPDATE_QUOTA = {**NEW_QUOTA, "additionalProperties": False}
NEW_LIMIT = {
    "type": "object",
    "description": "Description of a new organization quota limit",
    "required": ["type", "threshold_percent"],
    "properties": {
        "type": {"type": "string", "description": 'Type of quota limit: "Warning" or "Reject"'},
        "threshold_percent": {"type": "integer", "description": "Quota threshold, in percent"},
    },
}
UPDATE_LIMIT = {
    "type": "object",
    "description": "Description of changing organization quota limit",
    "properties": NEW_LIMIT["properties"],
}

ORG = "org"
USER = "user"


def _svc(ctx: Ctx) -> QuotaService:
    return ctx.api.svc.quotas


async def _domain(call: Awaitable[T]) -> T:
    try:
        return await call
    except QuotaNotFound as e:
        raise not_found() from e
    except InvalidQuota as e:
        raise invalid_request(e.message) from e


def _id(ctx: Ctx, name: str) -> int:
    try:
        return int(ctx.params[name])
    except ValueError as e:
        raise not_found() from e


def _full_access(ctx: Ctx) -> bool:
    return ctx.caller.is_superuser and ctx.api.settings.api.superusers_full_access


def _require_writer(ctx: Ctx, *, fresh: bool = False) -> None:
    """Quay 3.16+: a superuser with FEATURE_SUPERUSERS_FULL_ACCESS, nobody else."""
    if ctx.caller.user is None:
        raise requires_auth()
    if not _full_access(ctx):
        raise forbidden()
    if fresh:
        ctx.require_fresh_login()


async def _require_org_reader(ctx: Ctx) -> str:
    """Quay's OrganizationMemberPermission (roles capped by the token's scopes) or a
    full-access superuser; 404 when the namespace is not an organization."""
    access = await org_access(ctx, ctx.params["orgname"])
    if not (access.is_member or access.reads_all):
        raise unauthorized(ctx.caller.authenticated)
    return access.require_org().name


def _limit_bytes(body: dict[str, Any], *, empty_ok: bool) -> int | None:
    """Quay's ``oneOf`` of ``limit_bytes`` and ``limit`` (``{}`` too, on PUT)."""
    given = [k for k in ("limit_bytes", "limit") if k in body]
    if len(given) != 1:
        if not given and empty_ok:
            return None
        rendered = validation_error(body, {"type": "null"}) or ""
        value = rendered.removesuffix(" is not of type 'null'")
        if given:
            raise invalid_request(
                f"{value} is valid under each of {{'required': ['limit']}}, "
                "{'required': ['limit_bytes']}"
            )
        raise invalid_request(f"{value} is not valid under any of the given schemas")
    if "limit_bytes" in body:
        return int(body["limit_bytes"])
    try:
        return parse_limit(body["limit"])
    except InvalidQuota as e:
        raise invalid_request(e.message) from e


def _default_exists(ctx: Ctx) -> bool:
    return ctx.api.settings.quotas.default_reject_bytes > 0


def _views(ctx: Ctx, quotas: list[Quota], *, with_default: bool = True) -> list[dict[str, Any]]:
    """The namespace's quotas; the system default when it has none (Quay's GET)."""
    if not quotas and with_default and _svc(ctx).default_quota is not None:
        quotas = [_svc(ctx).default_quota]  # type: ignore[list-item]  # checked above
    return [quota_view(q, default_exists=_default_exists(ctx)) for q in quotas]


# ---- handlers shared by the organization, user and superuser routes ----------------------
def _list(namespace_of: Any, kind: str) -> Handler:
    async def handler(ctx: Ctx) -> Response:
        namespace = await namespace_of(ctx)
        return json_response(_views(ctx, await _domain(_svc(ctx).quotas(namespace, kind))))

    return handler


def _get(namespace_of: Any, kind: str) -> Handler:
    async def handler(ctx: Ctx) -> Response:
        namespace = await namespace_of(ctx)
        quota = await _domain(_svc(ctx).quota(namespace, _id(ctx, "quota_id"), kind))
        return json_response(quota_view(quota, default_exists=_default_exists(ctx)))

    return handler


def _create(namespace_of: Any, kind: str, *, fresh: bool) -> Handler:
    async def handler(ctx: Ctx) -> Response:
        _require_writer(ctx, fresh=fresh)
        namespace = await namespace_of(ctx)
        body = await ctx.body(NEW_QUOTA)
        limit_bytes = _limit_bytes(body, empty_ok=False)
        assert limit_bytes is not None
        await _domain(
            _svc(ctx).create(namespace, limit_bytes, kind=kind, performer=ctx.performer())
        )
        return json_response("Created", 201)

    return handler


def _update(namespace_of: Any, kind: str, *, fresh: bool) -> Handler:
    async def handler(ctx: Ctx) -> Response:
        _require_writer(ctx, fresh=fresh)
        namespace = await namespace_of(ctx)
        body = await ctx.body(UPDATE_QUOTA)
        limit_bytes = _limit_bytes(body, empty_ok=True)
        quota = await _domain(
            _svc(ctx).update(
                namespace,
                _id(ctx, "quota_id"),
                limit_bytes,
                kind=kind,
                performer=ctx.performer(),
            )
        )
        return json_response(quota_view(quota, default_exists=_default_exists(ctx)))

    return handler


def _delete(namespace_of: Any, kind: str) -> Handler:
    async def handler(ctx: Ctx) -> Response:
        _require_writer(ctx)
        namespace = await namespace_of(ctx)
        await _domain(
            _svc(ctx).delete(namespace, _id(ctx, "quota_id"), kind=kind, performer=ctx.performer())
        )
        return Response(status_code=204)

    return handler


def _list_limits(namespace_of: Any, kind: str) -> Handler:
    async def handler(ctx: Ctx) -> Response:
        namespace = await namespace_of(ctx)
        quota = await _domain(_svc(ctx).quota(namespace, _id(ctx, "quota_id"), kind))
        return json_response([limit_view(lim) for lim in quota.limits])

    return handler


def _get_limit(namespace_of: Any, kind: str, *, as_quota: bool = False) -> Handler:
    async def handler(ctx: Ctx) -> Response:
        namespace = await namespace_of(ctx)
        quota_id = _id(ctx, "quota_id")
        limit = await _domain(_svc(ctx).limit(namespace, quota_id, _id(ctx, "limit_id"), kind))
        if as_quota:  # Quay's /user/quota/{id}/limit/{id} answers the quota (sic)
            quota = await _domain(_svc(ctx).quota(namespace, quota_id, kind))
            return json_response(quota_view(quota, default_exists=_default_exists(ctx)))
        return json_response(limit_view(limit))

    return handler


async def _limit_body(ctx: Ctx, schema: dict[str, Any]) -> dict[str, Any]:
    return await ctx.body(schema)


def _create_limit(namespace_of: Any, kind: str) -> Handler:
    async def handler(ctx: Ctx) -> Response:
        _require_writer(ctx)
        namespace = await namespace_of(ctx)
        body = await _limit_body(ctx, NEW_LIMIT)
        await _domain(
            _svc(ctx).create_limit(
                namespace,
                _id(ctx, "quota_id"),
                body["type"],
                body["threshold_percent"],
                kind=kind,
                performer=ctx.performer(),
            )
        )
        return json_response("Created", 201)

    return handler


def _update_limit(namespace_of: Any, kind: str) -> Handler:
    async def handler(ctx: Ctx) -> Response:
        _require_writer(ctx)
        namespace = await namespace_of(ctx)
        body = await _limit_body(ctx, UPDATE_LIMIT)
        quota = await _domain(
            _svc(ctx).update_limit(
                namespace,
                _id(ctx, "quota_id"),
                _id(ctx, "limit_id"),
                body.get("type"),
                body.get("threshold_percent"),
                kind=kind,
                performer=ctx.performer(),
            )
        )
        return json_response(quota_view(quota, default_exists=_default_exists(ctx)))

    return handler


def _delete_limit(namespace_of: Any, kind: str) -> Handler:
    async def handler(ctx: Ctx) -> Response:
        _require_writer(ctx)
        namespace = await namespace_of(ctx)
        await _domain(
            _svc(ctx).delete_limit(
                namespace,
                _id(ctx, "quota_id"),
                _id(ctx, "limit_id"),
                kind=kind,
                performer=ctx.performer(),
            )
        )
        return Response(status_code=204)

    return handler


# ---- whose quotas ------------------------------------------------------------------------
async def _own_namespace(ctx: Ctx) -> str:
    return ctx.require_user("user:admin").username


def _superuser_namespace(*, fresh: bool) -> Any:
    async def namespace_of(ctx: Ctx) -> str:
        ctx.require_superuser(fresh=fresh)
        return str(ctx.params["namespace"])

    return namespace_of


async def _org_writer_namespace(ctx: Ctx) -> str:
    """Writes check the superuser first (403 for anyone else, even for unknown orgs)."""
    return str(ctx.params["orgname"])


def routes(api: ApiApp) -> list[ApiRoute]:
    s = api.settings
    on = s.api.super_users_enabled and s.quotas.management and s.quotas.edit
    common: dict[str, Any] = {"tag": "namespacequota", "enabled": on}
    org_read: dict[str, Any] = {**common, "scopes": ("org:admin",)}
    writes: dict[str, Any] = {**common, "scopes": ("super:user",)}
    org = "/organization/{orgname}/quota"
    org_quota = org + "/{quota_id}"
    org_limits = org_quota + "/limit"
    org_limit = org_limits + "/{limit_id}"
    user = "/user/quota"
    table = [
        ApiRoute(
            "GET",
            org,
            _list(_require_org_reader, ORG),
            "Lists the organization's quota",
            **org_read,
        ),
        ApiRoute(
            "POST",
            org,
            _create(_org_writer_namespace, ORG, fresh=False),
            "Creates the organization's quota",
            body=NEW_QUOTA,
            body_name="NewOrgQuota",
            **writes,
        ),
        ApiRoute(
            "GET",
            org_quota,
            _get(_require_org_reader, ORG),
            "Fetches an organization quota",
            **org_read,
        ),
        ApiRoute(
            "PUT",
            org_quota,
            _update(_org_writer_namespace, ORG, fresh=False),
            "Changes an organization quota",
            body=UPDATE_QUOTA,
            body_name="UpdateOrgQuota",
            **writes,
        ),
        ApiRoute(
            "DELETE",
            org_quota,
            _delete(_org_writer_namespace, ORG),
            "Deletes an organization quota",
            **writes,
        ),
        ApiRoute(
            "GET",
            org_limits,
            _list_limits(_require_org_reader, ORG),
            "Lists a quota's limits",
            **org_read,
        ),
        ApiRoute(
            "POST",
            org_limits,
            _create_limit(_org_writer_namespace, ORG),
            "Creates a quota limit",
            body=NEW_LIMIT,
            body_name="NewOrgQuotaLimit",
            **writes,
        ),
        ApiRoute(
            "GET",
            org_limit,
            _get_limit(_require_org_reader, ORG),
            "Fetches a quota limit",
            **org_read,
        ),
        ApiRoute(
            "PUT",
            org_limit,
            _update_limit(_org_writer_namespace, ORG),
            "Changes a quota limit",
            body=UPDATE_LIMIT,
            body_name="UpdateOrgQuotaLimit",
            **writes,
        ),
        ApiRoute(
            "DELETE",
            org_limit,
            _delete_limit(_org_writer_namespace, ORG),
            "Deletes a quota limit",
            **writes,
        ),
        ApiRoute(
            "GET",
            user,
            _list(_own_namespace, USER),
            "Lists the caller's quota",
            scopes=("user:admin",),
            **common,
        ),
        ApiRoute(
            "GET",
            user + "/{quota_id}",
            _get(_own_namespace, USER),
            "Fetches the caller's quota",
            scopes=("user:admin",),
            **common,
        ),
        ApiRoute(
            "GET",
            user + "/{quota_id}/limit",
            _list_limits(_own_namespace, USER),
            "Lists the caller's quota limits",
            scopes=("user:admin",),
            **common,
        ),
        ApiRoute(
            "GET",
            user + "/{quota_id}/limit/{limit_id}",
            _get_limit(_own_namespace, USER, as_quota=True),
            "Fetches the caller's quota (Quay answers the quota)",
            scopes=("user:admin",),
            **common,
        ),
    ]
    for segment, kind in (("users", USER), ("organization", ORG)):
        base = f"/superuser/{segment}/{{namespace}}/quota"
        fresh_ns = _superuser_namespace(fresh=True)
        table += [
            ApiRoute(
                "GET", base, _list(fresh_ns, kind), f"Lists a {kind} namespace's quota", **writes
            ),
            ApiRoute(
                "POST",
                base,
                _create(fresh_ns, kind, fresh=True),
                f"Creates a {kind} namespace's quota",
                body=NEW_QUOTA,
                body_name="NewNamespaceQuota",
                **writes,
            ),
            ApiRoute(
                "PUT",
                base + "/{quota_id}",
                _update(fresh_ns, kind, fresh=True),
                f"Changes a {kind} namespace's quota",
                body=UPDATE_QUOTA,
                body_name="UpdateNamespaceQuota",
                **writes,
            ),
            ApiRoute(
                "DELETE",
                base + "/{quota_id}",
                _delete(_superuser_namespace(fresh=False), kind),
                f"Deletes a {kind} namespace's quota",
                **writes,
            ),
        ]
    return table
