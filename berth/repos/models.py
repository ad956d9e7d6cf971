"""Stars: the repositories a user follows (``GET /user/starred``, ``?starred=true``)."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from berth.db.base import Base, now_ms


class Star(Base):
    __tablename__ = "stars"
    __table_args__ = (Index("ix_stars_repository_id", "repository_id"),)

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    repository_id: Mapped[int] = mapped_column(
        ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[int] = mapped_column(default=now_ms)
