"""Archive files of rotated usage-log entries: one row per file written into storage."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from berth.db.base import Base, now_ms


class LogArchive(Base):
    """A JSON-lines file of usage-log entries moved out of ``log_entries`` (ids
    ``first_id`` .. ``last_id``, ``entries`` of them). Storage is content-addressed:
    ``digest`` finds the bytes; ``name`` is Quay's archive file name under
    ACTION_LOG_ARCHIVE_PATH. Written in the transaction that deletes the rows."""

    __tablename__ = "log_archives"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(512), unique=True)
    digest: Mapped[str] = mapped_column(String(160))
    first_id: Mapped[int] = mapped_column()
    last_id: Mapped[int] = mapped_column()
    entries: Mapped[int] = mapped_column()
    size: Mapped[int] = mapped_column()
    created_at: Mapped[int] = mapped_column(default=now_ms)


class LogDayCount(Base):
    """Entries of one kind on one closed UTC day, for one filter (``scope``: the
    namespace, repository, performer and hidden kinds, as JSON): an aggregate over a month
    counts each closed day once. ``kind`` '' with count 0 marks a day without entries.
    Rotation drops the counts of the days it archives."""

    __tablename__ = "log_day_counts"

    scope: Mapped[str] = mapped_column(String(255), primary_key=True)
    day: Mapped[int] = mapped_column(primary_key=True)  # epoch ms of 00:00 UTC
    kind: Mapped[str] = mapped_column(String(64), primary_key=True)
    count: Mapped[int] = mapped_column()
