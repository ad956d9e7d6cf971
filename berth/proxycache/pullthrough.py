"""Pull-through of proxy-cache organizations: ``/v2/<org>/<path>`` served from
``<upstream>/<path>`` and cached (the registry core's ``PullThrough``, built by the
composition root).

Manifests by tag:

* a cached tag the upstream confirmed less than ``revalidate_after_s`` ago is served as is
  (HIT: no upstream request);
* otherwise the upstream is asked with a HEAD: the same digest renews the tag
  (REVALIDATED); another digest, or no cached tag, fetches the manifest (MISS), verifies its
  digest and stores it, the tag pointing at it;
* the tag expires ``expiration_s`` after the upstream last confirmed it (the tag expiration
  the registry already has: expired tags leave the tag list, stay restorable in the time
  machine, and are collected by GC); each confirmation renews it, as Quay does on pull;
* when the upstream cannot answer (unreachable, timeouts, 5xx, refused credentials) and a
  copy is cached, expired or not, it is served (STALE) with the ``X-Proxy-Cache: STALE``
  and ``Warning: 110`` headers, and the pull's usage-log entry says so
  (``proxy_cache: "stale"`` and the upstream's error in its metadata). Quay fails instead.

Manifests by digest are content-addressed: a cached one is served without asking; a
missing one is fetched and kept with a hidden tag that expires like the others.

A fetched manifest is stored at once, before its blobs and children: what the repository
lacks is recorded as pending references (``models.PendingReference``) and linked when it
arrives (a blob fetched by ``flights``, a child manifest pulled by digest). Its size is
accounted once nothing is pending.

Blobs: a blob the repository lacks is linked at once when its bytes are stored for another
repository; otherwise one ``BlobFlight`` per digest fetches it while every client asking
streams along (see ``flights.py``).

Repositories appear on first pull (private; the organization's members may pull them).
Pushes are refused with DENIED naming the proxy cache. Concurrent cold pulls of one manifest
in a process ask the upstream once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import delete, func, select, update

from berth.audit.services import Performer, record
from berth.db.base import now_ms
from berth.db.session import Database
from berth.namespaces.models import Namespace
from berth.oci.names import is_valid_tag
from berth.outbound import OutboundClients
from berth.proxycache.flights import BlobFlight
from berth.proxycache.locks import FetchLocks
from berth.proxycache.models import PendingReference
from berth.proxycache.services import ProxyConfig, ProxyDirectory
from berth.proxycache.settings import ProxyCacheSettings
from berth.registry import accounting, sql
from berth.registry.blobs import BlobService, check_digest
from berth.registry.cache import NoCache, ReadCache
from berth.registry.errors import (
    BlobUnknown,
    Denied,
    ManifestInvalid,
    ManifestUnknown,
    NameUnknown,
    TagInvalid,
    UpstreamUnavailable,
)
from berth.registry.immutability import TagGuard
from berth.registry.manifests import ManifestData, ManifestService
from berth.registry.models import (
    Blob,
    Manifest,
    ManifestBlob,
    ManifestChild,
    Repository,
    Tag,
)
from berth.registry.pulls import PullLog
from berth.registry.pullthrough import (
    HIT,
    MISS,
    REVALIDATED,
    STALE,
    PulledBlob,
    PulledManifest,
)
from berth.registry.repositories import RepoName, RepoRow, create_repository, find_repository
from berth.registry.tags import INSERT_TAG, point_tag
from berth.storage.base import BlobStorage
from berth.upstream import (
    UpstreamClient,
    UpstreamContentInvalid,
    UpstreamError,
    UpstreamManifest,
    UpstreamNotFound,
)

log = logging.getLogger("berth.proxycache")
T = TypeVar("T")

_LocalTag = tuple[ManifestData, int | None]  # the manifest and the tag row's end_ts


class ProxyCache:
    """The proxy-cache feature's ``PullThrough``."""

    def __init__(
        self,
        db: Database,
        storage: BlobStorage,
        pulls: PullLog,
        directory: ProxyDirectory,
        outbound: OutboundClients,
        *,
        settings: ProxyCacheSettings,
        spool_dir: Path,
        max_manifest_bytes: int,
        cache: ReadCache[Any] | None = None,
        locks: FetchLocks | None = None,
    ) -> None:
        self.db = db
        self.storage = storage
        self.pulls = pulls
        self.directory = directory
        self.outbound = outbound
        self.settings = settings
        self.spool_dir = spool_dir
        self.cache: ReadCache[Any] = cache if cache is not None else NoCache()
        self.max_manifest_bytes = max_manifest_bytes
        # Across processes and replicas: one download per blob (None: this process only).
        self.locks = locks
        self.manifests = ManifestService(
            db, storage, pulls, max_manifest_bytes=max_manifest_bytes, cache=self.cache
        )
        self.blobs = BlobService(db, storage, cache=self.cache)
        self.guard = TagGuard()
        self._clients: dict[int, UpstreamClient] = {}
        self._manifest_flights: dict[tuple[str, str], asyncio.Future[PulledManifest]] = {}
        self._blob_flights: dict[str, tuple[BlobFlight, dict[str, RepoName]]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    # ---- the registry's questions -------------------------------------------------------
    async def proxies(self, namespace: str) -> bool:
        return await self.directory.proxies(namespace)

    async def refuse_push(self, repo: RepoName) -> None:
        config = await self.directory.get(repo.namespace)
        upstream = config.upstream_registry if config else "an upstream registry"
        raise Denied(
            f"{repo.namespace} is a proxy cache of {upstream}: pushes are not allowed; "
            "its repositories are filled by pulls from the upstream",
            {"namespace": repo.namespace, "proxy_cache": upstream},
        )

    async def close(self) -> None:
        tasks, self._tasks = list(self._tasks), set()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        # The upstream clients' connections belong to ``OutboundClients`` (closed by it).

    # ---- upstream ----------------------------------------------------------------------
    async def _config(self, repo: RepoName) -> ProxyConfig:
        config = await self.directory.get(repo.namespace)
        if config is None:  # deleted meanwhile
            raise NameUnknown("repository name not known to registry", {"name": repo.full})
        return config

    def _client(self, config: ProxyConfig) -> UpstreamClient:
        client = self._clients.get(config.config_id)
        if client is None:
            client = UpstreamClient(
                self.outbound.client(verify_tls=not config.insecure),
                config.upstream,
                config.credentials,
                max_manifest_bytes=self.max_manifest_bytes,
                max_blob_bytes=self.settings.max_blob_bytes,
            )
            self._clients[config.config_id] = client
        return client

    def _spawn(self, coro: Awaitable[T]) -> asyncio.Task[T]:
        task: asyncio.Task[T] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # ---- manifests ---------------------------------------------------------------------
    async def manifest(
        self,
        repo: RepoName,
        reference: str,
        *,
        pull_by: Performer | None = None,
        log_meta: dict[str, Any] | None = None,
    ) -> PulledManifest:
        config = await self._config(repo)
        by_digest = ":" in reference
        if by_digest:
            reference = check_digest(reference)
        elif not is_valid_tag(reference):
            raise TagInvalid("invalid tag", {"tag": reference})
        pulled = await self._fresh(config, repo, reference, by_digest)
        if pulled is None:
            key = (repo.full, reference)
            flight = self._manifest_flights.get(key)
            if flight is None:
                flight = self._spawn(self._through(config, repo, reference, by_digest))
                self._manifest_flights[key] = flight
                flight.add_done_callback(lambda _f: self._manifest_flights.pop(key, None))
            pulled = await asyncio.shield(flight)
        if log_meta is not None:
            meta = dict(log_meta)
            if pulled.source == STALE:
                meta["proxy_cache"] = "stale"
                meta["upstream_error"] = pulled.upstream_error
            self.pulls.record(
                repo.namespace,
                repo.name,
                pull_by,
                meta,
                tag=None if by_digest else reference,
                manifest_digest=pulled.data.digest,
            )
        return pulled

    async def _fresh(
        self, config: ProxyConfig, repo: RepoName, reference: str, by_digest: bool
    ) -> PulledManifest | None:
        """The cached answer when no upstream request is needed."""
        if by_digest:
            try:
                return PulledManifest(await self.manifests.get(repo, reference), HIT)
            except (ManifestUnknown, NameUnknown):
                return None
        local = await self._local_tag(repo, reference)
        if local is None:
            return None
        data, end_ts = local
        if end_ts is None:
            return PulledManifest(data, HIT)  # a tag someone made permanent
        now = now_ms()
        confirmed_at = end_ts - config.expiration_s * 1000
        if now < end_ts and now < confirmed_at + self.settings.revalidate_after_s * 1000:
            return PulledManifest(data, HIT)
        return None

    async def _local_tag(self, repo: RepoName, tag: str) -> _LocalTag | None:
        """The newest row of the tag, ended or not, and its manifest (cached per repository
        generation)."""
        item = "proxytag:" + tag
        found: _LocalTag | None = self.cache.get(repo.full, item)
        if found is not None:
            return found
        generation = self.cache.generation(repo.full)
        stmt = (
            select(
                Manifest.digest,
                Manifest.media_type,
                Manifest.content,
                Manifest.subject_digest,
                Tag.end_ts,
            )
            .join(Tag, Tag.manifest_id == Manifest.id)
            .join(Repository, Repository.id == Tag.repository_id)
            .join(Namespace, Namespace.id == Repository.namespace_id)
            .where(
                Namespace.name == repo.namespace,
                Repository.name == repo.name,
                Tag.name == tag,
                Tag.hidden.is_(False),
            )
            .order_by(Tag.start_ts.desc(), Tag.id.desc())
            .limit(1)
        )
        async with self.db.read() as s:
            row = (await s.execute(stmt)).first()
        if row is None:
            return None
        found = (ManifestData(row[0], row[1], row[2], row[3]), row[4])
        self.cache.put(repo.full, item, found, generation)
        return found

    async def _local_digest(self, repo: RepoName, digest: str) -> ManifestData | None:
        """A cached manifest by digest, visible or not (content-addressed: for STALE)."""
        stmt = (
            select(Manifest.digest, Manifest.media_type, Manifest.content, Manifest.subject_digest)
            .join(Repository, Repository.id == Manifest.repository_id)
            .join(Namespace, Namespace.id == Repository.namespace_id)
            .where(
                Namespace.name == repo.namespace,
                Repository.name == repo.name,
                Manifest.digest == digest,
            )
        )
        async with self.db.read() as s:
            row = (await s.execute(stmt)).first()
        return ManifestData(row[0], row[1], row[2], row[3]) if row else None

    async def _through(
        self, config: ProxyConfig, repo: RepoName, reference: str, by_digest: bool
    ) -> PulledManifest:
        """Ask the upstream (HEAD to revalidate a cached tag, GET otherwise); on failure
        serve the cached copy, if any."""
        client = self._client(config)
        upstream_repo = config.upstream.repository(repo.name)
        cached: ManifestData | None
        if by_digest:
            cached = await self._local_digest(repo, reference)
        else:
            local = await self._local_tag(repo, reference)
            cached = local[0] if local else None
        try:
            if cached is not None and not by_digest:
                head = await client.head_manifest(upstream_repo, reference)
                if head.digest == cached.digest:
                    await self._confirm(config, repo, reference, cached.digest)
                    return PulledManifest(cached, REVALIDATED)
            fetched = await client.get_manifest(upstream_repo, reference)
        except UpstreamNotFound as e:
            if by_digest:
                raise ManifestUnknown("manifest unknown", {"digest": reference}) from e
            raise ManifestUnknown("manifest unknown", {"tag": reference}) from e
        except UpstreamContentInvalid as e:
            raise ManifestInvalid(f"the upstream's manifest was refused: {e}", {}) from e
        except UpstreamError as e:
            if cached is not None:
                log.warning("proxy cache %s: serving %s:%s stale: %s", repo.namespace,
                            repo.name, reference, e)  # fmt: skip
                return PulledManifest(cached, STALE, str(e))
            raise UpstreamUnavailable(
                f"the upstream registry of proxy cache {repo.namespace} is unavailable and "
                "nothing is cached",
                {"upstream": config.upstream_registry, "error": str(e)},
            ) from e
        data = await self._store(config, repo, reference, by_digest, fetched)
        return PulledManifest(data, MISS)

    async def _repository(self, s: Any, repo: RepoName, config: ProxyConfig) -> RepoRow:
        """The repository, created on first pull (private; with its ``create_repo`` entry)."""
        row = await find_repository(s, repo)
        if row is not None:
            return row
        row = await create_repository(s, repo, is_public=False)
        record(
            s, "create_repo", repo.namespace, None, repo.name,
            {"repo": repo.name, "namespace": repo.namespace,
             "proxy_cache": config.upstream_registry},
            namespace_id=row.namespace_id, repository_id=row.id,
        )  # fmt: skip
        return row

    async def _store(
        self,
        config: ProxyConfig,
        repo: RepoName,
        reference: str,
        by_digest: bool,
        fetched: UpstreamManifest,
    ) -> ManifestData:
        parsed = self.manifests.parse(fetched.content, fetched.media_type or None)
        now = now_ms()
        end_ts = now + config.expiration_s * 1000
        async with self.db.write() as s:
            row = await self._repository(s, repo, config)
            manifest_id, created, missing = await self.manifests.store_fetched(
                s, row, fetched.digest, fetched.content, parsed
            )
            if created and missing:
                children = set(parsed.child_digests())
                await s.execute(
                    PendingReference.__table__.insert(),
                    [
                        {
                            "manifest_id": manifest_id,
                            "repository_id": row.id,
                            "digest": d,
                            "kind": "child" if d in children else "blob",
                        }
                        for d in missing
                    ],
                )
            elif created:
                await accounting.manifest_stored(s, row.id, manifest_id, row.namespace_id)
            await self._resolve(s, row, fetched.digest, "child", manifest_id)
            if by_digest:
                await self._hidden_tag(s, row.id, fetched.digest, manifest_id, now, end_ts)
            else:
                await point_tag(
                    s, row.id, reference, manifest_id, now, guard=self.guard, end_ts=end_ts,
                    keep_if_same=False,
                )  # fmt: skip
        self.cache.invalidate(repo.full)
        subject = parsed.subject.digest if parsed.subject else None
        return ManifestData(fetched.digest, parsed.media_type, fetched.content, subject)

    async def _confirm(self, config: ProxyConfig, repo: RepoName, tag: str, digest: str) -> None:
        """The upstream still has ``tag`` at ``digest``: renew (or revive) the cached tag."""
        now = now_ms()
        end_ts = now + config.expiration_s * 1000
        async with self.db.write() as s:
            row = await find_repository(s, repo)
            if row is None:
                return
            manifest_id = (
                await s.execute(
                    select(Manifest.id).where(
                        Manifest.repository_id == row.id, Manifest.digest == digest
                    )
                )
            ).scalar()
            if manifest_id is None:
                return
            renewed = await s.execute(
                update(Tag)
                .where(
                    Tag.repository_id == row.id,
                    Tag.name == tag,
                    Tag.hidden.is_(False),
                    Tag.manifest_id == manifest_id,
                    Tag.end_ts > now,
                )
                .values(end_ts=end_ts)
            )
            if not renewed.rowcount:  # type: ignore[attr-defined]  # a DML result
                await point_tag(
                    s, row.id, tag, manifest_id, now, guard=self.guard, end_ts=end_ts,
                    keep_if_same=False,
                )  # fmt: skip
        self.cache.invalidate(repo.full)

    @staticmethod
    async def _hidden_tag(
        s: Any, repository_id: int, digest: str, manifest_id: int, now: int, end_ts: int
    ) -> None:
        renewed = await s.execute(
            update(Tag)
            .where(
                Tag.repository_id == repository_id,
                Tag.manifest_id == manifest_id,
                Tag.hidden.is_(True),
                Tag.end_ts > now,
            )
            .values(end_ts=end_ts)
        )
        if not renewed.rowcount:
            await s.execute(
                INSERT_TAG,
                {
                    "repository_id": repository_id,
                    "name": digest,
                    "manifest_id": manifest_id,
                    "start_ts": now,
                    "end_ts": end_ts,
                    "hidden": True,
                    "reversion": False,
                    "immutable": False,
                },
            )

    async def _resolve(self, s: Any, row: RepoRow, digest: str, kind: str, target_id: int) -> None:
        """``digest`` (a blob row, or a child manifest) arrived in the repository: link it
        to the manifests waiting for it; account those that now lack nothing."""
        waiting = list(
            (
                await s.execute(
                    select(PendingReference.id, PendingReference.manifest_id).where(
                        PendingReference.repository_id == row.id,
                        PendingReference.digest == digest,
                        PendingReference.kind == kind,
                    )
                )
            ).all()
        )
        if not waiting:
            return
        for _pending_id, manifest_id in waiting:
            if kind == "blob":
                values = {
                    "manifest_id": manifest_id,
                    "blob_id": target_id,
                    "repository_id": row.id,
                    "namespace_id": row.namespace_id,
                }
                await sql.insert_ignore(s, ManifestBlob, values, ["manifest_id", "blob_id"])
            else:
                values = {"parent_id": manifest_id, "child_id": target_id}
                await sql.insert_ignore(s, ManifestChild, values, ["parent_id", "child_id"])
        await s.execute(
            delete(PendingReference).where(PendingReference.id.in_([w[0] for w in waiting]))
        )
        manifest_ids = sorted({w[1] for w in waiting})
        still = set(
            (
                await s.execute(
                    select(PendingReference.manifest_id)
                    .where(PendingReference.manifest_id.in_(manifest_ids))
                    .group_by(PendingReference.manifest_id)
                    .having(func.count() > 0)
                )
            ).scalars()
        )
        for manifest_id in manifest_ids:
            if manifest_id not in still:
                await accounting.manifest_stored(s, row.id, manifest_id, row.namespace_id)

    # ---- blobs -------------------------------------------------------------------------
    async def blob(self, repo: RepoName, digest: str, *, head: bool = False) -> PulledBlob:
        digest = check_digest(digest)
        try:
            info = await self.blobs.stat(repo, digest)
            return PulledBlob(digest, info.size, local=True)
        except (BlobUnknown, NameUnknown):
            pass
        config = await self._config(repo)
        if await self._link_existing(config, repo, digest):
            info = await self.blobs.stat(repo, digest)
            return PulledBlob(digest, info.size, local=True)
        client = self._client(config)
        upstream_repo = config.upstream.repository(repo.name)
        if head:
            try:
                size = await client.blob_size(upstream_repo, digest)
            except UpstreamNotFound as e:
                raise BlobUnknown("blob unknown to registry", {"digest": digest}) from e
            except UpstreamError as e:
                raise self._unavailable(config, e) from e
            return PulledBlob(digest, size, local=False, source=MISS)
        entry = self._blob_flights.get(digest)
        if entry is None:
            flight = BlobFlight(digest, self.spool_dir)
            entry = (flight, {repo.full: repo})
            self._blob_flights[digest] = entry
            repos = entry[1]

            async def fetch(f: BlobFlight) -> None:
                if self.locks is not None and await self._stored_elsewhere(f):
                    return  # another process or replica fetched it while we waited
                async with client.open_blob(upstream_repo, digest) as upstream:
                    fd = f.begin(upstream.size)
                    try:
                        async for chunk in upstream.chunks():
                            await f.append(fd, chunk)
                    finally:
                        os.close(fd)

            async def store(f: BlobFlight) -> None:
                await self._store_blob(f, repos)

            task = self._spawn(self._fly(flight, fetch, store))
            task.add_done_callback(lambda _t: self._blob_flights.pop(digest, None))
        else:
            entry[1][repo.full] = repo
        flight = entry[0]
        await flight.started.wait()
        if flight.error is not None and not flight.written:
            error = flight.error
            if isinstance(error, UpstreamNotFound):
                raise BlobUnknown("blob unknown to registry", {"digest": digest}) from error
            if isinstance(error, UpstreamContentInvalid):
                raise BlobUnknown(
                    f"the upstream's blob was refused: {error}", {"digest": digest}
                ) from error
            raise self._unavailable(config, error) from error

        def stored() -> AsyncIterator[bytes]:
            return self._read_stored(digest)

        return PulledBlob(
            digest, flight.size, local=False, chunks=flight.follow(stored), source=MISS
        )

    async def _fly(
        self,
        flight: BlobFlight,
        fetch: Callable[[BlobFlight], Awaitable[None]],
        store: Callable[[BlobFlight], Awaitable[None]],
    ) -> None:
        """The flight, under the cross-process lock of its digest when there is one."""
        if self.locks is None:
            await flight.run(fetch, store)
            return
        async with self.locks.hold("proxy-blob:" + flight.digest):
            await flight.run(fetch, store)

    async def _stored_elsewhere(self, flight: BlobFlight) -> bool:
        """The blob was stored (by another process) while this one waited for the lock:
        the flight is fed from storage instead of the upstream."""
        digest = flight.digest
        async with self.db.read() as s:
            known = (await s.execute(select(Blob.size).where(Blob.digest == digest))).scalar()
        if known is None:
            return False
        try:
            size = await self.storage.stat_blob(digest)
        except Exception:  # collected meanwhile: fetch it
            return False
        fd = flight.begin(size)
        try:
            async for chunk in self._read_stored(digest):
                await flight.append(fd, chunk)
        finally:
            os.close(fd)
        return True

    async def _read_stored(self, digest: str) -> AsyncIterator[bytes]:
        async for chunk in self.storage.read_blob(digest, 0, None):
            yield bytes(chunk)

    @staticmethod
    def _unavailable(config: ProxyConfig, error: BaseException) -> UpstreamUnavailable:
        return UpstreamUnavailable(
            f"the upstream registry of proxy cache {config.namespace} is unavailable and "
            "the blob is not cached",
            {"upstream": config.upstream_registry, "error": str(error)},
        )

    async def _link_existing(self, config: ProxyConfig, repo: RepoName, digest: str) -> bool:
        """Bytes stored already (another repository): link them here."""
        async with self.db.read() as s:
            size = (await s.execute(select(Blob.size).where(Blob.digest == digest))).scalar()
        if size is None:
            return False
        try:
            await self._link(config, {repo.full: repo}, digest, size)
        except Exception:  # collected meanwhile: fetch it
            log.debug("proxy cache: linking %s failed", digest, exc_info=True)
            return False
        return True

    async def _store_blob(self, flight: BlobFlight, repos: dict[str, RepoName]) -> None:
        digest = flight.digest
        size = await self.storage.write_blob(
            digest, flight.follow(lambda: self._read_stored(digest))
        )
        config = await self.directory.get(next(iter(repos.values())).namespace)
        if config is None:
            return
        await self._link(config, repos, flight.digest, size)

    async def _link(
        self, config: ProxyConfig, repos: dict[str, RepoName], digest: str, size: int
    ) -> None:
        async with self.db.write() as s:
            for repo in list(repos.values()):
                row = await self._repository(s, repo, config)
                blob_id = await self.blobs.link_stored(s, row.id, digest, size)
                await self._resolve(s, row, digest, "blob", blob_id)
        for name in list(repos):
            self.cache.invalidate(name)
