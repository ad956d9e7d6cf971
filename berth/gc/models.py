"""What each garbage-collection pass did: the superuser panel shows the last passes and the
bytes they freed (a job row keeps no result). Dry runs are not recorded."""

from __future__ import annotations

from sqlalchemy.orm import Mapped, mapped_column

from berth.db.base import Base, now_ms

KEEP_PASSES = 100  # older rows are deleted by the pass that writes the 101st


class GcPass(Base):
    __tablename__ = "gc_passes"

    id: Mapped[int] = mapped_column(primary_key=True)
    finished_at: Mapped[int] = mapped_column(default=now_ms, index=True)
    duration_ms: Mapped[int] = mapped_column()
    tags: Mapped[int] = mapped_column(default=0)
    manifests: Mapped[int] = mapped_column(default=0)
    blobs: Mapped[int] = mapped_column(default=0)
    bytes_freed: Mapped[int] = mapped_column(default=0)
    uploads: Mapped[int] = mapped_column(default=0)
