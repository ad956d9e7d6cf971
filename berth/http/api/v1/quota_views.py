"""Quay's quota shapes (endpoints/api/namespacequota.py, organization.py), shared by the
quota routes and the organization, user and repository views (a module of the API's top,
like ``formats.py``: the identity and repository rooms use it without importing the quota
room, which itself uses the identity room's access checks)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from berth.config import Settings
from berth.quotas.limits import format_bytes
from berth.quotas.services import Limit, Quota, Report

if TYPE_CHECKING:
    from berth.services import Services


def limit_view(limit: Limit) -> dict[str, Any]:
    return {"id": limit.id, "type": limit.kind, "limit_percent": limit.percent}


def quota_view(quota: Quota, *, default_exists: bool) -> dict[str, Any]:
    """A quota as the quota routes answer it (``default_config``: the system default)."""
    return {
        "id": quota.id,
        "limit_bytes": quota.limit_bytes,
        "limit": format_bytes(quota.limit_bytes),
        "default_config": quota.is_default,
        "limits": [limit_view(lim) for lim in quota.limits],
        "default_config_exists": default_exists,
    }


def embedded_quota_view(quota: Quota) -> dict[str, Any]:
    """A quota inside an organization or user view: ``{id, limit_bytes, limits}``."""
    return {
        "id": quota.id,
        "limit_bytes": quota.limit_bytes,
        "limits": [limit_view(lim) for lim in quota.limits],
    }


def report_view(report: Report) -> dict[str, Any]:
    return {"quota_bytes": report.quota_bytes, "configured_quota": report.configured_quota}


def namespace_quota_fields(quota: Quota | None, report: Report) -> dict[str, Any]:
    """``quotas`` and ``quota_report`` of an organization or user view."""
    return {
        "quotas": [embedded_quota_view(quota)] if quota else [],
        "quota_report": report_view(report),
    }


def quotas_shown(settings: Settings) -> bool:
    """Views carry ``quotas``/``quota_report`` with FEATURE_QUOTA_MANAGEMENT and
    FEATURE_EDIT_QUOTA, as Quay's."""
    return settings.quotas.management and settings.quotas.edit


async def namespace_quota_view(svc: Services, namespace: str) -> dict[str, Any]:
    """``quotas`` and ``quota_report`` of one namespace (two indexed queries)."""
    found = (await svc.quotas.overview([namespace])).get(namespace)
    if found is None:
        return {}
    return namespace_quota_fields(*found)
