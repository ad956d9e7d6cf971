"""Quay's trigger shape (``trigger_view``), shared like ``formats.py``: the trigger routes
answer it, and the builds routes embed it in each triggered build."""

from __future__ import annotations

from typing import Any

from berth.buildtriggers.services import TriggerView


def trigger_view(v: TriggerView) -> dict[str, Any]:
    """``trigger_view(..., can_admin=True)``."""
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


def trigger_for_build(trigger: TriggerView, *, can_admin: bool) -> dict[str, Any]:
    """``trigger_view(..., for_build=True)``: the config to admins only, no robot."""
    view = trigger_view(trigger)
    view.pop("pull_robot", None)
    if not can_admin:
        view["config"] = {}
        view["can_invoke"] = False
    return view
