"""Proxy-cache organizations: the upstream of each, and what cached manifests still lack.

``ProxyCacheConfig``: one row per organization that proxies an upstream registry; the
credentials are encrypted with DATABASE_SECRET_KEY (Fernet) and never returned.

``PendingReference``: a manifest fetched from the upstream is stored at once (the client
asked for it), before the blobs and child manifests it references have been pulled; each
reference the repository lacks is a row here, and becomes a link (``manifest_blobs``,
``manifest_children``) when that content arrives. Rows cascade with their manifest.
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from berth.db.base import Base, now_ms


class ProxyCacheConfig(Base):
    __tablename__ = "proxy_cache_configs"

    id: Mapped[int] = mapped_column(primary_key=True)
    namespace_id: Mapped[int] = mapped_column(
        ForeignKey("namespaces.id", ondelete="CASCADE"), unique=True
    )
    upstream_registry: Mapped[str] = mapped_column(String(2048))
    username_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    password_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    expiration_s: Mapped[int] = mapped_column(default=86400)
    insecure: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[int] = mapped_column(default=now_ms)


class PendingReference(Base):
    __tablename__ = "proxy_cache_pending"
    __table_args__ = (Index("ix_proxy_cache_pending_repo_digest", "repository_id", "digest"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    manifest_id: Mapped[int] = mapped_column(
        ForeignKey("manifests.id", ondelete="CASCADE"), index=True
    )
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"))
    digest: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(8))  # "blob" | "child"
