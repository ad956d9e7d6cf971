"""Quay's JSON shapes of builds (``build_status_view``) and their logs."""

from __future__ import annotations

from typing import Any

from berth.builds.services import LogPage
from berth.builds.types import BuildRecord
from berth.http.api.v1.formats import format_date


def build_view(b: BuildRecord, *, can_write: bool, can_admin: bool) -> dict[str, Any]:
    """Quay's build: ``subdirectory`` and ``dockerfile_path`` both carry the Dockerfile's
    path (Quay's ``build_subdir``), ``context`` the context directory. The resource key
    and archive URL are shown to writers only; the trigger as ``{id}`` (the triggers
    feature fills in the rest)."""
    view: dict[str, Any] = {
        "id": b.uuid,
        "phase": b.phase,
        "started": format_date(b.started_at),
        "display_name": b.display_name,
        "status": {},
        "subdirectory": b.subdirectory,
        "dockerfile_path": b.dockerfile_path,
        "context": b.context,
        "tags": list(b.docker_tags),
        "manual_user": b.manual_user,
        "is_writer": can_write,
        "trigger": {"id": b.trigger_uuid} if b.trigger_uuid else None,
        "trigger_metadata": b.trigger_metadata if b.trigger_uuid else None,
        "resource_key": b.resource_key if can_write else None,
        "pull_robot": (
            {"name": b.pull_robot, "kind": "user", "is_robot": True} if b.pull_robot else None
        ),
        "repository": {"namespace": b.namespace, "name": b.repository},
        "error": b.error,
    }
    if can_write and b.archive_url:
        view["archive_url"] = b.archive_url
    return view


def logs_view(page: LogPage) -> dict[str, Any]:
    return {"start": page.start, "total": page.total, "logs": page.logs}
