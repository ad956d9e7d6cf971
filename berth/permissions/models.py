"""Repository permissions (user, robot or team) and an organization's default permissions."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from berth.db.base import Base, now_ms


class RepositoryPermission(Base):
    """Exactly one of ``user_id`` (users and robots) and ``team_id`` is set."""

    __tablename__ = "repository_permissions"
    __table_args__ = (
        UniqueConstraint("repository_id", "user_id"),
        UniqueConstraint("repository_id", "team_id"),
        Index("ix_repository_permissions_user_id", "user_id"),
        Index("ix_repository_permissions_team_id", "team_id"),
        CheckConstraint("(user_id IS NULL) != (team_id IS NULL)", name="one_delegate"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))  # read | write | admin
    created_at: Mapped[int] = mapped_column(default=now_ms)


class Prototype(Base):
    """A default permission: applied to every repository created in the organization
    (only those created by ``activating_user_id`` when that is set)."""

    __tablename__ = "prototypes"
    __table_args__ = (
        Index("ix_prototypes_namespace_id", "namespace_id"),
        CheckConstraint(
            "(delegate_user_id IS NULL) != (delegate_team_id IS NULL)", name="one_delegate"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    namespace_id: Mapped[int] = mapped_column(ForeignKey("namespaces.id", ondelete="CASCADE"))
    activating_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE")
    )
    delegate_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    delegate_team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[int] = mapped_column(default=now_ms)
