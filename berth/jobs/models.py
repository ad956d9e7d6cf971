"""The jobs table: background work enqueued in the same transaction as its cause."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from berth.db.base import Base, now_ms

# A job's states: waiting (or backing off until run_at), claimed by a runner (its lease runs
# until claimed_until, extended by heartbeats), finished, or given up after max_attempts.
STATES = ("queued", "running", "done", "dead")


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_claim", "state", "lane", "run_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    lane: Mapped[str] = mapped_column(String(16), default="long", server_default="long")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default="queued")  # one of STATES
    run_at: Mapped[int] = mapped_column(default=now_ms)
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=5)
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_until: Mapped[int | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    dedupe_key: Mapped[str | None] = mapped_column(String(255), index=True)
    created_at: Mapped[int] = mapped_column(default=now_ms)
    finished_at: Mapped[int | None] = mapped_column()
