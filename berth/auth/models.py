"""Registry token signing keys, shared by all replicas through the database."""

from __future__ import annotations

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from berth.db.base import Base, now_ms


class SigningKey(Base):
    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    private_key: Mapped[bytes] = mapped_column(LargeBinary)  # PEM, Fernet-encrypted
    public_key: Mapped[bytes] = mapped_column(LargeBinary)  # PEM
    created_at: Mapped[int] = mapped_column(default=now_ms)
    retired_at: Mapped[int | None] = mapped_column()
