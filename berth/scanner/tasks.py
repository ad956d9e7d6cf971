"""The scanner's job kind: index one manifest (long lane), enqueued by a push's transaction."""

from __future__ import annotations

from dataclasses import dataclass

from berth.jobs import JobKind, Lane


@dataclass(frozen=True)
class IndexManifest:
    digest: str


INDEX_MANIFEST = JobKind("index_manifest", IndexManifest, lane=Lane.LONG, max_attempts=3)
