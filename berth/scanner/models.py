"""The scanner's table: one row per indexed manifest digest (content-addressed, like Clair:
a manifest pushed to many repositories is indexed once).

``status``: ``indexed`` (``inventory`` holds the distribution and packages with their
layers), ``failed`` (``error`` says which layer and why), ``unsupported`` (an index, an
artifact), ``too_large`` (a layer over SECURITY_SCANNER_V4_INDEX_MAX_LAYER_SIZE). No row:
queued. Findings are not served from here: the security route matches the inventory against the
current vulnerability database, so an import shows at once without re-indexing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from berth.db.base import Base, now_ms


class ManifestSecurity(Base):
    __tablename__ = "manifest_security"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(255), unique=True)
    status: Mapped[str] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    inventory: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    scanner_version: Mapped[str] = mapped_column(String(64))
    indexed_at: Mapped[int] = mapped_column(default=now_ms)
    # The vulnerability database generation the findings were last matched against, and
    # those findings ("package|version|advisory" keys): a re-match after an import fires
    # ``vulnerability_found`` for the keys not seen before.
    matched_generation: Mapped[int] = mapped_column(default=0)
    findings: Mapped[list[str] | None] = mapped_column(JSON)
