"""Auto-prune and tag-immutability policies, per namespace or per repository.

A policy with ``repository_id`` NULL belongs to the whole namespace; otherwise to that one
repository (its ``namespace_id`` is then the repository's namespace, so a namespace's
policies of both levels are one indexed lookup). Rows cascade with their namespace or
repository.
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from berth.db.base import Base, now_ms


class _Scoped:
    """Columns every policy has: its id, whose it is, and the tag-name selection flag."""

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    namespace_id: Mapped[int] = mapped_column(ForeignKey("namespaces.id", ondelete="CASCADE"))
    repository_id: Mapped[int | None] = mapped_column(
        ForeignKey("repositories.id", ondelete="CASCADE"), index=True
    )
    tag_pattern_matches: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[int] = mapped_column(default=now_ms)


class AutoPrunePolicy(_Scoped, Base):
    __tablename__ = "autoprune_policies"
    __table_args__ = (Index("ix_autoprune_policies_scope", "namespace_id", "repository_id"),)

    method: Mapped[str] = mapped_column(String(32))  # number_of_tags | creation_date
    value: Mapped[str] = mapped_column(String(64))  # "10" or a duration such as "7d"
    tag_pattern: Mapped[str | None] = mapped_column(Text)


class ImmutabilityPolicy(_Scoped, Base):
    __tablename__ = "immutability_policies"
    __table_args__ = (Index("ix_immutability_policies_scope", "namespace_id", "repository_id"),)

    tag_pattern: Mapped[str] = mapped_column(String(256))
