"""Indexing manifests and answering Quay's security route.

``index`` (the ``index_manifest`` job) reads the manifest by digest, refuses what Quay
refuses (an index: each of its platforms is indexed instead; artifacts; layers over
SECURITY_SCANNER_V4_INDEX_MAX_LAYER_SIZE), streams each layer from storage into the indexer
in a worker thread (the event loop hands it the storage's chunks), and stores the inventory,
or the first failed layer's reason. ``security`` answers the route: the status, and for an
indexed manifest its inventory matched against the current vulnerability database.
"""

from __future__ import annotations

import datetime
import json
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, BinaryIO, cast

import anyio
import anyio.to_thread
from anyio.from_thread import run as run_from_thread
from sqlalchemy import func, select

from berth.db.base import now_ms
from berth.db.session import Database
from berth.jobs import NoPayload
from berth.namespaces.models import Namespace
from berth.oci.manifest import ManifestInvalid, parse_manifest
from berth.outbound import OutboundClient
from berth.registry.liveness import alive
from berth.registry.models import Manifest, Repository, Tag
from berth.scanner import sbom, updater, vulndb
from berth.scanner.clair import ClairClient, ClairError, ClairUnsupported, quay_layer_from_clair
from berth.scanner.errors import ImportRefused, LayerRejected, ScannerUnavailable
from berth.scanner.indexer import Inventory, coalesce, inventory_from_json, inventory_to_json
from berth.scanner.layers import SCANNER_VERSION, LayerFiles, read_layer
from berth.scanner.matcher import Finding, MatchResult, candidate_keys, match, quay_layer
from berth.scanner.models import ManifestSecurity
from berth.scanner.settings import ScannerSettings
from berth.scanner.severity import INDEX as SEVERITY_INDEX
from berth.scanner.tasks import IndexManifest
from berth.scanner.updater import UpdateResult
from berth.storage import BlobNotFound, BlobStorage

# ``berth.notifications.hooks.notify`` and a payload builder, given by the composition root
# (the scanner and notifications are sibling features).
Notify = Callable[..., Awaitable[int]]
VulnPayload = Callable[[str, str, list[str], Finding], dict[str, Any]]
# Push an artifact (``bytes`` of media type ``str``) referring to the manifest ``digest`` into
# the repository ``(namespace, name)``; the composition root builds it on the registry.
AttachReferrer = Callable[[str, str, str, bytes, str], Awaitable[str]]
# (namespace, repository, layer digest) -> the layer's URL on Berth's /v2 and the headers
# that let Clair fetch it (a short-lived pull token); built by the composition root.
BlobAccess = Callable[[str, str, str], tuple[str, dict[str, list[str]]]]

_MS = ManifestSecurity.__table__
log = logging.getLogger(__name__)

# Quay's statuses on the route, by stored status.
ROUTE_STATUS = {
    "indexed": "scanned",
    "failed": "failed",
    "unsupported": "unsupported",
    "too_large": "manifest_layer_too_large",
}


def _container_layer(media_type: str) -> bool:
    return "tar" in media_type and ("image.rootfs" in media_type or "image.layer" in media_type)


def finding_key(f: Finding) -> str:
    return f"{f.package.name}|{f.package.version}|{f.advisory_id}"


class _BlobReader:
    """A blocking ``read`` over the storage's async chunks, for a worker thread."""

    def __init__(self, chunks: AsyncIterator[bytes | bytearray]) -> None:
        self.chunks = chunks
        self.buf = bytearray()
        self.done = False

    async def _next(self) -> bytes | None:
        try:
            return bytes(await self.chunks.__anext__())
        except StopAsyncIteration:
            return None

    def read(self, n: int = -1) -> bytes:
        while not self.done and (n < 0 or len(self.buf) < n):
            chunk = run_from_thread(self._next)
            if chunk is None:
                self.done = True
            else:
                self.buf += chunk
        if n < 0:
            n = len(self.buf)
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data


@dataclass(frozen=True, slots=True)
class SecurityReport:
    """A manifest's scan for the pages: the route's status, the stored reason of a failure,
    and for a scanned manifest its inventory matched against the current database."""

    status: str  # the route's: queued | scanned | failed | unsupported | ...
    error: str | None = None
    inventory: Inventory | None = None
    result: MatchResult | None = None


@dataclass(frozen=True, slots=True)
class SecuritySummary:
    """The tags table's cell: findings ((package, advisory) pairs, as Quay's UI counts the
    features' vulnerabilities) by severity, and how many have a fixed-in version."""

    status: str
    counts: dict[str, int]
    fixable: int = 0
    packages: int = 0

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def worst(self) -> str | None:
        for level in sorted(SEVERITY_INDEX, key=SEVERITY_INDEX.__getitem__):
            if self.counts.get(level):
                return level
        return None


@dataclass(frozen=True, slots=True)
class SecurityAnswer:
    status: str  # queued | scanned | failed | unsupported | manifest_layer_too_large
    data: dict[str, Any] | None


class _LayerCache:
    """Recently read layers (their kept files, or the reason they were refused), by digest:
    a base layer shared by the images of a backlog is read once. Bounded by kept bytes."""

    def __init__(self, max_bytes: int = 256 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self.items: OrderedDict[str, LayerFiles | LayerRejected] = OrderedDict()
        self.size = 0

    @staticmethod
    def _weight(item: LayerFiles | LayerRejected) -> int:
        if isinstance(item, LayerRejected):
            return 256
        return 256 + sum(len(k) + len(v) for k, v in item.files.items())

    def get(self, digest: str) -> LayerFiles | LayerRejected | None:
        item = self.items.get(digest)
        if item is not None:
            self.items.move_to_end(digest)
        return item

    def put(self, digest: str, item: LayerFiles | LayerRejected) -> None:
        weight = self._weight(item)
        if weight > self.max_bytes or digest in self.items:
            return
        self.items[digest] = item
        self.size += weight
        while self.size > self.max_bytes:
            _, old = self.items.popitem(last=False)
            self.size -= self._weight(old)


class ScannerService:
    def __init__(
        self,
        db: Database,
        storage: BlobStorage,
        settings: ScannerSettings,
        *,
        notify: Notify | None = None,
        payload: VulnPayload | None = None,
        outbound: OutboundClient | None = None,
        attach_referrer: AttachReferrer | None = None,
        registry_host: str = "localhost",
        clair: ClairClient | None = None,
        blob_access: BlobAccess | None = None,
    ) -> None:
        self.db = db
        self.storage = storage
        self.settings = settings
        self.notify = notify
        self.payload = payload
        self.outbound = outbound
        self.attach_referrer = attach_referrer
        self.registry_host = registry_host
        self.clair = clair
        self.blob_access = blob_access
        self.layers = _LayerCache()

    def _match_now(self, inventory: Inventory) -> tuple[int, MatchResult]:
        """(generation, result) against the current database (blocking: a worker thread)."""
        gen, results = self._match_many([inventory])
        return gen, results[0]

    def _match_many(self, inventories: list[Inventory]) -> tuple[int, list[MatchResult]]:
        """Several inventories against one opening of the current database."""
        path = vulndb.current_path(self.settings.db_dir)
        if path is None or not path.exists():
            return 0, [MatchResult([], 0) for _ in inventories]
        conn = vulndb.connect(path)
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
            return int(row[0]) if row else 0, [match(conn, inv) for inv in inventories]
        finally:
            conn.close()

    # ---- indexing ------------------------------------------------------------------------
    async def _manifest(self, digest: str) -> tuple[str, bytes] | None:
        async with self.db.read() as s:
            row = (
                await s.execute(
                    select(Manifest.media_type, Manifest.content)
                    .where(Manifest.digest == digest)
                    .limit(1)
                )
            ).first()
        return None if row is None else (row[0], bytes(row[1]))

    async def _store(
        self,
        digest: str,
        status: str,
        *,
        error: str | None = None,
        inventory: Any = None,
        generation: int = 0,
        findings: list[str] | None = None,
        announce: list[Finding] | None = None,
    ) -> None:
        async with self.db.write() as s:
            await s.execute(_MS.delete().where(_MS.c.digest == digest))
            await s.execute(
                _MS.insert().values(
                    digest=digest,
                    status=status,
                    error=error,
                    inventory=inventory,
                    scanner_version=SCANNER_VERSION,
                    matched_generation=generation,
                    findings=findings,
                )
            )
            if announce:
                await self._announce(s, digest, announce, new_index=True)

    async def _read(self, layer_digest: str) -> LayerFiles:
        cached = self.layers.get(layer_digest)
        if isinstance(cached, LayerRejected):
            raise cached
        if cached is not None:
            return cached
        try:
            files = await self._read_storage(layer_digest)
        except LayerRejected as e:
            self.layers.put(layer_digest, e)
            raise
        self.layers.put(layer_digest, files)
        return files

    async def _read_storage(self, layer_digest: str) -> LayerFiles:
        chunks = self.storage.read_blob(layer_digest)
        try:
            return await anyio.to_thread.run_sync(
                read_layer, cast(BinaryIO, _BlobReader(chunks)), self.settings.limits
            )
        finally:
            close = getattr(chunks, "aclose", None)
            if close is not None:
                await close()  # a layer refused half-way: release the blob's file now

    async def index(self, job: IndexManifest) -> str:
        """Index ``job.digest`` (and, for an index, each platform); the stored status."""
        return await self.index_digest(job.digest)

    async def index_digest(self, digest: str, *, depth: int = 0) -> str:
        async with self.db.read() as s:
            done = (
                await s.execute(
                    select(_MS.c.status).where(
                        _MS.c.digest == digest, _MS.c.scanner_version == SCANNER_VERSION
                    )
                )
            ).scalar()
        if done is not None:
            return str(done)
        found = await self._manifest(digest)
        if found is None:
            return "queued"  # deleted meanwhile
        media_type, content = found
        try:
            parsed = parse_manifest(content, media_type)
        except ManifestInvalid as e:
            await self._store(digest, "unsupported", error=str(e))
            return "unsupported"
        if parsed.is_index:
            await self._store(digest, "unsupported", error="an index: its platforms are indexed")
            if depth == 0:
                for child in parsed.child_digests():
                    await self.index_digest(child, depth=1)
            return "unsupported"
        if not parsed.layers or not all(_container_layer(d.media_type) for d in parsed.layers):
            await self._store(digest, "unsupported", error="not a container image")
            return "unsupported"
        cap = self.settings.max_layer_size
        if cap is not None and any(d.size > cap for d in parsed.layers):
            await self._store(digest, "too_large", error=f"a layer is larger than {cap} bytes")
            return "too_large"
        if self.clair is not None:
            return await self._index_with_clair(digest, [d.digest for d in parsed.layers])
        layers: list[tuple[str, LayerFiles]] = []
        for d in parsed.layers:
            if d.is_foreign:
                continue
            try:
                layers.append((d.digest, await self._read(d.digest)))
            except LayerRejected as e:
                await self._store(digest, "failed", error=f"layer {d.digest}: {e.reason}")
                return "failed"
            except BlobNotFound:
                await self._store(digest, "failed", error=f"layer {d.digest}: not in storage")
                return "failed"
        try:
            inventory = coalesce(layers)
        except Exception as e:
            await self._store(digest, "failed", error=f"merging the layers: {e}")
            return "failed"
        gen, result = await anyio.to_thread.run_sync(self._match_now, inventory)
        announce: list[Finding] = []
        st = self.settings
        if st.notifications and st.notify_on_new_index:
            # Quay's FEATURE_SECURITY_SCANNER_NOTIFY_ON_NEW_INDEX: the first index of a
            # manifest announces its findings at or above NOTIFICATION_MIN_SEVERITY_ON_NEW_INDEX.
            bar = SEVERITY_INDEX[st.min_severity_on_new_index]
            announce = [f for f in result.findings if SEVERITY_INDEX[f.severity] <= bar]
        if self.attach_referrer is not None and self.settings.sbom_referrer_namespaces:
            # Before the status says "scanned": a client that saw it finds the SBOM too.
            await self._attach_sboms(digest, inventory)
        await self._store(
            digest,
            "indexed",
            inventory=inventory_to_json(inventory),
            generation=gen,
            findings=sorted({finding_key(f) for f in result.findings}),
            announce=announce,
        )
        return "indexed"

    async def _attach_sboms(self, digest: str, inventory: Inventory) -> None:
        """The SPDX SBOM as an OCI referrer of ``digest`` in each repository of an enabled
        namespace holding it. A failure is logged: the index stands."""
        assert self.attach_referrer is not None
        async with self.db.read() as s:
            rows = (
                await s.execute(
                    select(Namespace.name, Repository.name)
                    .join(Repository, Repository.namespace_id == Namespace.id)
                    .join(Manifest, Manifest.repository_id == Repository.id)
                    .where(Manifest.digest == digest)
                )
            ).all()
        created = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for ns, name in rows:
            if not self.settings.attaches_sbom(ns):
                continue
            doc = sbom.spdx(
                inventory, repository=f"{ns}/{name}", digest=digest,
                registry=self.registry_host, created=created,
            )  # fmt: skip
            body = json.dumps(doc, sort_keys=True, indent=1).encode()
            try:
                await self.attach_referrer(ns, name, digest, body, sbom.SPDX_MEDIA_TYPE)
            except Exception:
                log.exception("attaching the SBOM of %s to %s/%s failed", digest, ns, name)

    async def _index_with_clair(self, digest: str, layer_digests: list[str]) -> str:
        """Hand the manifest to Clair (SECURITY_SCANNER_V4_ENDPOINT): each layer as a URL
        on Berth's /v2 with a pull token. Clair unreachable: the job fails and retries."""
        assert self.clair is not None
        assert self.blob_access is not None
        async with self.db.read() as s:
            row = (
                await s.execute(
                    select(Namespace.name, Repository.name)
                    .join(Repository, Repository.namespace_id == Namespace.id)
                    .join(Manifest, Manifest.repository_id == Repository.id)
                    .where(Manifest.digest == digest)
                    .limit(1)
                )
            ).first()
        if row is None:
            return "queued"  # deleted meanwhile
        layers = []
        for layer in layer_digests:
            uri, headers = self.blob_access(row[0], row[1], layer)
            layers.append({"hash": layer, "uri": uri, "headers": headers})
        try:
            await self.clair.index({"hash": digest, "layers": layers})
        except ClairUnsupported as e:
            await self._store(digest, "unsupported", error=f"Clair: {e}")
            return "unsupported"
        await self._store(digest, "indexed", error=None, inventory={"clair": True})
        return "indexed"

    # ---- re-matching after an import -----------------------------------------------------
    async def _tagged(self, s: Any, digest: str) -> dict[tuple[int, str, str], list[str]]:
        """Repositories with a live tag on ``digest``: (id, namespace, name) -> tags."""
        rows = (
            await s.execute(
                select(Repository.id, Namespace.name, Repository.name, Tag.name)
                .join(Manifest, Manifest.id == Tag.manifest_id)
                .join(Repository, Repository.id == Tag.repository_id)
                .join(Namespace, Namespace.id == Repository.namespace_id)
                .where(Manifest.digest == digest, alive(now_ms()), Tag.hidden.is_(False))
            )
        ).all()
        out: dict[tuple[int, str, str], list[str]] = {}
        for repo_id, ns, name, tag in rows:
            out.setdefault((repo_id, ns, name), []).append(tag)
        return out

    async def rematch(self, _: NoPayload | None = None) -> int:
        """Match again every indexed manifest last matched against an older generation; fire
        ``vulnerability_found`` for findings not seen before (not on a manifest's first match
        against any data: that would announce everything at once). How many were matched."""
        if self.clair is not None:
            return 0  # Clair's own notifications are not wired (docs/scanning.md)
        current, changed = await anyio.to_thread.run_sync(vulndb.changed_keys, self.settings.db_dir)
        done = 0
        while current:
            async with self.db.read() as s:
                rows = (
                    await s.execute(
                        select(
                            _MS.c.id,
                            _MS.c.digest,
                            _MS.c.inventory,
                            _MS.c.findings,
                            _MS.c.matched_generation,
                        )
                        .where(_MS.c.status == "indexed", _MS.c.matched_generation < current)
                        .order_by(_MS.c.id)
                        .limit(50)
                    )
                ).all()
            if not rows:
                break
            for row_id, digest, inv_json, old, matched in rows:
                inventory = inventory_from_json(inv_json or {})
                if matched == current - 1 and not (candidate_keys(inventory) & changed):
                    # None of its packages' advisories changed in this import: nothing to
                    # match, the findings stand.
                    async with self.db.write() as s:
                        await s.execute(
                            _MS.update()
                            .where(_MS.c.id == row_id)
                            .values(matched_generation=current)
                        )
                    done += 1
                    continue
                gen, result = await anyio.to_thread.run_sync(self._match_now, inventory)
                if gen < current:  # the database went back? never loop on it
                    return done
                seen = set(old or [])
                new: dict[str, Finding] = {}
                for f in result.findings:
                    new.setdefault(finding_key(f), f)
                fresh = [f for k, f in new.items() if k not in seen]
                async with self.db.write() as s:
                    await s.execute(
                        _MS.update()
                        .where(_MS.c.id == row_id)
                        .values(matched_generation=gen, findings=sorted(new))
                    )
                    if fresh and matched > 0 and self.settings.notifications:
                        await self._announce(s, digest, fresh)
                done += 1
        return done

    async def _announce(
        self, s: Any, digest: str, fresh: list[Finding], *, new_index: bool = False
    ) -> None:
        if self.notify is None or self.payload is None:
            return
        seen: set[str] = set()
        for (repo_id, ns, name), tags in (await self._tagged(s, digest)).items():
            for f in fresh:
                if (key := f"{repo_id}|{f.advisory_id}") in seen:
                    continue  # one event per advisory and repository
                seen.add(key)
                data = self.payload(ns, name, sorted(tags)[:100] or [digest], f)
                if new_index:
                    data = {**data, "vulnerable_index_report_created": "true"}
                await self.notify(s, "vulnerability_found", repository_id=repo_id, data=data)

    # ---- the security route --------------------------------------------------------------
    async def error(self, digest: str) -> str | None:
        async with self.db.read() as s:
            return (await s.execute(select(_MS.c.error).where(_MS.c.digest == digest))).scalar()

    async def security(self, digest: str, *, vulnerabilities: bool = True) -> SecurityAnswer:
        if self.clair is not None:
            return await self._security_from_clair(digest)
        r = await self.report(digest)
        if r.status != "scanned" or r.inventory is None or r.result is None:
            return SecurityAnswer(r.status, None)
        return SecurityAnswer(
            "scanned", quay_layer(digest, r.inventory, r.result, vulnerabilities=vulnerabilities)
        )

    # ---- status (the superuser panel) -------------------------------------------------------
    async def status(self) -> tuple[vulndb.Status, dict[str, int]]:
        """What ``berth scanner status`` shows, and the manifests by the route's status."""
        db_status = await anyio.to_thread.run_sync(vulndb.status, self.settings.db_dir)
        async with self.db.read() as s:
            rows = (
                await s.execute(select(_MS.c.status, func.count()).group_by(_MS.c.status))
            ).all()
        return db_status, {ROUTE_STATUS.get(st, st): int(n) for st, n in rows}

    # ---- SBOMs -----------------------------------------------------------------------------
    async def sbom(
        self, digest: str, fmt: str, *, repository: str, registry: str
    ) -> tuple[str, dict[str, Any] | None]:
        """(the route's status, the SBOM document when it is ``scanned``). ``fmt``: spdx or
        cyclonedx. The packages are the stored inventory's: no vulnerability data needed."""
        report = await self.report_status(digest)
        if report.status != "scanned" or report.inventory is None:
            return report.status, None
        created = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        build = sbom.spdx if fmt == "spdx" else sbom.cyclonedx
        doc = build(
            report.inventory, repository=repository, digest=digest, registry=registry,
            created=created,
        )  # fmt: skip
        return "scanned", doc

    async def report_status(self, digest: str, *, clair: bool = False) -> SecurityReport:
        """The status and inventory (no matching). With Clair there is no local inventory:
        the pages and SBOMs show the status only."""
        async with self.db.read() as s:
            row = (
                await s.execute(
                    select(_MS.c.status, _MS.c.error, _MS.c.inventory).where(_MS.c.digest == digest)
                )
            ).first()
        if row is None:
            return SecurityReport("queued")
        status = ROUTE_STATUS.get(row[0], "failed")
        if status != "scanned":
            return SecurityReport(status, error=row[1])
        if clair or (row[2] or {}).get("clair"):
            return SecurityReport("scanned")
        return SecurityReport("scanned", inventory=inventory_from_json(row[2] or {}))

    # ---- the network updater ---------------------------------------------------------------
    async def update_database(self, _: NoPayload | None = None) -> UpdateResult | None:
        """The ``update_vulndb`` job: fetch the configured sources and import them (the next
        ``rematch_manifests`` sweep then matches the manifests again). A failed update leaves
        the loaded database as it was and is logged; None then."""
        if self.outbound is None or not self.settings.update_sources:
            return None
        try:
            return await updater.update(
                self.outbound, self.settings.update_sources, self.settings.db_dir
            )
        except ImportRefused as e:
            log.warning("vulnerability data update refused: %s", e.reason)
            return None

    async def _clair_summary(self, digest: str) -> SecuritySummary:
        try:
            answer = await self._security_from_clair(digest)
        except ScannerUnavailable:
            return SecuritySummary("failed", {})
        if answer.data is None:
            return SecuritySummary(answer.status, {})
        counts: dict[str, int] = {}
        fixable = 0
        features = answer.data["Layer"]["Features"]
        for f in features:
            for v in f["Vulnerabilities"]:
                counts[v["Severity"]] = counts.get(v["Severity"], 0) + 1
                fixable += bool(v["FixedBy"])
        return SecuritySummary("scanned", counts, fixable, len(features))

    async def _security_from_clair(self, digest: str) -> SecurityAnswer:
        found = await self.report_status(digest, clair=True)
        if found.status != "scanned":
            return SecurityAnswer(found.status, None)
        try:
            report = await self.clair.report(digest) if self.clair else None
        except ClairError as e:
            raise ScannerUnavailable(str(e)) from e
        if report is None:
            return SecurityAnswer("queued", None)  # Quay: a 404 from Clair is "queued"
        return SecurityAnswer("scanned", quay_layer_from_clair(digest, report))

    # ---- the pages -------------------------------------------------------------------------
    async def report(self, digest: str) -> SecurityReport:
        """The security page's data: the same status and matching as the route."""
        async with self.db.read() as s:
            row = (
                await s.execute(
                    select(_MS.c.status, _MS.c.error, _MS.c.inventory).where(_MS.c.digest == digest)
                )
            ).first()
        if row is None:
            return SecurityReport("queued")
        status = ROUTE_STATUS.get(row[0], "failed")
        if status != "scanned":
            return SecurityReport(status, error=row[1])
        inventory = inventory_from_json(row[2] or {})
        _gen, result = await anyio.to_thread.run_sync(self._match_now, inventory)
        return SecurityReport("scanned", inventory=inventory, result=result)

    async def summaries(self, digests: list[str]) -> dict[str, SecuritySummary]:
        """The tags table's security column: each digest's status and counts by severity,
        every scanned one matched against one opening of the current database."""
        wanted = sorted(set(digests))
        if not wanted:
            return {}
        async with self.db.read() as s:
            rows = (
                await s.execute(
                    select(_MS.c.digest, _MS.c.status, _MS.c.inventory).where(
                        _MS.c.digest.in_(wanted)
                    )
                )
            ).all()
        out = {d: SecuritySummary("queued", {}) for d in wanted}
        if self.clair is not None:
            for d in wanted:
                out[d] = await self._clair_summary(d)
            return out
        scanned: list[tuple[str, Inventory]] = []
        for digest, status, inv_json in rows:
            route = ROUTE_STATUS.get(status, "failed")
            if route == "scanned":
                scanned.append((digest, inventory_from_json(inv_json or {})))
            else:
                out[digest] = SecuritySummary(route, {})
        if scanned:
            _gen, results = await anyio.to_thread.run_sync(
                self._match_many, [inv for _d, inv in scanned]
            )
            for (digest, inv), result in zip(scanned, results, strict=True):
                counts: dict[str, int] = {}
                for f in result.findings:
                    counts[f.severity] = counts.get(f.severity, 0) + 1
                fixable = sum(1 for f in result.findings if f.fixed_by and f.fixed_by != "0")
                out[digest] = SecuritySummary("scanned", counts, fixable, len(inv.packages))
        return out
