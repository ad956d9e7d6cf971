"""Repositories, content-addressed blobs, manifests, tags and upload sessions.

Reference graph (what garbage collection walks):
  tag -> manifest -> (manifest_blobs) -> blob
                  -> (manifest_children) -> manifest      (index -> per-platform manifests)
  repository_blobs: a blob uploaded or mounted into a repository; makes it pullable there
  and, with ``linked_at``, protects fresh uploads from collection for the grace period.
A blob row is referenced iff some manifest_blobs or repository_blobs row points at it: the
link tables are the exact reference count.

Tags are never updated in place: moving or deleting a tag ends its row (``end_ts``) and a
move inserts a new row. A tag is alive while ``end_ts`` is NULL or in the future (a future
``end_ts`` is an expiration), so history and time-machine restore need no extra table.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from berth.authz import RepositoryState
from berth.db.base import Base, now_ms


class Repository(Base):
    __tablename__ = "repositories"
    __table_args__ = (UniqueConstraint("namespace_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    namespace_id: Mapped[int] = mapped_column(ForeignKey("namespaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    # "namespace/name", kept for the catalog: sorted and paged by the full name, on an index.
    full_name: Mapped[str] = mapped_column(String(512), unique=True)
    is_public: Mapped[bool] = mapped_column(default=False)
    # NORMAL | READ_ONLY | MIRROR | MARKED_FOR_DELETION (deleted, rows not yet removed)
    state: Mapped[str] = mapped_column(String(32), default=RepositoryState.NORMAL.value)
    kind: Mapped[str] = mapped_column(String(16), default="image")
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(default=now_ms)
    # Bytes of the distinct blobs (and manifests) this repository's manifests reference,
    # kept exact incrementally at push and at garbage collection (berth.registry.accounting).
    size_bytes: Mapped[int] = mapped_column(default=0)


class Blob(Base):
    __tablename__ = "blobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(200), unique=True)
    size: Mapped[int] = mapped_column()
    created_at: Mapped[int] = mapped_column(default=now_ms)


class RepositoryBlob(Base):
    __tablename__ = "repository_blobs"
    __table_args__ = (Index("ix_repository_blobs_blob_id", "blob_id"),)

    repository_id: Mapped[int] = mapped_column(
        ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True
    )
    blob_id: Mapped[int] = mapped_column(ForeignKey("blobs.id"), primary_key=True)
    linked_at: Mapped[int] = mapped_column(default=now_ms)


class Manifest(Base):
    __tablename__ = "manifests"
    __table_args__ = (
        UniqueConstraint("repository_id", "digest"),
        Index("ix_manifests_subject", "repository_id", "subject_digest"),
        # A digest across repositories: is a namespace still holding this manifest's bytes?
        Index("ix_manifests_digest", "digest"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"))
    digest: Mapped[str] = mapped_column(String(200))
    media_type: Mapped[str] = mapped_column(String(255))
    artifact_type: Mapped[str | None] = mapped_column(String(255))
    subject_digest: Mapped[str | None] = mapped_column(String(200))
    annotations: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column()  # manifest bytes + referenced blobs (deduplicated)
    # Quay's layers_compressed_size: the sum of the layer descriptors' sizes (None: an index).
    layers_size: Mapped[int | None] = mapped_column()
    created_at: Mapped[int] = mapped_column(default=now_ms)


class ManifestBlob(Base):
    """A manifest references a blob. ``repository_id`` and ``namespace_id`` are the
    manifest's (repositories never change namespace), kept here so "does another manifest
    of this repository / namespace reference the blob?" is one probe of
    ``ix_manifest_blobs_blob_scope`` (size accounting asks it for every pushed blob,
    garbage collection for every collected one) instead of a walk over every reference of
    a popular base layer or over every repository of a big namespace."""

    __tablename__ = "manifest_blobs"
    __table_args__ = (
        Index("ix_manifest_blobs_blob_scope", "blob_id", "namespace_id", "repository_id"),
    )

    manifest_id: Mapped[int] = mapped_column(
        ForeignKey("manifests.id", ondelete="CASCADE"), primary_key=True
    )
    blob_id: Mapped[int] = mapped_column(ForeignKey("blobs.id"), primary_key=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"))
    namespace_id: Mapped[int] = mapped_column(ForeignKey("namespaces.id", ondelete="CASCADE"))


class ManifestChild(Base):
    __tablename__ = "manifest_children"
    __table_args__ = (Index("ix_manifest_children_child_id", "child_id"),)

    parent_id: Mapped[int] = mapped_column(
        ForeignKey("manifests.id", ondelete="CASCADE"), primary_key=True
    )
    child_id: Mapped[int] = mapped_column(ForeignKey("manifests.id"), primary_key=True)


class Tag(Base):
    __tablename__ = "tags"
    __table_args__ = (
        Index("ix_tags_lookup", "repository_id", "name", "end_ts"),
        Index("ix_tags_history", "repository_id", "start_ts"),  # the tags API, newest first
        Index("ix_tags_manifest_id", "manifest_id"),
        Index("ix_tags_end_ts", "end_ts"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    manifest_id: Mapped[int] = mapped_column(ForeignKey("manifests.id"))
    start_ts: Mapped[int] = mapped_column(default=now_ms)
    end_ts: Mapped[int | None] = mapped_column()
    hidden: Mapped[bool] = mapped_column(default=False)
    reversion: Mapped[bool] = mapped_column(default=False)
    # Set through the tags API or the ``quay.immutable`` label; immutability policies add
    # pattern rules on top (berth.policies.immutability decides).
    immutable: Mapped[bool] = mapped_column(default=False)


class ManifestLabel(Base):
    """A key/value label on a manifest: read from the image config at push (``manifest``),
    added through the API (``api``, the only kind that can be deleted) or by Berth itself
    (``internal``)."""

    __tablename__ = "manifest_labels"
    __table_args__ = (Index("ix_manifest_labels_manifest", "manifest_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # a uuid4, Quay's label id
    manifest_id: Mapped[int] = mapped_column(ForeignKey("manifests.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(Text)
    value: Mapped[str] = mapped_column(Text)
    source_type: Mapped[str] = mapped_column(String(16))  # manifest | api | internal
    media_type: Mapped[str] = mapped_column(String(32))  # text/plain | application/json
    created_at: Mapped[int] = mapped_column(default=now_ms)


class Upload(Base):
    __tablename__ = "uploads"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"))
    size: Mapped[int] = mapped_column(default=0)
    storage_state: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Lease held while a chunk streams in: appends to one session never overlap, even
    # across processes and replicas; a crashed writer's lease simply runs out.
    busy_until: Mapped[int | None] = mapped_column()
    busy_by: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[int] = mapped_column(default=now_ms)
    updated_at: Mapped[int] = mapped_column(default=now_ms, index=True)


class TagPullStat(Base):
    """Pulls by tag name (FEATURE_IMAGE_PULL_STATS): counted at the pull log's flush, one
    upsert per distinct tag per flush (berth.registry.pulls). Keyed by name: moving a tag
    keeps its count, as Quay's."""

    __tablename__ = "tag_pull_stats"

    repository_id: Mapped[int] = mapped_column(
        ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True
    )
    tag_name: Mapped[str] = mapped_column(String(255), primary_key=True)
    pull_count: Mapped[int] = mapped_column(default=0)
    last_pull_at: Mapped[int] = mapped_column()  # ms


class ManifestPullStat(Base):
    """Pulls of a manifest (by tag or by digest), per repository and digest."""

    __tablename__ = "manifest_pull_stats"

    repository_id: Mapped[int] = mapped_column(
        ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True
    )
    digest: Mapped[str] = mapped_column(String(200), primary_key=True)
    pull_count: Mapped[int] = mapped_column(default=0)
    last_pull_at: Mapped[int] = mapped_column()  # ms
