"""One repository mirror's sync, and the scheduler that finds the mirrors due.

A sync (``MirrorSyncer.sync``), as Quay's mirror worker does it with skopeo, in process:

1. **Claim** the mirror with one conditional update (due and enabled, or SYNC_NOW, or a
   SYNCING whose deadline passed) -> SYNCING with a deadline of ``skopeo_timeout_interval``;
   ``repo_mirror_sync_started`` is logged and notified in that transaction. A mirror another
   job (or replica) claimed is left alone.
2. **List** the upstream's tags (all pages) and keep those matching a ``root_rule`` glob
   (``fnmatch``, as Quay).
3. **Copy tag by tag.** The manifest (and, for an index, every child manifest: indexes are
   mirrored whole) is fetched and verified; each blob the repository lacks is linked when its
   bytes are already stored (any repository) and downloaded otherwise (digest-verified while
   streaming into storage). Only then, in one transaction, the blobs are linked, the manifests
   stored and the tag pointed: a failure part way leaves the tag as it was. A tag that already
   points at the upstream's digest costs one manifest request. One failing tag doesn't stop
   the others; each logs ``repo_mirror_sync_tag_success`` / ``_failed``. A cancel
   (``sync-cancel``) is seen before each tag.
4. **Remove** local tags that no longer match an upstream tag (Quay's
   ``delete_obsolete_tags``); they stay restorable in the time machine.
5. **Release**: SUCCESS when every tag copied, FAIL otherwise (or when the upstream could not
   be listed); Quay's retries (a failure keeps the start date until three failed in a row,
   then the next interval), the per-tag outcome in ``last_result``,
   ``repo_mirror_sync_success`` / ``_failed`` logged and notified.

Every upstream request goes through ``UpstreamClient`` over the outbound client (the SSRF
guard at each connection; the mirror's TLS switch and proxies). The mirror writes as its
robot: the usage-log entries name it.
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, or_, select, update

from berth.audit.services import Performer, record
from berth.db.base import now_ms
from berth.db.session import Database
from berth.jobs import NoPayload, enqueue
from berth.mirroring.models import RepoMirrorConfig
from berth.mirroring.services import (
    CANCEL,
    FAIL,
    MAX_SYNC_RETRIES,
    SUCCESS,
    SYNC_NOW,
    SYNCING,
    ExternalReference,
    MirrorService,
    MirrorView,
    next_start_ms,
)
from berth.mirroring.settings import MirrorSettings
from berth.mirroring.tasks import SYNC_MIRROR, SyncMirror
from berth.oci.manifest import ParsedManifest
from berth.outbound import OutboundClients, ProxySettings
from berth.outbound.proxy import split_no_proxy
from berth.registry import accounting
from berth.registry.blobs import BlobService
from berth.registry.cache import ReadCache
from berth.registry.immutability import TagGuard
from berth.registry.manifests import ManifestService
from berth.registry.models import Blob, Manifest, RepositoryBlob, Tag
from berth.registry.repositories import RepoRow
from berth.registry.tags import end_tag, point_tag
from berth.storage.base import BlobStorage
from berth.upstream import (
    Credentials,
    UpstreamClient,
    UpstreamError,
    UpstreamManifest,
    UpstreamNotFound,
    UpstreamRegistry,
    UpstreamUnavailable,
)

log = logging.getLogger("berth.mirroring")

# cosign's tags beside an image: sha256-<hex>.sig (signatures), .att (attestations), .sbom
COSIGN_SUFFIXES = (".sig", ".att", ".sbom")
BLOB_CONCURRENCY = 4  # blob downloads of one sync at once
TAG_CONCURRENCY = 3  # tags of one sync copied at once
# (session, event, namespace, repository, repository_id, message, tags) -> deliveries
# enqueued (``repo_mirror_sync_*`` payloads); given by the composition root.
Notify = Callable[[Any, str, str, str, int, str, list[str]], Awaitable[int]]


@dataclass
class SyncReport:
    """What one sync did (also ``last_result``)."""

    status: str = SUCCESS
    message: str = ""
    tags: dict[str, str] = field(default_factory=dict)  # tag -> "ok" | "unchanged" | error
    deleted: list[str] = field(default_factory=list)
    attached: int = 0  # referrers and cosign tags copied along
    blobs_downloaded: int = 0
    blobs_linked: int = 0
    cancelled: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "message": self.message,
            "tags": dict(self.tags),
            "deleted": list(self.deleted),
            "attached": self.attached,
            "blobs_downloaded": self.blobs_downloaded,
            "blobs_linked": self.blobs_linked,
        }


@dataclass
class _Fetched:
    """A tag's manifests, fetched and parsed: children first, the tagged one last."""

    manifests: list[tuple[UpstreamManifest, ParsedManifest]]

    @property
    def top(self) -> UpstreamManifest:
        return self.manifests[-1][0]


@dataclass
class _Attached:
    """Content attached to a mirrored manifest: a referrer (kept by a hidden tag) or a
    cosign tag (``tag`` set), with its children when it is an index."""

    fetched: _Fetched
    tag: str | None = None


class TagFailed(Exception):
    pass


@dataclass
class _Shared:
    """What the tags of one sync share: the download slots, and the downloads under way
    (two tags needing one blob download it once)."""

    blob_slots: asyncio.Semaphore = field(
        default_factory=lambda: asyncio.Semaphore(BLOB_CONCURRENCY)
    )
    downloads: dict[str, asyncio.Future[None]] = field(default_factory=dict)
    keep: set[str] = field(default_factory=set)  # cosign tags the upstream still has
    upstream_tags: frozenset[str] = frozenset()  # every tag the upstream listed


class MirrorSyncer:
    """Runs syncs (the ``SYNC_MIRROR`` job) and finds the mirrors due (``SCHEDULE_MIRRORS``)."""

    def __init__(
        self,
        db: Database,
        storage: BlobStorage,
        manifests: ManifestService,
        blobs: BlobService,
        mirrors: MirrorService,
        outbound: OutboundClients,
        *,
        settings: MirrorSettings,
        notify: Notify,
        cache: ReadCache[Any],
    ) -> None:
        self.db = db
        self.storage = storage
        self.manifests = manifests
        self.blobs = blobs
        self.mirrors = mirrors
        self.outbound = outbound
        self.settings = settings
        self.notify = notify
        self.cache = cache
        self.guard = TagGuard()  # the mirror follows the upstream: no immutability rules
        # verify_tls off: mirrors whose upstream answered only plain HTTP (no TLS probe
        # on their next syncs)
        self._plain: set[str] = set()

    # ---- the scheduler -----------------------------------------------------------------
    @staticmethod
    def _due(now: int) -> Any:
        return or_(
            and_(
                RepoMirrorConfig.is_enabled.is_(True),
                RepoMirrorConfig.sync_start_ms <= now,
                RepoMirrorConfig.sync_retries_remaining > 0,
                RepoMirrorConfig.sync_status != SYNCING,
            ),
            RepoMirrorConfig.sync_status == SYNC_NOW,
            and_(
                RepoMirrorConfig.sync_status == SYNCING,
                RepoMirrorConfig.sync_expiration_ms <= now,
            ),
        )

    async def schedule(self, _payload: NoPayload | None = None) -> int:
        """Enqueue a sync of every mirror due (the sync claims it; duplicates do nothing)."""
        now = now_ms()
        async with self.db.write() as s:
            ids = list(
                (await s.execute(select(RepoMirrorConfig.id).where(self._due(now)))).scalars()
            )
            for config_id in ids:
                await enqueue(s, SYNC_MIRROR, SyncMirror(config_id=config_id))
        return len(ids)

    # ---- one sync ----------------------------------------------------------------------
    async def _claim(self, config_id: int) -> MirrorView | None:
        now = now_ms()
        async with self.db.write() as s:
            timeout = (
                await s.execute(
                    select(RepoMirrorConfig.skopeo_timeout_interval).where(
                        RepoMirrorConfig.id == config_id
                    )
                )
            ).scalar()
            if timeout is None:
                return None
            claimed = await s.execute(
                update(RepoMirrorConfig)
                .where(RepoMirrorConfig.id == config_id, self._due(now))
                .values(sync_status=SYNCING, sync_expiration_ms=now + timeout * 1000)
            )
            if not claimed.rowcount:  # type: ignore[attr-defined]  # a DML result
                return None
            view = await self.mirrors._load(s, RepoMirrorConfig.id == config_id)
            assert view is not None
            performer = _performer(view)
            record(
                s, "repo_mirror_sync_started", view.namespace, performer, view.repository,
                {"repo": view.repository, "namespace": view.namespace,
                 "message": f"'{view.external_reference}' with tag pattern "
                            f"'{','.join(view.root_rule)}'"},
                namespace_id=view.namespace_id, repository_id=view.repository_id,
            )  # fmt: skip
            await self.notify(
                s, "repo_mirror_sync_started", view.namespace, view.repository,
                view.repository_id, f"Mirroring from {view.external_reference}", [],
            )  # fmt: skip
        return view

    async def sync(self, payload: SyncMirror) -> SyncReport | None:
        """The ``SYNC_MIRROR`` job. None when the mirror was not due (claimed elsewhere,
        deleted, or disabled)."""
        view = await self._claim(payload.config_id)
        if view is None:
            return None
        report = SyncReport()
        try:
            await self._run(view, report)
        except asyncio.CancelledError:
            report.status, report.message = FAIL, "the sync was interrupted"
            await asyncio.shield(self._release(view, report))
            raise
        except Exception as e:  # a bug or the database: the mirror must not stay SYNCING
            log.exception("mirror %s/%s: sync failed", view.namespace, view.repository)
            report.status, report.message = FAIL, f"internal error: {e}"
        await self._release(view, report)
        return report

    def _client(self, view: MirrorView, ref: ExternalReference) -> UpstreamClient:
        verify = view.verify_tls and self.settings.tls_verify
        proxy = view.proxy or {}
        proxies = None
        if any(proxy.get(k) for k in ("http_proxy", "https_proxy")):
            proxies = ProxySettings(
                http=proxy.get("http_proxy") or None,
                https=proxy.get("https_proxy") or None,
                no_proxy=split_no_proxy(proxy.get("no_proxy")),
            )
        credentials = Credentials(view.username, view.password or "") if view.username else None
        return UpstreamClient(
            self.outbound.client(verify_tls=verify, proxies=proxies),
            ref.registry,
            credentials,
            max_manifest_bytes=self.manifests.max_bytes,
        )

    async def _connect(self, view: MirrorView) -> tuple[UpstreamClient, str]:
        """The client and the upstream repository. With ``verify_tls`` off, an upstream
        that does not speak TLS is tried over plain HTTP (skopeo's ``--src-tls-verify=false``)."""
        ref = ExternalReference.parse(view.external_reference)
        host = view.external_reference.partition("/")[0]
        plain = ExternalReference(UpstreamRegistry.parse(host, insecure=True), ref.repository)
        if view.verify_tls:
            client = self._client(view, ref)
            await client.ping()
            return client, ref.repository
        if host not in self._plain:
            client = self._client(view, ref)
            try:
                await client.ping(retry=False)  # a probe: no retries with backoff
                return client, ref.repository
            except UpstreamUnavailable:
                pass
        client = self._client(view, plain)
        await client.ping()
        self._plain.add(host)
        return client, ref.repository

    async def _run(self, view: MirrorView, report: SyncReport) -> None:
        if view.robot_id is None:
            report.status = FAIL
            report.message = "the mirror has no robot account (it was deleted?)"
            return
        try:
            client, upstream_repo = await self._connect(view)
            upstream_tags = await client.list_tags(upstream_repo)
        except UpstreamError as e:
            report.status, report.message = FAIL, f"the upstream could not be listed: {e}"
            return
        wanted = [t for t in upstream_tags if matches(t, view.root_rule)]
        shared = _Shared(upstream_tags=frozenset(upstream_tags))
        tag_slots = asyncio.Semaphore(TAG_CONCURRENCY)

        async def copy(tag: str) -> None:
            async with tag_slots:
                if report.cancelled or await self._cancelled(view):
                    report.cancelled = True
                    report.message = "cancelled"
                    return
                await self._copy_one(view, client, upstream_repo, tag, report, shared)

        await asyncio.gather(*(copy(t) for t in wanted))
        if report.cancelled:
            return
        report.deleted = await self._delete_obsolete(view, set(wanted) | shared.keep)
        failed = [t for t, outcome in report.tags.items() if outcome not in ("ok", "unchanged")]
        if failed:
            report.status = FAIL
            report.message = f"{len(failed)} of {len(wanted)} tags failed: " + ", ".join(
                sorted(failed)
            )
        else:
            report.message = f"{len(wanted)} tags mirrored"

    async def _copy_one(
        self,
        view: MirrorView,
        client: UpstreamClient,
        upstream_repo: str,
        tag: str,
        report: SyncReport,
        shared: _Shared,
    ) -> None:
        """One tag, its outcome in the report and its usage-log entry."""
        try:
            changed = await self._copy_tag(view, client, upstream_repo, tag, report, shared)
            report.tags[tag] = "ok" if changed else "unchanged"
            await self._tag_log(view, "repo_mirror_sync_tag_success", tag, None)
        except (UpstreamError, TagFailed) as e:
            report.tags[tag] = str(e) or type(e).__name__
            await self._tag_log(view, "repo_mirror_sync_tag_failed", tag, str(e))
        except Exception as e:  # the registry refused the content (manifest invalid...)
            log.warning("mirror %s: tag %s failed", view.repo.full, tag, exc_info=True)
            message = getattr(e, "message", None) or str(e) or type(e).__name__
            report.tags[tag] = message
            await self._tag_log(view, "repo_mirror_sync_tag_failed", tag, message)

    async def _cancelled(self, view: MirrorView) -> bool:
        async with self.db.read() as s:
            status = (
                await s.execute(
                    select(RepoMirrorConfig.sync_status).where(RepoMirrorConfig.id == view.id)
                )
            ).scalar()
        return status != SYNCING

    async def _tag_log(self, view: MirrorView, kind: str, tag: str, error: str | None) -> None:
        meta: dict[str, Any] = {"repo": view.repository, "namespace": view.namespace, "tag": tag}
        if error:
            meta["message"] = error
        async with self.db.write() as s:
            record(
                s, kind, view.namespace, _performer(view), view.repository, meta,
                namespace_id=view.namespace_id, repository_id=view.repository_id,
            )  # fmt: skip
            # The deadline moves with the progress (a long sync of many tags stays claimed).
            await s.execute(
                update(RepoMirrorConfig)
                .where(RepoMirrorConfig.id == view.id, RepoMirrorConfig.sync_status == SYNCING)
                .values(sync_expiration_ms=now_ms() + view.skopeo_timeout_interval * 1000)
            )

    # ---- copying a tag -----------------------------------------------------------------
    async def _fetch(self, client: UpstreamClient, upstream_repo: str, tag: str) -> _Fetched:
        top = await client.get_manifest(upstream_repo, tag)
        return await self._with_children(client, upstream_repo, top)

    async def _with_children(
        self, client: UpstreamClient, upstream_repo: str, top: UpstreamManifest
    ) -> _Fetched:
        parsed = self.manifests.parse(top.content, top.media_type or None)
        manifests: list[tuple[UpstreamManifest, ParsedManifest]] = []
        for child in parsed.child_digests():
            got = await client.get_manifest(upstream_repo, child)
            manifests.append((got, self.manifests.parse(got.content, got.media_type or None)))
        manifests.append((top, parsed))
        return _Fetched(manifests)

    async def _copy_tag(
        self,
        view: MirrorView,
        client: UpstreamClient,
        upstream_repo: str,
        tag: str,
        report: SyncReport,
        shared: _Shared,
    ) -> bool:
        """Copy one tag; False when it already pointed at the upstream's manifest."""
        head = await client.head_manifest(upstream_repo, tag)
        unchanged = await self._points_at(view, tag, head.digest)
        fetched = None if unchanged else await self._fetch(client, upstream_repo, tag)
        subjects = [head.digest]
        if fetched is not None:
            subjects = [m.digest for m, _ in fetched.manifests]
        attached = await self._attachments(view, client, upstream_repo, subjects, shared)
        if fetched is None and not attached:
            return False
        everything = [fetched] if fetched is not None else []
        everything += [a.fetched for a in attached]
        # The blobs every manifest needs, once each.
        sizes: dict[str, int] = {}
        for group in everything:
            for _, parsed in group.manifests:
                for d in parsed.blob_descriptors():
                    sizes.setdefault(d.digest, d.size)
        linked, stored = await self._blob_state(view.repository_id, list(sizes))
        missing = [d for d in sizes if d not in linked and d not in stored]

        async def fetch(digest: str) -> None:
            async with (
                shared.blob_slots,
                client.open_blob(upstream_repo, digest, expected_size=sizes[digest]) as blob,
            ):
                await self.storage.write_blob(digest, blob.chunks())

        def forget_failed(digest: str, done: asyncio.Future[None]) -> None:
            if done.cancelled() or done.exception() is not None:
                shared.downloads.pop(digest, None)  # the next tag tries again

        async def download(digest: str) -> None:
            running = shared.downloads.get(digest)
            if running is None:
                running = asyncio.ensure_future(fetch(digest))
                running.add_done_callback(lambda f: forget_failed(digest, f))
                shared.downloads[digest] = running
                report.blobs_downloaded += 1
            await asyncio.shield(running)

        await asyncio.gather(*(download(d) for d in missing))
        report.blobs_linked += len(stored)
        to_link = {d: sizes[d] for d in sizes if d not in linked}
        await self._commit(view, tag, fetched, attached, to_link)
        report.attached += len(attached)
        return fetched is not None

    async def _attachments(
        self,
        view: MirrorView,
        client: UpstreamClient,
        upstream_repo: str,
        subjects: list[str],
        shared: _Shared,
    ) -> list[_Attached]:
        """What the upstream attaches to ``subjects`` and the repository lacks: referrers
        (the referrers API, or its tag schema) and cosign's ``sha256-<hex>.sig/.att/.sbom``
        tags (of the tagged manifest, ``subjects[-1]``)."""
        found: list[_Attached] = []
        seen: set[str] = set()
        for subject in subjects:
            for desc in await client.referrers(upstream_repo, subject):
                digest = desc.get("digest")
                if not isinstance(digest, str) or digest in seen:
                    continue
                seen.add(digest)
                if await self._has_manifest(view, digest):
                    continue
                got = await client.get_manifest(upstream_repo, digest)
                found.append(_Attached(await self._with_children(client, upstream_repo, got)))
        top = subjects[-1]
        for suffix in COSIGN_SUFFIXES:
            name = top.replace(":", "-", 1) + suffix
            if name not in shared.upstream_tags:
                continue  # the tag list says: no request needed
            try:
                head = await client.head_manifest(upstream_repo, name)
            except UpstreamNotFound:
                continue
            shared.keep.add(name)
            if await self._points_at(view, name, head.digest):
                continue
            got = await client.get_manifest(upstream_repo, name)
            found.append(_Attached(await self._with_children(client, upstream_repo, got), name))
        return found

    async def _has_manifest(self, view: MirrorView, digest: str) -> bool:
        async with self.db.read() as s:
            found = (
                await s.execute(
                    select(Manifest.id).where(
                        Manifest.repository_id == view.repository_id, Manifest.digest == digest
                    )
                )
            ).scalar()
        return found is not None

    async def _points_at(self, view: MirrorView, tag: str, digest: str) -> bool:
        now = now_ms()
        async with self.db.read() as s:
            found = (
                await s.execute(
                    select(Manifest.digest)
                    .join(Tag, Tag.manifest_id == Manifest.id)
                    .where(
                        Tag.repository_id == view.repository_id,
                        Tag.name == tag,
                        Tag.hidden.is_(False),
                        Tag.start_ts <= now,
                        or_(Tag.end_ts.is_(None), Tag.end_ts > now),
                    )
                )
            ).scalar()
        return found == digest

    async def _blob_state(
        self, repository_id: int, digests: list[str]
    ) -> tuple[set[str], set[str]]:
        """(linked to the repository, stored for another one)."""
        if not digests:
            return set(), set()
        async with self.db.read() as s:
            linked = set(
                (
                    await s.execute(
                        select(Blob.digest)
                        .join(RepositoryBlob, RepositoryBlob.blob_id == Blob.id)
                        .where(
                            RepositoryBlob.repository_id == repository_id,
                            Blob.digest.in_(digests),
                        )
                    )
                ).scalars()
            )
            known = set(
                (await s.execute(select(Blob.digest).where(Blob.digest.in_(digests)))).scalars()
            )
        return linked, known - linked

    async def _commit(
        self,
        view: MirrorView,
        tag: str,
        fetched: _Fetched | None,
        attached: list[_Attached],
        to_link: dict[str, int],
    ) -> None:
        """Link the blobs, store the manifests, point the tag (and the cosign tags; a
        referrer gets a hidden tag): one transaction."""
        row = RepoRow(
            view.repository_id, view.namespace, view.repository, False, "MIRROR",
            view.namespace_id,
        )  # fmt: skip
        now = now_ms()
        async with self.db.write() as s:
            for digest, size in sorted(to_link.items()):  # one lock order across tags
                await self.blobs.link_stored(s, view.repository_id, digest, size)
            if fetched is not None:  # subjects before what refers to them
                top_id = await self._store_group(s, row, fetched)
                await point_tag(s, view.repository_id, tag, top_id, now, guard=self.guard)
            for extra in attached:
                extra_id = await self._store_group(s, row, extra.fetched)
                if extra.tag is not None:
                    await point_tag(
                        s, view.repository_id, extra.tag, extra_id, now, guard=self.guard
                    )
                else:
                    digest = extra.fetched.top.digest
                    await self.manifests._hidden_tag(s, view.repository_id, digest, extra_id, now)
        self.cache.invalidate(view.repo.full)

    async def _store_group(self, s: Any, row: RepoRow, fetched: _Fetched) -> int:
        """Store a manifest and its children (children first); the top one's id."""
        top_id = 0
        for got, parsed in fetched.manifests:
            manifest_id, created, missing = await self.manifests.store_fetched(
                s, row, got.digest, got.content, parsed
            )
            if missing:
                raise TagFailed(f"{got.digest} references content not mirrored: {missing}")
            if created:
                await accounting.manifest_stored(s, row.id, manifest_id, row.namespace_id)
            top_id = manifest_id
        return top_id

    async def _delete_obsolete(self, view: MirrorView, keep: set[str]) -> list[str]:
        """Local tags the upstream no longer has (among those the rule matches): ended."""
        now = now_ms()
        async with self.db.write() as s:
            live = set(
                (
                    await s.execute(
                        select(Tag.name).where(
                            Tag.repository_id == view.repository_id,
                            Tag.hidden.is_(False),
                            Tag.start_ts <= now,
                            or_(Tag.end_ts.is_(None), Tag.end_ts > now),
                        )
                    )
                ).scalars()
            )
            gone = sorted(live - keep)
            for name in gone:
                await end_tag(s, view.repository_id, name, now, now, guard=self.guard)
                record(
                    s, "delete_tag", view.namespace, _performer(view), view.repository,
                    {"repo": view.repository, "namespace": view.namespace, "tag": name,
                     "mirror": view.external_reference},
                    namespace_id=view.namespace_id, repository_id=view.repository_id,
                )  # fmt: skip
        if gone:
            self.cache.invalidate(view.repo.full)
        return gone

    # ---- release -----------------------------------------------------------------------
    async def _release(self, view: MirrorView, report: SyncReport) -> None:
        now = now_ms()
        async with self.db.write() as s:
            current = (
                await s.execute(
                    select(
                        RepoMirrorConfig.sync_status,
                        RepoMirrorConfig.sync_start_ms,
                        RepoMirrorConfig.sync_retries_remaining,
                        RepoMirrorConfig.sync_interval,
                    ).where(RepoMirrorConfig.id == view.id)
                )
            ).first()
            if current is None:
                return  # the configuration (or repository) was deleted meanwhile
            status, start_ms, retries, interval = current
            values: dict[str, Any] = {
                "sync_expiration_ms": None,
                "last_result": report.as_json(),
                "last_message": report.message,
            }
            if status == CANCEL or report.cancelled:
                report.status = CANCEL  # sync-cancel already set the schedule
            elif report.status == SUCCESS:
                values.update(
                    sync_status=SUCCESS,
                    sync_start_ms=next_start_ms(start_ms, interval, now),
                    sync_retries_remaining=MAX_SYNC_RETRIES,
                )
            else:
                left = max(0, retries - 1)
                if left < 1:
                    values.update(
                        sync_status=FAIL,
                        sync_start_ms=next_start_ms(start_ms, interval, now),
                        sync_retries_remaining=MAX_SYNC_RETRIES,
                    )
                else:
                    values.update(sync_status=FAIL, sync_retries_remaining=left)
            await s.execute(
                update(RepoMirrorConfig).where(RepoMirrorConfig.id == view.id).values(**values)
            )
            if report.status == CANCEL:
                return
            kind = "repo_mirror_sync_success" if report.status == SUCCESS else (
                "repo_mirror_sync_failed"
            )  # fmt: skip
            mirrored = sorted(t for t, o in report.tags.items() if o in ("ok", "unchanged"))
            record(
                s, kind, view.namespace, _performer(view), view.repository,
                {"repo": view.repository, "namespace": view.namespace,
                 "message": report.message, "tags": mirrored},
                namespace_id=view.namespace_id, repository_id=view.repository_id,
            )  # fmt: skip
            await self.notify(
                s, kind, view.namespace, view.repository, view.repository_id, report.message,
                mirrored,
            )  # fmt: skip


def matches(tag: str, globs: list[str]) -> bool:
    """Quay's ``tag_glob_csv`` rule: the tag matches one of the shell-style globs."""
    return any(fnmatch.fnmatchcase(tag, g.strip()) for g in globs if g.strip())


def _performer(view: MirrorView) -> Performer | None:
    if view.robot_username is None:
        return None
    return Performer(view.robot_username, view.robot_id)
