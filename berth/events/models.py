"""Registry events (push, pull, delete): who, what, when, from where.

Written in batches off the hot path; usage logs, pull statistics and notifications read them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from berth.db.base import Base, now_ms


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (Index("ix_events_repo_time", "namespace", "repository", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))  # push_repo, pull_repo, delete_tag, ...
    namespace: Mapped[str] = mapped_column(String(255))
    repository: Mapped[str | None] = mapped_column(String(255))
    actor: Mapped[str | None] = mapped_column(String(255))
    actor_kind: Mapped[str] = mapped_column(String(16), default="anonymous")
    ip: Mapped[str | None] = mapped_column(String(64))
    tag: Mapped[str | None] = mapped_column(String(255))
    digest: Mapped[str | None] = mapped_column(String(200))
    meta: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[int] = mapped_column(default=now_ms)
