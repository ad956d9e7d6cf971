"""The build triggers table (Quay's RepositoryBuildTrigger).

A trigger belongs to a repository and is of one ``service`` (``custom-git``, ``github``,
``gitlab``, ``bitbucket``). It is created inactive (by ``/customtrigger/setup/...`` or an
SCM's OAuth callback) and becomes active when ``activate`` stores its checked ``config``
(Quay's keys: ``build_source``, ``dockerfile_path``, ``context``, ``branchtag_regex``,
``default_tag_from_ref``, ``latest_for_default_branch``, ``tag_templates``). Secrets are
Fernet-encrypted under DATABASE_SECRET_KEY: the webhook token (``webhook_secret``), the
deploy key's private half (``private_key``) and an SCM OAuth token (``auth_token``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from berth.db.base import Base, now_ms


class BuildTrigger(Base):
    __tablename__ = "build_triggers"
    __table_args__ = (Index("ix_build_triggers_repository", "repository_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"))
    service: Mapped[str] = mapped_column(String(32))
    connected_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    activated: Mapped[bool] = mapped_column(default=False)
    enabled: Mapped[bool] = mapped_column(default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(64))
    pull_robot_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    public_key: Mapped[str | None] = mapped_column(Text)
    private_key: Mapped[str | None] = mapped_column(Text)  # encrypted
    webhook_secret: Mapped[str | None] = mapped_column(Text)  # encrypted
    auth_token: Mapped[str | None] = mapped_column(Text)  # encrypted
    created_at: Mapped[int] = mapped_column(default=now_ms)
