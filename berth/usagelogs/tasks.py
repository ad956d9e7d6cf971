"""Usage-log jobs: an export (queued by the API, run in the long lane), the deletion of its
file once its link has expired, the periodic rotation of old entries into archive files,
and the hourly count of each closed day for the aggregates. Their handlers are
``UsageLogService.run_export``, ``delete_export``, ``rotate`` and ``sweep_days``, bound in
the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from berth.jobs import JobKind, Lane, NoPayload


@dataclass(frozen=True)
class ExportLogs:
    """Quay's export job details, plus the range in epoch milliseconds."""

    export_id: str
    namespace_id: int | None
    namespace_name: str | None
    repository_id: int | None
    repository_name: str | None
    start_time: str  # MM/DD/YYYY, as Quay sends it back in the callback
    end_time: str
    start_ms: int
    end_ms: int
    callback_url: str | None
    callback_email: str | None


@dataclass(frozen=True)
class DeleteLogExport:
    """An export's file (its digest in storage), deleted when its link has expired."""

    export_id: str
    digest: str


EXPORT_LOGS = JobKind("export_action_logs", ExportLogs, lane=Lane.LONG, max_attempts=3)
ROTATE_LOGS = JobKind("rotate_action_logs", NoPayload, lane=Lane.LONG)
SWEEP_LOG_DAYS = JobKind("count_action_log_days", NoPayload, lane=Lane.LONG)
DELETE_LOG_EXPORT = JobKind(
    "delete_action_logs_export", DeleteLogExport, lane=Lane.LONG, max_attempts=5
)
