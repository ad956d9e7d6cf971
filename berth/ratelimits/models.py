"""Per-namespace rate limits set by superusers (they replace BERTH_RATE_LIMITS' figures for
requests into that namespace)."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from berth.db.base import Base, now_ms


class RateLimitOverride(Base):
    __tablename__ = "rate_limit_overrides"

    namespace_id: Mapped[int] = mapped_column(
        ForeignKey("namespaces.id", ondelete="CASCADE"), primary_key=True
    )
    surface: Mapped[str] = mapped_column(String(8), primary_key=True)  # v2 | api
    caller_limit: Mapped[int | None] = mapped_column()
    namespace_limit: Mapped[int | None] = mapped_column()
    window_s: Mapped[int] = mapped_column(default=60)
    updated_at: Mapped[int] = mapped_column(default=now_ms)
