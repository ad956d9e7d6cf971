"""The push listener the composition root gives the registry when the scanner is on: each
pushed tag enqueues the indexing of its manifest in the push's transaction (one Core
INSERT). With the scanner off it is not installed at all, so pushes pay nothing."""

from __future__ import annotations

from berth.audit.services import Performer
from berth.db.fast import Unit
from berth.jobs import enqueue_core
from berth.registry.repositories import RepoRow
from berth.scanner.tasks import INDEX_MANIFEST, IndexManifest


class IndexOnPush:
    async def tag_pushed(
        self, s: Unit, repo: RepoRow, tag: str, digest: str, performer: Performer | None
    ) -> None:
        await enqueue_core(s, INDEX_MANIFEST, IndexManifest(digest))
