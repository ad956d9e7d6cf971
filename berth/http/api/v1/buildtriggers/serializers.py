"""Quay's trigger shape (``trigger_view`` with ``can_admin``)."""

from __future__ import annotations

from typing import Any

from berth.builds.types import BuildRecord
from berth.buildtriggers.services import TriggerView
from berth.http.api.v1.formats import format_date


def trigger_view(v: TriggerView) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": v.uuid,
        "service": v.service,
        "is_active": v.is_active,
        "build_source": v.build_source,
        "repository_url": v.repository_url,
        "config": v.config,
        "can_invoke": True,
        "enabled": v.enabled,
        "disabled_reason": v.disabled_reason,
    }
    if v.pull_robot:
        out["pull_robot"] = {"name": v.pull_robot, "kind": "user", "is_robot": True}
    return out


def build_view(b: BuildRecord, trigger: TriggerView | None = None) -> dict[str, Any]:
    """Quay's ``build_status_view`` as the trigger routes answer it (the builds routes have
    their own, with the same fields)."""
    return {
        "id": b.uuid,
        "phase": b.phase,
        "started": format_date(b.started_at),
        "display_name": b.display_name,
        "status": {},
        "subdirectory": b.subdirectory,
        "dockerfile_path": b.dockerfile_path,
        "context": b.context,
        "tags": b.docker_tags,
        "manual_user": b.manual_user,
        "is_writer": True,
        "trigger": (
            {
                "id": trigger.uuid,
                "service": trigger.service,
                "is_active": trigger.is_active,
                "build_source": trigger.build_source,
                "repository_url": trigger.repository_url,
                "config": {},
                "can_invoke": True,
                "enabled": trigger.enabled,
                "disabled_reason": trigger.disabled_reason,
            }
            if trigger is not None
            else None
        ),
        "trigger_metadata": b.trigger_metadata,
        "resource_key": b.resource_key,
        "pull_robot": (
            {"name": b.pull_robot, "kind": "user", "is_robot": True} if b.pull_robot else None
        ),
        "repository": {"namespace": b.namespace, "name": b.repository},
        "error": b.error,
        "archive_url": b.archive_url,
    }
