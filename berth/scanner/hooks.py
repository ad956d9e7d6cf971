"""The push listener the composition root gives the registry when the scanner is on: each
pushed tag enqueues the indexing of its manifest in the push's transaction (one Core
INSERT), unless that digest is already indexed by this scanner version (one indexed SELECT:
re-tagging an image, or pushing one base image to many repositories, enqueues nothing). With
the scanner off it is not installed at all, so pushes pay nothing."""

from __future__ import annotations

from sqlalchemy import bindparam, select

from berth.audit.services import Performer
from berth.db.fast import Unit
from berth.jobs import enqueue_core
from berth.registry.repositories import RepoRow
from berth.scanner.layers import SCANNER_VERSION
from berth.scanner.models import ManifestSecurity
from berth.scanner.tasks import INDEX_MANIFEST, IndexManifest

_MS = ManifestSecurity.__table__
_INDEXED = (
    select(_MS.c.id)
    .where(_MS.c.digest == bindparam("digest"), _MS.c.scanner_version == bindparam("version"))
    .limit(1)
)


class IndexOnPush:
    async def tag_pushed(
        self, s: Unit, repo: RepoRow, tag: str, digest: str, performer: Performer | None
    ) -> None:
        done = (await s.execute(_INDEXED, {"digest": digest, "version": SCANNER_VERSION})).first()
        if done is None:
            await enqueue_core(s, INDEX_MANIFEST, IndexManifest(digest))
