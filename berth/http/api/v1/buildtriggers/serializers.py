"""Quay's trigger shape (``trigger_view`` with ``can_admin``)."""

from __future__ import annotations

from typing import Any

from berth.builds.types import BuildRecord
from berth.buildtriggers.services import TriggerView
from berth.http.api.v1.builds.serializers import build_view as builds_view


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


def build_view(b: BuildRecord, trigger: TriggerView) -> dict[str, Any]:
    """The builds routes' shape (Quay's ``build_status_view``), with the trigger in
    Quay's ``trigger_view`` form (``for_build``: no config)."""
    view = builds_view(b, can_write=True, can_admin=True)
    view["trigger"] = {**trigger_view(trigger), "config": {}}
    view["trigger"].pop("pull_robot", None)
    return view
