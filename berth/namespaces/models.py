"""Namespaces: the names repositories live under, a user's own or an organization's.

A core table: the registry needs it for every repository, and the features that give a
namespace its meaning (accounts, organizations) build on it.
"""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from berth.db.base import Base, now_ms

USER_KIND = "user"
ORG_KIND = "org"


class Namespace(Base):
    """A name repositories live under: a user's own namespace or an organization."""

    __tablename__ = "namespaces"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # "user" | "org"
    enabled: Mapped[bool] = mapped_column(default=True)
    tag_expiration_s: Mapped[int] = mapped_column(default=1209600)
    email: Mapped[str | None] = mapped_column(String(255))  # organizations' contact e-mail
    created_at: Mapped[int] = mapped_column(default=now_ms)
    # Like repositories.size_bytes, deduplicated across the namespace's repositories: a blob
    # shared by two repositories counts once (the quota issue enforces limits on this).
    size_bytes: Mapped[int] = mapped_column(default=0)
