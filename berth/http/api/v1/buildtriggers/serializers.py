"""Builds as the trigger routes answer them: the builds routes' shape (Quay's
``build_status_view``) with the trigger in Quay's ``trigger_view`` form."""

from __future__ import annotations

from typing import Any

from berth.builds.types import BuildRecord
from berth.buildtriggers.services import TriggerView
from berth.http.api.v1.builds.serializers import build_view as builds_view
from berth.http.api.v1.trigger_views import trigger_for_build


def build_view(b: BuildRecord, trigger: TriggerView) -> dict[str, Any]:
    view = builds_view(b, can_write=True, can_admin=True)
    view["trigger"] = trigger_for_build(trigger, can_admin=True)
    return view
