"""The jobs table: background work enqueued in the same transaction as its cause."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from berth.db.base import Base, now_ms


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_claim", "state", "run_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default="queued")  # queued|running|done|failed
    run_at: Mapped[int] = mapped_column(default=now_ms)
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=5)
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_until: Mapped[int | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    dedupe_key: Mapped[str | None] = mapped_column(String(255), index=True)
    created_at: Mapped[int] = mapped_column(default=now_ms)
    finished_at: Mapped[int | None] = mapped_column()
