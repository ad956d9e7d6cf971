"""Usage-log records (Quay's ``LogEntry``): one row per audited action, with Quay's log kinds."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from berth.db.base import Base, now_ms


class LogEntry(Base):
    """Names are stored next to ids: a log outlives the namespace, repository or user."""

    __tablename__ = "log_entries"
    __table_args__ = (
        Index("ix_log_entries_namespace_created", "namespace_id", "created_at"),
        Index("ix_log_entries_repository_created", "repository_id", "created_at"),
        Index("ix_log_entries_performer_created", "performer_id", "created_at"),
        Index("ix_log_entries_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    namespace_id: Mapped[int | None] = mapped_column()
    namespace: Mapped[str | None] = mapped_column(String(255))
    repository_id: Mapped[int | None] = mapped_column()
    repository: Mapped[str | None] = mapped_column(String(255))
    performer_id: Mapped[int | None] = mapped_column()
    performer: Mapped[str | None] = mapped_column(String(255))
    ip: Mapped[str | None] = mapped_column(String(64))
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    created_at: Mapped[int] = mapped_column(default=now_ms)
