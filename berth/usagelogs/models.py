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
