"""Writing and reading usage-log records: the one record of what happened.

Every state-changing action writes its entry from the service, in the transaction that
makes the change: ``record`` adds the row to the caller's session, ``insert_log`` runs one
precompiled INSERT (it also works in a ``Database.write_fast`` unit, the push path's), so
the entry commits or rolls back with the action it describes. Only pulls are written later,
in batches (berth.registry.pulls). Kinds are Quay's ``LogEntryKind`` names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from berth.audit.errors import UnknownLogKind
from berth.audit.models import LogEntry
from berth.db.base import now_ms

LOG_KINDS = frozenset(
    {
        "create_repo", "delete_repo", "push_repo", "pull_repo", "change_repo_visibility",
        "set_repo_description", "change_repo_state",
        "add_repo_permission", "change_repo_permission", "delete_repo_permission",
        "org_create", "org_delete", "org_change_email", "org_change_tag_expiration",
        "org_change_name",
        "org_create_team", "org_delete_team", "org_set_team_description", "org_set_team_role",
        "org_add_team_member", "org_remove_team_member", "org_invite_team_member",
        "org_delete_team_member_invite", "org_team_member_invite_accepted",
        "org_team_member_invite_declined",
        "create_prototype_permission", "modify_prototype_permission",
        "delete_prototype_permission",
        "create_robot", "delete_robot", "regenerate_robot_token",
        "create_robot_federation", "delete_robot_federation", "federated_robot_token_exchange",
        "user_create", "user_delete", "user_disable", "user_enable", "user_change_email",
        "user_change_password", "user_change_tag_expiration",
        "login_success", "login_failure", "logout",
        "pull_repo_failed", "push_repo_failed", "delete_tag_failed",
        "create_application", "update_application", "delete_application",
        "reset_application_client_secret", "create_app_specific_token",
        "revoke_app_specific_token",
        "create_tag", "move_tag", "delete_tag", "revert_tag", "change_tag_expiration",
        "manifest_label_add", "manifest_label_delete",
        "create_namespace_autoprune_policy", "update_namespace_autoprune_policy",
        "delete_namespace_autoprune_policy", "create_repository_autoprune_policy",
        "update_repository_autoprune_policy", "delete_repository_autoprune_policy",
        "autoprune_tag_delete",
        "create_immutability_policy", "update_immutability_policy", "delete_immutability_policy",
        "add_repo_notification", "delete_repo_notification", "reset_repo_notification",
        "export_logs_success", "export_logs_failure",
        "org_create_quota", "org_change_quota", "org_delete_quota", "org_create_quota_limit",
        "org_change_quota_limit", "org_delete_quota_limit",
        # Berth's record of quota events until notifications deliver them (berth.quotas.events)
        "quota_warning", "quota_error",
        # Berth's: per-namespace rate limits (berth.ratelimits)
        "change_namespace_rate_limit", "delete_namespace_rate_limit",
        "create_proxy_cache_config", "delete_proxy_cache_config",
        # build triggers (berth.buildtriggers)
        "setup_repo_trigger", "delete_repo_trigger", "toggle_repo_trigger",
        # Dockerfile builds (berth.builds): Quay's queued build; cancel is Berth's record
        "build_dockerfile", "cancel_build",
        "repo_mirror_enabled", "repo_mirror_disabled", "repo_mirror_config_changed",
        "repo_mirror_sync_started", "repo_mirror_sync_success", "repo_mirror_sync_failed",
        "repo_mirror_sync_now_requested", "repo_mirror_sync_tag_success",
        "repo_mirror_sync_tag_failed",
        # Berth's: a sync-cancel (Quay logs none)
        "repo_mirror_sync_cancelled",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Performer:
    """Who did it: a user or robot (name and id) and from where. ``oauth_token_id``: the
    OAuth token the request came with, logged in the metadata as Quay does."""

    name: str | None
    id: int | None = None
    ip: str | None = None
    oauth_token_id: str | None = None


@dataclass(frozen=True)
class LogRecord:
    kind: str
    namespace: str | None
    repository: str | None
    performer: str | None
    ip: str | None
    metadata: dict[str, Any]
    created_at: int


def log_values(
    kind: str,
    namespace: str | None,
    performer: Performer | str | None,
    repository: str | None = None,
    metadata: dict[str, Any] | None = None,
    *,
    namespace_id: int | None = None,
    repository_id: int | None = None,
    created_at: int | None = None,
) -> dict[str, Any]:
    """The column values of one log entry (every column: fast units run no defaults)."""
    if kind not in LOG_KINDS:
        raise UnknownLogKind(kind)
    if isinstance(performer, str):
        performer = Performer(performer)
    meta = dict(metadata or {})
    if performer is not None and performer.oauth_token_id is not None:
        meta["oauth_token_id"] = performer.oauth_token_id
    return {
        "kind": kind,
        "namespace_id": namespace_id,
        "namespace": namespace,
        "repository_id": repository_id,
        "repository": repository,
        "performer_id": performer.id if performer else None,
        "performer": performer.name if performer else None,
        "ip": performer.ip if performer else None,
        "meta": meta,
        "created_at": now_ms() if created_at is None else created_at,
    }


def record(
    session: AsyncSession,
    kind: str,
    namespace: str | None,
    performer: Performer | str | None,
    repository: str | None = None,
    metadata: dict[str, Any] | None = None,
    *,
    namespace_id: int | None = None,
    repository_id: int | None = None,
) -> None:
    """Add one log entry to ``session`` (written with the caller's transaction)."""
    session.add(
        LogEntry(
            **log_values(
                kind,
                namespace,
                performer,
                repository,
                metadata,
                namespace_id=namespace_id,
                repository_id=repository_id,
            )
        )
    )


INSERT_LOG = LogEntry.__table__.insert()  # built once: the push path writes one per push


async def insert_logs(s: Any, rows: list[dict[str, Any]]) -> None:
    """Write ``log_values`` rows with one precompiled INSERT in the caller's unit (an
    ``AsyncSession`` or a fast unit): they commit or roll back with it. The column is
    ``metadata`` in the table, ``meta`` on the model."""
    params = [_table_row(row) for row in rows]
    if params:
        await s.execute(INSERT_LOG, params if len(params) > 1 else params[0])


_BATCH_COLUMNS = (
    "kind", "namespace_id", "namespace", "repository_id", "repository",
    "performer_id", "performer", "ip", "metadata", "created_at",
)  # fmt: skip


LogTuple = tuple[
    str,
    int | None,
    str | None,
    int | None,
    str | None,
    int | None,
    str | None,
    str | None,
    str,
    int,
]  # the values of _BATCH_COLUMNS, metadata already JSON


def log_tuple(row: dict[str, Any]) -> LogTuple:
    """A ``log_values`` row as the batch INSERT's values."""
    return (
        row["kind"], row["namespace_id"], row["namespace"], row["repository_id"],
        row["repository"], row["performer_id"], row["performer"], row["ip"],
        orjson.dumps(row["meta"], option=orjson.OPT_NON_STR_KEYS).decode(), row["created_at"],
    )  # fmt: skip


async def insert_log_batch(s: AsyncSession, rows: list[LogTuple]) -> None:
    """Write many rows (``log_tuple``; the pull log builds its own) in the caller's session
    as one driver-level executemany: a compiled statement spends ~5 us a row on parameter
    processing, most of a flush of thousands of pulls (``berth.registry.pulls``)."""
    if not rows:
        return

    def insert(session: Session) -> None:
        conn = session.connection()
        marks = _placeholders(conn.dialect.paramstyle, len(_BATCH_COLUMNS))
        # Constant column names and driver placeholders: nothing from a request is in the
        # statement's text.
        sql = f"INSERT INTO log_entries ({', '.join(_BATCH_COLUMNS)}) VALUES ({marks})"  # noqa: S608
        conn.exec_driver_sql(sql, rows)

    # run_sync, not AsyncConnection.exec_driver_sql: the latter insists that the driver
    # suspended, and the embedded default's inline SQLite driver does not.
    await s.run_sync(insert)


def _placeholders(paramstyle: str, n: int) -> str:
    if paramstyle == "qmark":
        return ", ".join("?" * n)
    if paramstyle == "numeric_dollar":
        return ", ".join(f"${i}" for i in range(1, n + 1))
    if paramstyle in ("format", "pyformat"):
        return ", ".join(["%s"] * n)
    raise ValueError(f"no batch insert for paramstyle {paramstyle!r}")


def _table_row(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in row.items() if k != "meta"}
    out["metadata"] = row["meta"]
    return out


async def list_logs(
    session: AsyncSession,
    *,
    namespace: str | None = None,
    repository: str | None = None,
    performer: str | None = None,
    kind: str | None = None,
    limit: int = 100,
) -> list[LogRecord]:
    """Newest first."""
    stmt = select(LogEntry).order_by(LogEntry.created_at.desc(), LogEntry.id.desc()).limit(limit)
    if namespace is not None:
        stmt = stmt.where(LogEntry.namespace == namespace)
    if repository is not None:
        stmt = stmt.where(LogEntry.repository == repository)
    if performer is not None:
        stmt = stmt.where(LogEntry.performer == performer)
    if kind is not None:
        stmt = stmt.where(LogEntry.kind == kind)
    rows = (await session.execute(stmt)).scalars().all()
    return [
        LogRecord(r.kind, r.namespace, r.repository, r.performer, r.ip, r.meta, r.created_at)
        for r in rows
    ]
