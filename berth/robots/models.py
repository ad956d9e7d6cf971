"""Robot accounts: a ``users`` row of kind "robot" named ``ns+short``, plus its token."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from berth.db.base import Base, now_ms


class RobotAccount(Base):
    __tablename__ = "robot_accounts"
    __table_args__ = (Index("ix_robot_accounts_namespace_id", "namespace_id"),)

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    namespace_id: Mapped[int] = mapped_column(ForeignKey("namespaces.id", ondelete="CASCADE"))
    description: Mapped[str] = mapped_column(Text, default="")
    unstructured_metadata: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The token is shown again on request (as Quay does): Fernet-encrypted with
    # DATABASE_SECRET_KEY; logins compare its SHA-256 so no decryption is needed.
    token_sha256: Mapped[str] = mapped_column(String(64))
    token_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[int] = mapped_column(default=now_ms)
