"""The global messages table."""

from __future__ import annotations

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from berth.db.base import Base, now_ms


class Message(Base):
    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    content: Mapped[str] = mapped_column(Text)
    media_type: Mapped[str] = mapped_column(String(32))  # text/plain | text/markdown
    severity: Mapped[str] = mapped_column(String(16))  # info | warning | error
    created_at: Mapped[int] = mapped_column(default=now_ms)
