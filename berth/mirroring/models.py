"""Repository mirror configurations (Quay's ``RepoMirrorConfig``).

One row per mirrored repository. The upstream credentials are encrypted with
DATABASE_SECRET_KEY (Fernet) and never returned. ``sync_*`` columns are the schedule and the
state Quay reports (``sync_status``: NEVER_RUN, SYNC_NOW, SYNCING, SUCCESS, FAIL, CANCEL);
``last_result`` is Berth's: the last sync's per-tag outcome.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from berth.db.base import Base, now_ms


class RepoMirrorConfig(Base):
    __tablename__ = "repo_mirror_configs"

    id: Mapped[int] = mapped_column(primary_key=True)
    repository_id: Mapped[int] = mapped_column(
        ForeignKey("repositories.id", ondelete="CASCADE"), unique=True
    )
    # The robot the mirror writes as (a robot of the repository's namespace).
    robot_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    is_enabled: Mapped[bool] = mapped_column(default=True)
    external_reference: Mapped[str] = mapped_column(String(2048))
    username_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    password_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    verify_tls: Mapped[bool] = mapped_column(default=True)
    unsigned_images: Mapped[bool] = mapped_column(default=False)
    # {"http_proxy": ..., "https_proxy": ..., "no_proxy": ...} (values may be null)
    proxy: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    root_rule: Mapped[list[str]] = mapped_column(JSON, default=list)  # tag globs
    architecture_filter: Mapped[list[str]] = mapped_column(JSON, default=list)
    sync_interval: Mapped[int] = mapped_column()  # seconds
    sync_start_ms: Mapped[int] = mapped_column(index=True)  # the next sync's start
    sync_expiration_ms: Mapped[int | None] = mapped_column()  # a running sync's deadline
    sync_retries_remaining: Mapped[int] = mapped_column(default=3)
    sync_status: Mapped[str] = mapped_column(String(16), default="NEVER_RUN")
    skopeo_timeout_interval: Mapped[int] = mapped_column(default=300)
    last_result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    last_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(default=now_ms)
