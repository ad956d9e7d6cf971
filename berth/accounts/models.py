"""User accounts (robots are users of kind "robot"); their namespaces are
``berth.namespaces.models.Namespace``."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from berth.db.base import Base, now_ms


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(255), unique=True)
    namespace_id: Mapped[int | None] = mapped_column(
        ForeignKey("namespaces.id", ondelete="CASCADE"), unique=True
    )
    email: Mapped[str | None] = mapped_column(String(255))
    password_hash: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(default=True)
    kind: Mapped[str] = mapped_column(String(16), default="user")  # "user" | "robot"
    superuser: Mapped[bool] = mapped_column(default=False)  # in addition to SUPER_USERS
    created_at: Mapped[int] = mapped_column(default=now_ms)
    last_accessed: Mapped[int | None] = mapped_column()
    # Browser sessions carry this; sign-out rotates it, ending every session of the user.
    session_uuid: Mapped[str | None] = mapped_column(String(36))
    # Login backoff (Quay's verify_user): consecutive wrong passwords and when the last was.
    invalid_login_attempts: Mapped[int] = mapped_column(default=0)
    last_invalid_login: Mapped[int | None] = mapped_column()
