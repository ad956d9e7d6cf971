"""The scanner's job kind: index one manifest (long lane), enqueued by a push's transaction."""

from __future__ import annotations

from dataclasses import dataclass

from berth.jobs import JobKind, Lane, NoPayload


@dataclass(frozen=True)
class IndexManifest:
    digest: str


INDEX_MANIFEST = JobKind("index_manifest", IndexManifest, lane=Lane.LONG, max_attempts=3)

# Scheduled every SECURITY_SCANNER_INDEXING_INTERVAL: manifests matched against an older
# database generation than the current one are matched again (never re-indexed).
REMATCH_MANIFESTS = JobKind("rematch_manifests", NoPayload, lane=Lane.LONG, max_attempts=3)

# Scheduled every BERTH_SCANNER_UPDATE_INTERVAL when BERTH_SCANNER_UPDATE_SOURCES lists URLs:
# the network updater (berth/scanner/updater.py).
UPDATE_VULNDB = JobKind("update_vulndb", NoPayload, lane=Lane.LONG, max_attempts=1)
