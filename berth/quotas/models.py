"""A namespace's quota (one per namespace), its Warning/Reject limits, and when each quota
event was last reported (the cooldown).

``QuotaLimit.namespace_id`` repeats the quota's namespace so the push path reads a
namespace's quota and limits in one indexed query. Rows cascade with their namespace.
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from berth.db.base import Base, now_ms


class NamespaceQuota(Base):
    __tablename__ = "namespace_quotas"

    id: Mapped[int] = mapped_column(primary_key=True)
    namespace_id: Mapped[int] = mapped_column(
        ForeignKey("namespaces.id", ondelete="CASCADE"), unique=True
    )
    limit_bytes: Mapped[int] = mapped_column()
    created_at: Mapped[int] = mapped_column(default=now_ms)


class QuotaLimit(Base):
    __tablename__ = "quota_limits"
    __table_args__ = (Index("ix_quota_limits_namespace", "namespace_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    quota_id: Mapped[int] = mapped_column(
        ForeignKey("namespace_quotas.id", ondelete="CASCADE"), index=True
    )
    namespace_id: Mapped[int] = mapped_column(ForeignKey("namespaces.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # Warning | Reject
    percent: Mapped[int] = mapped_column()  # 1-100 of the quota's limit_bytes
    created_at: Mapped[int] = mapped_column(default=now_ms)


class QuotaNotice(Base):
    """The last time a quota event of a namespace was reported (QUOTA_NOTIFICATION_COOLDOWN)."""

    __tablename__ = "quota_notices"

    namespace_id: Mapped[int] = mapped_column(
        ForeignKey("namespaces.id", ondelete="CASCADE"), primary_key=True
    )
    event: Mapped[str] = mapped_column(String(32), primary_key=True)  # quota_warning | quota_error
    sent_at: Mapped[int] = mapped_column()
