"""Online, incremental garbage collection: no read-only mode, pushes and pulls go on.

One pass, every step idempotent and done in short transactions (``batch_size`` rows each),
so killing it anywhere and running it again loses nothing and a huge registry never holds
a long transaction:

Steps 1-3 visit only the repositories that three read-only scans find work in (expired tag
rows, manifests nothing holds, stale links), so a pass over a large, quiet registry is
three queries rather than a transaction per repository.

1. Tags past the time machine. Tag rows whose ``end_ts`` is older than the namespace's
   window (``namespaces.tag_expiration_s``) are deleted; rows still inside it stay, so
   their manifests stay restorable.
2. Manifests. A manifest is kept while any tag row (live or in the window) points at it,
   or a kept index lists it (``manifest_children``). Each batch deletes manifests with no
   tag row and no parent; deleting an index orphans its children, which the next batch
   takes, until nothing is left. Referrers (``subject_digest``) live and die with their
   subject: in the transaction that deletes a subject, the tag rows of its referrers are
   deleted too, so they go in a later batch (a referrer pushed before its subject is not
   touched: its subject was never deleted). Repository and namespace sizes drop by what
   only the deleted manifests held (berth.registry.accounting), in the same transaction.
3. Repository links. ``repository_blobs`` rows older than the grace period that no
   manifest of the repository references are deleted. The grace period (default one
   hour, as Quay; ``--grace``) protects blobs uploaded, re-uploaded or mounted recently:
   each of those refreshes ``linked_at``.
4. Blobs. Blob rows nothing references any more (no link, no manifest) are deleted with
   their stored bytes. The empty JSON blob is never collected (manifests reference it
   without uploading it).
5. Upload sessions idle longer than BERTH_UPLOAD_EXPIRY are purged (registry.tasks).

Why concurrent pushes are safe (the protocol):
- Steps 1-3 run per repository, each transaction holding the repository row
  (``FOR UPDATE`` on PostgreSQL; SQLite serializes writers). A manifest push holds the
  same row (``FOR KEY SHARE``: other pushes share it, the collector waits for it) from
  reading the repository's links to committing its manifest, so a push either commits
  first (its references are then seen) or finds the stale link already gone and answers
  MANIFEST_BLOB_UNKNOWN (the client uploads again). Nothing a push references is ever
  removed under it.
- Step 4 claims candidate blob rows ``FOR UPDATE SKIP LOCKED`` (a blob being linked right
  now is skipped), then re-checks "no link, no manifest" in a new statement, deletes the
  rows, deletes the bytes, and only then commits. Every path that links a blob
  (upload commit, monolithic upload, mount) first claims the blob row ``FOR KEY SHARE``
  and then checks that the bytes exist (BlobService._link), all in the transaction that
  writes the link. So bytes are only deleted while their row is held and gone from every
  other transaction's view, and a link is only written after the bytes were seen while the
  row was held: no link ever points at missing bytes. The rare loser of that race (an
  upload whose identical bytes were collected between its storage write and its link) gets
  BLOB_UPLOAD_INVALID and uploads again.
- A crash after step 4 deleted bytes but before its commit leaves unreferenced rows whose
  bytes are gone: harmless (nothing references them; any new link re-checks the bytes) and
  removed by the next pass.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, exists, func, select, union
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from berth.db.base import now_ms
from berth.db.session import Database
from berth.gc.models import KEEP_PASSES, GcPass
from berth.metrics import NullRecorder, Recorder
from berth.namespaces.models import Namespace
from berth.oci.mediatypes import EMPTY_JSON_DIGEST
from berth.registry import accounting
from berth.registry import tasks as registry_tasks
from berth.registry.cache import NoCache, ReadCache
from berth.registry.models import (
    Blob,
    Manifest,
    ManifestBlob,
    ManifestChild,
    Repository,
    RepositoryBlob,
    Tag,
    Upload,
)
from berth.storage.base import BlobStorage

log = logging.getLogger(__name__)

DEFAULT_GRACE_S = 3600
STORAGE_CONCURRENCY = 16

#: ``progress(stage, done, total)``: stages "repositories" then "blobs".
Progress = Callable[[str, int, int], None]


@dataclass
class RepoOutcome:
    """What a pass did (or, dry, would do) in one repository."""

    repository: str
    tags: int = 0  # tag rows deleted (past the window, or referrers' with their subject)
    manifests: int = 0
    links: int = 0  # repository_blobs rows deleted
    released: int = 0  # drop of the repository's size_bytes
    blobs: int = 0  # blobs freed from storage that this repository held last
    freed: int = 0  # their bytes

    @property
    def changed(self) -> bool:
        return bool(self.tags or self.manifests or self.links or self.blobs)


@dataclass(frozen=True)
class GcPassInfo:
    """A pass as the superuser panel shows it."""

    finished_at: int  # ms
    seconds: float
    tags: int
    manifests: int
    blobs: int
    bytes_freed: int
    uploads: int


def _pass_info(p: GcPass) -> GcPassInfo:
    return GcPassInfo(
        p.finished_at, p.duration_ms / 1000, p.tags, p.manifests, p.blobs, p.bytes_freed, p.uploads
    )


@dataclass
class GcReport:
    dry_run: bool
    grace_s: int
    repositories: list[RepoOutcome] = field(default_factory=list)
    blobs: int = 0
    freed: int = 0
    uploads: int = 0
    skipped: list[str] = field(default_factory=list)  # repositories that hit a conflict
    seconds: float = 0.0

    @property
    def tags(self) -> int:
        return sum(r.tags for r in self.repositories)

    @property
    def manifests(self) -> int:
        return sum(r.manifests for r in self.repositories)

    @property
    def links(self) -> int:
        return sum(r.links for r in self.repositories)


@dataclass
class _Ledger:
    """What this pass removed so far: who released each blob, and (dry) what is gone."""

    dry_run: bool
    releaser: dict[int, RepoOutcome] = field(default_factory=dict)  # blob id -> first releaser
    manifests: set[int] = field(default_factory=set)  # dry run: deleted manifest ids
    links: set[tuple[int, int]] = field(default_factory=set)  # dry run: (repository, blob)

    def released(self, outcome: RepoOutcome, blob_ids: Sequence[int]) -> None:
        for blob_id in blob_ids:
            self.releaser.setdefault(blob_id, outcome)

    def freed(self, report: GcReport, blobs: Sequence[tuple[int, int]]) -> None:
        """Count freed ``(blob id, size)`` pairs in the report and on their releasers."""
        for blob_id, size in blobs:
            report.blobs += 1
            report.freed += size
            outcome = self.releaser.get(blob_id)
            if outcome is not None:
                outcome.blobs += 1
                outcome.freed += size


class _Rollback(Exception):
    """Ends a dry run's transaction without committing it."""


def _unreferenced() -> Any:
    return (
        ~exists().where(RepositoryBlob.blob_id == Blob.id),
        ~exists().where(ManifestBlob.blob_id == Blob.id),
        Blob.digest != EMPTY_JSON_DIGEST,
    )


def _past_window(now: int, window_s: Any) -> tuple[Any, ...]:
    """Tag rows that ended longer ago than the namespace's time-machine window (seconds)."""
    return (Tag.end_ts.is_not(None), Tag.end_ts < now - window_s * 1000)


def _unheld() -> tuple[Any, ...]:
    """Manifests no tag row points at and no index lists."""
    return (
        ~exists().where(Tag.manifest_id == Manifest.id),
        ~exists().where(ManifestChild.child_id == Manifest.id),
    )


def _link_referenced(namespace_id: Any, repository_id: Any) -> Any:
    """A manifest of the repository references the linked blob (a probe of
    ix_manifest_blobs_blob_scope)."""
    return exists().where(
        ManifestBlob.blob_id == RepositoryBlob.blob_id,
        ManifestBlob.namespace_id == namespace_id,
        ManifestBlob.repository_id == repository_id,
    )


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


class GarbageCollector:
    def __init__(
        self,
        db: Database,
        storage: BlobStorage,
        *,
        upload_expiry_s: int,
        default_grace_s: int = DEFAULT_GRACE_S,
        cache: ReadCache[Any] | None = None,
        batch_size: int = 500,
        metrics: Recorder | None = None,
    ) -> None:
        self.db = db
        self.storage = storage
        self.upload_expiry_s = upload_expiry_s
        self.default_grace_s = default_grace_s
        self.cache: ReadCache[Any] = cache if cache is not None else NoCache()
        self.batch_size = batch_size
        self.metrics: Recorder = metrics or NullRecorder()

    async def collect(
        self,
        *,
        grace_s: int | None = None,
        dry_run: bool = False,
        progress: Progress | None = None,
    ) -> GcReport:
        """One pass over the whole registry (see the module docstring)."""
        started = time.monotonic()
        grace = self.default_grace_s if grace_s is None else grace_s
        report = GcReport(dry_run=dry_run, grace_s=grace)
        ledger = _Ledger(dry_run)
        now = now_ms()
        link_cutoff = now - grace * 1000
        repos = await self._candidates(now, link_cutoff)
        for done, (repo_id, name) in enumerate(repos, 1):
            outcome = RepoOutcome(name)
            try:
                await self._repository(repo_id, outcome, ledger, now, link_cutoff)
            except IntegrityError as e:  # e.g. a tag written concurrently onto a doomed manifest
                log.warning("gc: repository %s skipped this pass: %s", name, e.orig)
                report.skipped.append(name)
            report.repositories.append(outcome)
            if progress:
                progress("repositories", done, len(repos))
        if dry_run:
            await self._blobs_dry(report, ledger, progress)
            report.uploads = await self._stale_uploads()
        else:
            await self._blobs(report, ledger, progress)
            purged = await registry_tasks.purge_expired_uploads(
                self.db, self.storage, expiry_s=self.upload_expiry_s
            )
            report.uploads = int(purged["expired"])
        report.repositories = [r for r in report.repositories if r.changed]
        report.seconds = time.monotonic() - started
        if not dry_run:
            self.metrics.gc_pass(blobs_freed=report.blobs, bytes_freed=report.freed)
            await self._remember(report)
        log.info(
            "gc%s: %d tags, %d manifests, %d links, %d blobs (%d bytes) in %.2fs",
            " (dry run)" if dry_run else "",
            report.tags,
            report.manifests,
            report.links,
            report.blobs,
            report.freed,
            report.seconds,
        )
        return report

    async def _remember(self, report: GcReport) -> None:
        """Keep what the pass did (the last KEEP_PASSES passes) for the superuser panel."""
        async with self.db.write() as s:
            s.add(
                GcPass(
                    finished_at=now_ms(),
                    duration_ms=round(report.seconds * 1000),
                    tags=report.tags,
                    manifests=report.manifests,
                    blobs=report.blobs,
                    bytes_freed=report.freed,
                    uploads=report.uploads,
                )
            )
            await s.flush()
            keep_from = (
                select(GcPass.id).order_by(GcPass.id.desc()).offset(KEEP_PASSES - 1).limit(1)
            ).scalar_subquery()
            await s.execute(delete(GcPass).where(GcPass.id < keep_from))

    async def recent_passes(self, limit: int = 20) -> list[GcPassInfo]:
        """The last passes, newest first."""
        async with self.db.read() as s:
            rows = (
                await s.execute(select(GcPass).order_by(GcPass.id.desc()).limit(limit))
            ).scalars()
            return [_pass_info(p) for p in rows]

    # ---- steps 1-3: one repository ---------------------------------------------------------
    async def _candidates(self, now: int, link_cutoff: int) -> list[tuple[int, str]]:
        """The repositories where steps 1-3 have work, found by three read-only scans.

        Visiting every repository cost a write transaction each (the registry's write lock
        on SQLite): at 10,000 repositories a pass held the event loop for seconds even with
        nothing to collect. A repository whose work appears after these scans is taken by
        the next pass; one whose work disappeared is checked again under its lock.
        """
        expired = (
            select(Tag.repository_id)
            .join(Repository, Repository.id == Tag.repository_id)
            .join(Namespace, Namespace.id == Repository.namespace_id)
            .where(*_past_window(now, Namespace.tag_expiration_s))
        )
        unreferenced = select(Manifest.repository_id).where(*_unheld())
        stale_links = (
            select(RepositoryBlob.repository_id)
            .join(Repository, Repository.id == RepositoryBlob.repository_id)
            .where(
                RepositoryBlob.linked_at < link_cutoff,
                ~_link_referenced(Repository.namespace_id, RepositoryBlob.repository_id),
            )
        )
        async with self.db.read() as s:
            rows = await s.execute(
                select(Repository.id, Repository.full_name)
                .where(Repository.id.in_(union(expired, unreferenced, stale_links)))
                .order_by(Repository.id)
            )
            return [(repo_id, name) for repo_id, name in rows]

    async def _repository(
        self, repo_id: int, outcome: RepoOutcome, ledger: _Ledger, now: int, link_cutoff: int
    ) -> None:
        if ledger.dry_run:
            # Everything in one transaction that is rolled back: the real steps, undone.
            try:
                async with self.db.write() as s:
                    if await self._lock(s, repo_id):
                        while await self._step(s, repo_id, outcome, ledger, now, link_cutoff):
                            pass
                    raise _Rollback
            except _Rollback:
                return
        while True:
            async with self.db.write() as s:
                more = await self._lock(s, repo_id) and await self._step(
                    s, repo_id, outcome, ledger, now, link_cutoff
                )
            if not more:
                return
            self.cache.invalidate(outcome.repository)  # after commit

    @staticmethod
    async def _lock(s: AsyncSession, repo_id: int) -> bool:
        """Hold the repository row against pushes (``FOR UPDATE``: it waits for pushes'
        ``FOR KEY SHARE`` and they for it); False if the repository is gone."""
        found = await s.execute(
            select(Repository.id).where(Repository.id == repo_id).with_for_update()
        )
        return found.scalar() is not None

    async def _step(
        self,
        s: AsyncSession,
        repo_id: int,
        outcome: RepoOutcome,
        ledger: _Ledger,
        now: int,
        link_cutoff: int,
    ) -> bool:
        """One batch of the first step with work left; False when none has any."""
        return (
            await self._expired_tags(s, repo_id, outcome, now)
            or await self._manifests(s, repo_id, outcome, ledger)
            or await self._links(s, repo_id, outcome, ledger, link_cutoff)
        )

    async def _expired_tags(
        self, s: AsyncSession, repo_id: int, outcome: RepoOutcome, now: int
    ) -> bool:
        window_s = (
            select(Namespace.tag_expiration_s)
            .join(Repository, Repository.namespace_id == Namespace.id)
            .where(Repository.id == repo_id)
            .scalar_subquery()
        )
        ids = list(
            (
                await s.execute(
                    select(Tag.id)
                    .where(
                        Tag.repository_id == repo_id,
                        *_past_window(now, window_s),
                    )
                    .limit(self.batch_size)
                )
            ).scalars()
        )
        if ids:
            await s.execute(delete(Tag).where(Tag.id.in_(ids)))
            outcome.tags += len(ids)
        return bool(ids)

    async def _manifests(
        self, s: AsyncSession, repo_id: int, outcome: RepoOutcome, ledger: _Ledger
    ) -> bool:
        rows = (
            await s.execute(
                select(Manifest.id, Manifest.digest)
                .where(
                    Manifest.repository_id == repo_id,
                    *_unheld(),
                )
                .limit(self.batch_size)
            )
        ).all()
        if not rows:
            return False
        ids = [r[0] for r in rows]
        blob_ids = list(
            (
                await s.execute(
                    select(ManifestBlob.blob_id).where(ManifestBlob.manifest_id.in_(ids)).distinct()
                )
            ).scalars()
        )
        ledger.released(outcome, blob_ids)
        if ledger.dry_run:
            ledger.manifests.update(ids)
        outcome.released += (await accounting.release_manifests(s, repo_id, ids)).repository
        # Referrers die with their subject: their tags go now, the manifests next batch.
        referrers = select(Manifest.id).where(
            Manifest.repository_id == repo_id,
            Manifest.subject_digest.in_([r[1] for r in rows]),
            Manifest.id.not_in(ids),
        )
        ended = await s.execute(delete(Tag).where(Tag.manifest_id.in_(referrers)))
        outcome.tags += int(ended.rowcount or 0)  # type: ignore[attr-defined]  # rowcount: a DML result is a CursorResult
        await s.execute(delete(ManifestBlob).where(ManifestBlob.manifest_id.in_(ids)))
        await s.execute(delete(ManifestChild).where(ManifestChild.parent_id.in_(ids)))
        await s.execute(delete(Manifest).where(Manifest.id.in_(ids)))
        outcome.manifests += len(ids)
        return True

    async def _links(
        self,
        s: AsyncSession,
        repo_id: int,
        outcome: RepoOutcome,
        ledger: _Ledger,
        link_cutoff: int,
    ) -> bool:
        namespace_id = (
            select(Repository.namespace_id).where(Repository.id == repo_id).scalar_subquery()
        )
        referenced = _link_referenced(namespace_id, repo_id)
        ids = list(
            (
                await s.execute(
                    select(RepositoryBlob.blob_id)
                    .where(
                        RepositoryBlob.repository_id == repo_id,
                        RepositoryBlob.linked_at < link_cutoff,
                        ~referenced,
                    )
                    .limit(self.batch_size)
                )
            ).scalars()
        )
        if not ids:
            return False
        # linked_at is checked again by the DELETE itself: a re-upload that refreshed the
        # link while this statement waited for its row keeps it.
        await s.execute(
            delete(RepositoryBlob).where(
                RepositoryBlob.repository_id == repo_id,
                RepositoryBlob.blob_id.in_(ids),
                RepositoryBlob.linked_at < link_cutoff,
            )
        )
        ledger.released(outcome, ids)
        if ledger.dry_run:
            ledger.links.update((repo_id, blob_id) for blob_id in ids)
        outcome.links += len(ids)
        return True

    # ---- step 4: blobs ---------------------------------------------------------------------
    async def _blobs(self, report: GcReport, ledger: _Ledger, progress: Progress | None) -> None:
        async with self.db.read() as s:
            total = int(
                (
                    await s.execute(select(func.count()).select_from(Blob).where(*_unreferenced()))
                ).scalar_one()
            )
        done = 0
        last = 0
        while True:
            async with self.db.read() as s:
                ids = list(
                    (
                        await s.execute(
                            select(Blob.id)
                            .where(Blob.id > last, *_unreferenced())
                            .order_by(Blob.id)
                            .limit(self.batch_size)
                        )
                    ).scalars()
                )
            if not ids:
                break
            last = ids[-1]
            ledger.freed(report, await self._delete_blobs(ids))
            done += len(ids)
            if progress:
                progress("blobs", min(done, total), max(total, done))

    async def _delete_blobs(self, candidates: Sequence[int]) -> list[tuple[int, int]]:
        """Delete the rows and bytes of those candidates still unreferenced; (id, size) each."""
        async with self.db.write() as s:
            claim = select(Blob.id).where(Blob.id.in_(candidates))
            if not self.db.is_sqlite:
                claim = claim.with_for_update(skip_locked=True)
            claimed = list((await s.execute(claim)).scalars())
            if not claimed:
                return []
            # A new statement, after the rows are held: sees every link committed before.
            rows = (
                await s.execute(
                    select(Blob.id, Blob.digest, Blob.size).where(
                        Blob.id.in_(claimed), *_unreferenced()
                    )
                )
            ).all()
            if not rows:
                return []
            await s.execute(delete(Blob).where(Blob.id.in_([r[0] for r in rows])))
            for chunk in _chunks(rows, STORAGE_CONCURRENCY):
                await asyncio.gather(*(self.storage.delete_blob(r[1]) for r in chunk))
        return [(r[0], r[2]) for r in rows]

    async def _blobs_dry(
        self, report: GcReport, ledger: _Ledger, progress: Progress | None
    ) -> None:
        """Blobs unreferenced now, plus those whose every reference the pass would remove."""
        async with self.db.read() as s:
            sizes: dict[int, int] = dict(
                (await s.execute(select(Blob.id, Blob.size).where(*_unreferenced()))).all()
            )
            touched = sorted(set(ledger.releaser) - set(sizes))
            for chunk in _chunks(touched, self.batch_size):
                kept: set[int] = set()
                links = await s.execute(
                    select(RepositoryBlob.blob_id, RepositoryBlob.repository_id).where(
                        RepositoryBlob.blob_id.in_(chunk)
                    )
                )
                kept.update(b for b, r in links if (r, b) not in ledger.links)
                refs = await s.execute(
                    select(ManifestBlob.blob_id, ManifestBlob.manifest_id).where(
                        ManifestBlob.blob_id.in_(chunk)
                    )
                )
                kept.update(b for b, m in refs if m not in ledger.manifests)
                rows = await s.execute(
                    select(Blob.id, Blob.size).where(
                        Blob.id.in_(chunk), Blob.id.not_in(kept), Blob.digest != EMPTY_JSON_DIGEST
                    )
                )
                sizes.update(rows.all())
        ledger.freed(report, list(sizes.items()))
        if progress:
            progress("blobs", len(sizes), len(sizes))

    async def _stale_uploads(self) -> int:
        cutoff = now_ms() - self.upload_expiry_s * 1000
        async with self.db.read() as s:
            found = await s.execute(
                select(func.count()).select_from(Upload).where(Upload.updated_at < cutoff)
            )
            return int(found.scalar_one())
