"""The builds' tables.

``RepositoryBuild`` (Quay's RepositoryBuild): one row per build of a repository, with its
phase, times, display name, ``job_config`` (Quay's: ``docker_tags``, ``build_subdir``,
``context``, ``trigger_metadata``, ...), where its context comes from (``resource_key``: an
uploaded file's id; ``archive_url``; or a git URL, ref and commit, with an encrypted deploy
key), the pull robot, the error, who started it by hand (``manual_user``) or which trigger
(``trigger_uuid``, the trigger's uuid, None for manual builds). ``cancel_requested`` tells a
running executor to stop; ``retries_remaining`` counts the automatic retries after an
internal error (a lost worker).

``BuildLogEntry``: the build's log, one row per entry in order (``seq``), with Quay's kinds
(``phase``, ``command``, ``error``; None for an output line) and the entry's ``data``.

``BuildFile``: a context uploaded through ``/api/v1/filedrop/`` (its bytes in ``content``
once the PUT arrived); the hourly ``purge_build_files`` job forgets those older than a day
that no waiting or running build needs.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from berth.db.base import Base, now_ms


class RepositoryBuild(Base):
    __tablename__ = "repository_builds"
    __table_args__ = (
        Index("ix_repository_builds_repo_started", "repository_id", "started_at"),
        Index("ix_repository_builds_phase", "phase", "namespace_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"))
    namespace_id: Mapped[int] = mapped_column(ForeignKey("namespaces.id", ondelete="CASCADE"))
    phase: Mapped[str] = mapped_column(String(32))
    display_name: Mapped[str] = mapped_column(String(255))
    started_at: Mapped[int] = mapped_column(default=now_ms)
    ended_at: Mapped[int | None] = mapped_column()
    job_config: Mapped[dict[str, Any]] = mapped_column(JSON)
    resource_key: Mapped[str | None] = mapped_column(String(64))
    archive_url: Mapped[str | None] = mapped_column(String(2048))
    git_url: Mapped[str | None] = mapped_column(String(2048))
    git_ref: Mapped[str | None] = mapped_column(String(1024))
    commit_sha: Mapped[str | None] = mapped_column(String(64))
    git_key_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    pull_robot: Mapped[str | None] = mapped_column(String(255))
    error: Mapped[str | None] = mapped_column(Text)
    manual_user: Mapped[str | None] = mapped_column(String(255))
    performer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    trigger_uuid: Mapped[str | None] = mapped_column(String(36), index=True)
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    retries_remaining: Mapped[int] = mapped_column(default=1)
    log_count: Mapped[int] = mapped_column(default=0)
    logs_archived: Mapped[bool] = mapped_column(default=False)
    image_id: Mapped[str | None] = mapped_column(String(128))
    manifest_digest: Mapped[str | None] = mapped_column(String(128))
    executor: Mapped[str | None] = mapped_column(String(255))


class BuildLogEntry(Base):
    __tablename__ = "build_log_entries"
    __table_args__ = (UniqueConstraint("build_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    build_id: Mapped[int] = mapped_column(ForeignKey("repository_builds.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column()
    kind: Mapped[str | None] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[int] = mapped_column(default=now_ms)


class BuildFile(Base):
    __tablename__ = "build_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    file_id: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    mime_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int | None] = mapped_column()
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[int] = mapped_column(default=now_ms, index=True)
