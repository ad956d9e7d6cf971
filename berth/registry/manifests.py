"""Manifests, tags, referrers and the catalog.

A manifest is visible by digest while a live tag points at it (pushes by digest get a
hidden tag) or while it is a child of a manifest that a live tag points at (the rules are in
berth.registry.liveness). Deleting by digest ends every tag pointing at the manifest;
deleting by tag ends that tag; immutable tags refuse both, and refuse to be moved by a push.
Ended tag rows stay for history and time-machine restore; garbage collection frees content
later. A pushed image's labels are stored with its manifest and can expire the tag or make
it immutable (berth.registry.labels).
"""

from __future__ import annotations

import bisect
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, NoReturn

import orjson
from sqlalchemy import bindparam, case, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from berth.audit.services import Performer, insert_logs, log_values, record
from berth.db.base import now_ms
from berth.db.fast import Unit, dialect_name
from berth.db.session import Database
from berth.namespaces.models import Namespace
from berth.oci import mediatypes as mt
from berth.oci.artifacts import ArtifactRules
from berth.oci.digest import digest_of
from berth.oci.manifest import ManifestInvalid as OciManifestInvalid
from berth.oci.manifest import ManifestUnsupported, ParsedManifest, parse_manifest
from berth.oci.names import is_valid_tag, referrers_tag
from berth.registry import accounting, sql
from berth.registry.blobs import check_digest
from berth.registry.cache import NoCache, ReadCache
from berth.registry.errors import (
    Denied,
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestUnknown,
    NameUnknown,
    QuotaExceeded,
    TagInvalid,
    TooLarge,
    Unsupported,
)
from berth.registry.events import NoListener, PushListener
from berth.registry.immutability import TagGuard
from berth.registry.labels import NO_LABELS, PushLabelReader, PushLabels, insert_manifest_labels
from berth.registry.liveness import alive, visible
from berth.registry.models import (
    Blob,
    Manifest,
    ManifestBlob,
    ManifestChild,
    Repository,
    RepositoryBlob,
    Tag,
)
from berth.registry.pulls import PullLog
from berth.registry.quota import QuotaGuard
from berth.registry.repositories import RepoName, RepoRow, find_repository
from berth.registry.settings import TagSettings
from berth.registry.tags import (
    INSERT_TAG,
    end_tag,
    point_tag,
    share_repository,
    take_tag_turn,
)
from berth.storage.base import BlobStorage

EMPTY_JSON = mt.EMPTY_JSON

# ---- the push path's statements, built once (constructing them per push cost more CPU
# than running them: SQLAlchemy memoizes a statement object's cache key and compiled form)
_M = Manifest.__table__
_B = Blob.__table__
_RB = RepositoryBlob.__table__
_MANIFEST_ID = select(_M.c.id).where(
    _M.c.repository_id == bindparam("repository_id"), _M.c.digest == bindparam("digest")
)
_LINKED_BLOBS = (
    select(_B.c.digest, _B.c.id, _B.c.size)
    .join(_RB, _RB.c.blob_id == _B.c.id)
    .where(
        _RB.c.repository_id == bindparam("repository_id"),
        _B.c.digest.in_(bindparam("digests", expanding=True)),
    )
)
_BLOB_ID = select(_B.c.id).where(_B.c.digest == bindparam("digest"))
_MANIFEST_IDS = select(_M.c.digest, _M.c.id).where(
    _M.c.repository_id == bindparam("repository_id"),
    _M.c.digest.in_(bindparam("digests", expanding=True)),
)
_INSERT_MANIFEST: dict[str, Any] = {}  # by dialect name, built on first use (sql._insert_for)


def _insert_manifest(s: Unit) -> Any:
    """INSERT ... ON CONFLICT (repository_id, digest) DO NOTHING RETURNING id: two pushes
    of one digest under different tags may race to store it; the loser reads the winner's."""
    name = dialect_name(s)
    stmt = _INSERT_MANIFEST.get(name)
    if stmt is None:
        stmt = (
            sql._insert_for(s)(_M)
            .on_conflict_do_nothing(index_elements=["repository_id", "digest"])
            .returning(_M.c.id)
        )
        _INSERT_MANIFEST[name] = stmt
    return stmt


_INSERT_MANIFEST_BLOBS = ManifestBlob.__table__.insert()
_INSERT_MANIFEST_CHILDREN = ManifestChild.__table__.insert()


@dataclass(frozen=True, slots=True)
class ManifestData:
    digest: str
    media_type: str
    content: bytes
    subject: str | None = None


@dataclass(frozen=True, slots=True)
class PutResult:
    digest: str
    subject: str | None
    created_repository: bool = False


@dataclass(frozen=True, slots=True)
class CatalogScope:
    """Which repositories a caller may see in the catalog."""

    everything: bool = False
    namespaces: frozenset[str] = frozenset()
    public: bool = False
    visible: Any = None  # a condition on Repository (the caller's readable repositories)


def _is_digest(reference: str) -> bool:
    return ":" in reference


def _repo_meta(
    namespace: str, name: str, extra: dict[str, Any] | None, **fields: str | None
) -> dict[str, Any]:
    """Quay's metadata of a registry action: repo and namespace, what the caller adds (the
    user agent, who), then ``fields`` (tag, manifest_digest ...) that are set."""
    meta: dict[str, Any] = {"repo": name, "namespace": namespace, **(extra or {})}
    meta.update((k, v) for k, v in fields.items() if v is not None)
    return meta


class ManifestService:
    def __init__(
        self,
        db: Database,
        storage: BlobStorage,
        pulls: PullLog,
        *,
        max_manifest_bytes: int,
        cache: ReadCache[Any] | None = None,
        tag_settings: TagSettings | None = None,
        guard: TagGuard | None = None,
        listener: PushListener | None = None,
        artifacts: ArtifactRules | None = None,
        quota: QuotaGuard | None = None,
    ) -> None:
        self.db = db
        self.storage = storage
        self.pulls = pulls
        self.artifacts = artifacts or ArtifactRules()
        self.guard = guard or TagGuard()
        self.listener: PushListener = listener or NoListener()
        self.quota = quota  # None: no limits to check (quota management off)
        self.max_bytes = max_manifest_bytes
        # Manifests by reference and the tag list (shared with the blob sizes: ``BlobService``).
        self.cache: ReadCache[Any] = cache if cache is not None else NoCache()
        self.labels = PushLabelReader(storage)
        self.tag_settings = tag_settings or TagSettings()

    # ---- reads -------------------------------------------------------------------------
    async def get(
        self,
        repo: RepoName,
        reference: str,
        *,
        pull_by: Performer | None = None,
        log_meta: dict[str, Any] | None = None,
    ) -> ManifestData:
        """A cache hit, or one indexed query: namespace -> repository -> tag/manifest.

        With ``log_meta`` (a pull, not a HEAD) the ``pull_repo`` entry goes to the pull
        log's buffer (berth.registry.pulls), written within a second."""
        repo_key = repo.full
        # Its own key space: the reference is the client's, unchecked yet, and the cache
        # also holds the repository's tag list ("tags") and blob sizes ("blob:<digest>").
        item = "manifest:" + reference
        data: ManifestData | None = self.cache.get(repo_key, item)
        if data is None:
            generation = self.cache.generation(repo_key)
            data, expires_ms = await self._query(repo, reference)
            ttl = None if expires_ms is None else (expires_ms - now_ms()) / 1000
            self.cache.put(repo_key, item, data, generation, ttl_s=ttl)
        if log_meta is not None:
            self.pulls.record(
                repo.namespace,
                repo.name,
                pull_by,
                log_meta,
                tag=None if _is_digest(reference) else reference,
                manifest_digest=data.digest,
            )
        return data

    async def _query(self, repo: RepoName, reference: str) -> tuple[ManifestData, int | None]:
        """The manifest and when the answer may change by itself (a tag's expiration)."""
        now = now_ms()
        columns = [Manifest.digest, Manifest.media_type, Manifest.content, Manifest.subject_digest]
        if _is_digest(reference):
            digest = check_digest(reference)
            parent = Tag.__table__.alias("expiring_parent")
            expiry = [
                select(func.min(Tag.end_ts))
                .where(Tag.manifest_id == Manifest.id, Tag.end_ts > now)
                .scalar_subquery(),
                select(func.min(parent.c.end_ts))
                .select_from(
                    ManifestChild.__table__.join(
                        parent, parent.c.manifest_id == ManifestChild.parent_id
                    )
                )
                .where(ManifestChild.child_id == Manifest.id, parent.c.end_ts > now)
                .scalar_subquery(),
            ]
            stmt = self._base(repo, *columns, *expiry).where(
                Manifest.digest == digest, visible(now)
            )
        elif not is_valid_tag(reference):
            # Neither a digest nor a tag: no manifest can be named so (Quay's route does
            # not match it, so it answers 404 like the OCI spec's conformance suite expects).
            async with self.db.read() as s:
                await self._raise_unknown(s, repo, reference)
        else:
            stmt = (
                self._base(repo, *columns, Tag.end_ts)
                .join(Tag, Tag.manifest_id == Manifest.id)
                .where(Tag.name == reference, Tag.hidden.is_(False), alive(now))
                .order_by(Tag.start_ts.desc())
                .limit(1)
            )
        async with self.db.read() as s:
            row = (await s.execute(stmt)).first()
            if row is None:
                await self._raise_unknown(s, repo, reference)
        ends = [t for t in row[4:] if t is not None]
        return ManifestData(row[0], row[1], row[2], row[3]), min(ends) if ends else None

    @staticmethod
    def _base(repo: RepoName, *columns: Any) -> Any:
        return (
            select(*columns)
            .join(Repository, Repository.id == Manifest.repository_id)
            .join(Namespace, Namespace.id == Repository.namespace_id)
            .where(Namespace.name == repo.namespace, Repository.name == repo.name)
        )

    async def _raise_unknown(self, s: AsyncSession, repo: RepoName, reference: str) -> NoReturn:
        await self._require_repository(s, repo)
        raise ManifestUnknown("manifest unknown", {"reference": reference})

    async def list_tags(
        self, repo: RepoName, *, n: int | None, last: str | None
    ) -> tuple[list[str], bool]:
        """Live tag names in order, after ``last``, at most ``n`` (and whether more exist).

        With a cache the repository's whole sorted list is kept until it changes (or a tag
        in it expires), so every page is a slice; without one each page is one range query.
        """
        names: list[str] | None = self.cache.get(repo.full, "tags")
        if names is None and not self.cache.enabled:
            return await self._tags_page(repo, n=n, last=last)
        if names is None:
            generation = self.cache.generation(repo.full)
            names, expires_ms = await self._all_tags(repo)
            ttl = None if expires_ms is None else (expires_ms - now_ms()) / 1000
            self.cache.put(repo.full, "tags", names, generation, ttl_s=ttl)
        start = bisect.bisect_right(names, last) if last else 0
        stop = len(names) if n is None else start + n
        return names[start:stop], stop < len(names)

    def _tag_rows(self, repo: RepoName, *columns: Any) -> Any:
        now = now_ms()
        return (
            select(*columns)
            .join(Repository, Repository.id == Tag.repository_id)
            .join(Namespace, Namespace.id == Repository.namespace_id)
            .where(
                Namespace.name == repo.namespace,
                Repository.name == repo.name,
                Tag.hidden.is_(False),
                alive(now),
            )
        )

    async def _all_tags(self, repo: RepoName) -> tuple[list[str], int | None]:
        stmt = self._tag_rows(repo, Tag.name, func.min(Tag.end_ts)).group_by(Tag.name)
        async with self.db.read() as s:
            rows = (await s.execute(stmt)).all()
            if not rows:
                await self._require_repository(s, repo)
        ends = [end for _, end in rows if end is not None]
        return sorted(name for name, _ in rows), min(ends) if ends else None

    async def _tags_page(
        self, repo: RepoName, *, n: int | None, last: str | None
    ) -> tuple[list[str], bool]:
        stmt = self._tag_rows(repo, Tag.name).group_by(Tag.name).order_by(Tag.name)
        if last:
            stmt = stmt.where(Tag.name > last)
        if n is not None:
            stmt = stmt.limit(n + 1)
        async with self.db.read() as s:
            names = list((await s.execute(stmt)).scalars())
            if not names:
                await self._require_repository(s, repo)
        if n is not None and len(names) > n:
            return names[:n], True
        return names, False

    @staticmethod
    async def _require_repository(s: AsyncSession, repo: RepoName) -> None:
        if await find_repository(s, repo) is None:
            raise NameUnknown("repository name not known to registry", {"name": repo.full})

    async def referrers(
        self, repo: RepoRow, subject: str, *, artifact_type: str | None
    ) -> list[dict[str, Any]]:
        subject = check_digest(subject)
        now = now_ms()
        stmt = (
            select(
                Manifest.digest,
                Manifest.media_type,
                Manifest.artifact_type,
                Manifest.size,
                Manifest.annotations,
            )
            .where(
                Manifest.repository_id == repo.id,
                Manifest.subject_digest == subject,
                visible(now),
            )
            .order_by(Manifest.created_at, Manifest.id)
        )
        async with self.db.read() as s:
            rows = (await s.execute(stmt)).all()
            fallback = (
                await s.execute(
                    select(Manifest.content, Manifest.media_type)
                    .join(Tag, Tag.manifest_id == Manifest.id)
                    .where(
                        Tag.repository_id == repo.id,
                        Tag.name == referrers_tag(subject),
                        alive(now),
                    )
                    .limit(1)
                )
            ).first()
        out: list[dict[str, Any]] = []
        seen: set[object] = set()  # digests, and whatever an index's descriptors hold
        for digest, media_type, art, size, notes in rows:
            desc: dict[str, Any] = {"mediaType": media_type, "digest": digest, "size": size}
            if art:
                desc["artifactType"] = art
            if notes:
                desc["annotations"] = notes
            out.append(desc)
            seen.add(digest)
        if fallback is not None and fallback[1] == mt.OCI_INDEX:
            # Referrers pushed by clients using the tag schema (sha256-<hex> index).
            try:
                index = orjson.loads(fallback[0])
                for desc in index.get("manifests") or []:
                    if isinstance(desc, dict) and desc.get("digest") not in seen:
                        out.append(desc)
                        seen.add(desc.get("digest"))
            except orjson.JSONDecodeError:
                pass
        if artifact_type is not None:
            out = [d for d in out if d.get("artifactType") == artifact_type]
        return out

    async def catalog(
        self, scope: CatalogScope, *, n: int, last: str | None
    ) -> tuple[list[str], bool]:
        """Repository names in lexical order of the full name, paged on its index."""
        stmt = select(Repository.full_name).order_by(Repository.full_name).limit(n + 1)
        if not scope.everything:
            conds = []
            if scope.namespaces:
                conds.append(
                    Repository.namespace_id.in_(
                        select(Namespace.id).where(Namespace.name.in_(scope.namespaces))
                    )
                )
            if scope.public:
                conds.append(Repository.is_public.is_(True))
            if scope.visible is not None:
                conds.append(scope.visible)
            if not conds:
                return [], False
            visible = or_(*conds)
            if self.db.is_sqlite:
                # SQLite would gather every visible repository through its indexes (a
                # multi-index OR) and sort them all again for each page; as a plain expression
                # the condition is tested row by row while the full_name index is walked in
                # order, so a page costs its own rows. PostgreSQL already plans an ordered
                # index scan with hashed subplans (the wrapper would make it scan and sort).
                visible = case((visible, 1), else_=0) == 1
            stmt = stmt.where(visible)
        if last:
            stmt = stmt.where(Repository.full_name > last)
        async with self.db.read() as s:
            names = list((await s.execute(stmt)).scalars())
        if len(names) > n:
            return names[:n], True
        return names, False

    # ---- writes ------------------------------------------------------------------------
    def parse(self, body: bytes, content_type: str | None) -> ParsedManifest:
        if len(body) > self.max_bytes:
            raise TooLarge(f"manifest is larger than {self.max_bytes} bytes", {"size": len(body)})
        try:
            parsed = parse_manifest(body, content_type)
            self.artifacts.check(parsed)
            return parsed
        except ManifestUnsupported as e:
            raise Unsupported(e.message, e.detail) from e
        except OciManifestInvalid as e:
            raise ManifestInvalid(e.message, e.detail) from e

    async def put(
        self,
        repo: RepoRow,
        reference: str,
        body: bytes,
        content_type: str | None,
        *,
        performer: Performer | None = None,
        log_meta: dict[str, Any] | None = None,
    ) -> PutResult:
        """Store the manifest and point the tag (or a hidden tag, by digest) at it; the
        ``push_repo`` usage-log entry is written in the same unit (``log_meta``: what the
        caller adds to Quay's metadata, the user agent and who)."""
        parsed = self.parse(body, content_type)
        by_digest = _is_digest(reference)
        if by_digest:
            wanted = check_digest(reference)
            algorithm = wanted.split(":", 1)[0]
            digest = digest_of(body, algorithm)
            if digest != wanted:
                raise DigestInvalid(
                    "manifest digest did not match the reference",
                    {"reference": wanted, "digest": digest},
                )
        else:
            if not is_valid_tag(reference):
                raise TagInvalid("invalid tag", {"tag": reference})
            digest = digest_of(body)
        if any(d.digest == mt.EMPTY_JSON_DIGEST for d in parsed.blob_descriptors()):
            await self._ensure_empty_blob()
        labels = await self.labels.read(parsed)  # storage I/O before the transaction

        try:
            await self._put_unit(
                repo, reference, body, parsed, labels, digest, by_digest, performer, log_meta
            )
        except QuotaExceeded as e:
            if self.quota is not None:
                await self.quota.refused(e)
            raise
        self.cache.invalidate(f"{repo.namespace}/{repo.name}")  # after commit
        return PutResult(digest, parsed.subject.digest if parsed.subject else None)

    async def _put_unit(
        self,
        repo: RepoRow,
        reference: str,
        body: bytes,
        parsed: ParsedManifest,
        labels: PushLabels,
        digest: str,
        by_digest: bool,
        performer: Performer | None,
        log_meta: dict[str, Any] | None,
    ) -> None:
        """The push's one unit of work (``put``)."""
        async with self.db.write_fast() as s:
            # Concurrent pushes to a repository run side by side (PostgreSQL): only pushes
            # of one tag (or digest) take turns, and the size accounting, done last, holds
            # the namespace row for its few statements. SQLite runs one writer at a time.
            await share_repository(s, repo.id)
            await take_tag_turn(s, repo.id, digest if by_digest else reference)
            manifest_id, created = await self._store(s, repo, digest, body, parsed, labels)
            now = now_ms()
            if by_digest:
                await self._hidden_tag(s, repo.id, digest, manifest_id, now)
            else:
                await self._set_tag(s, repo.id, reference, manifest_id, now, labels)
            if parsed.manifests:
                # Children now live through their index: their digest-push tags can go.
                await s.execute(
                    update(Tag)
                    .where(
                        Tag.repository_id == repo.id,
                        Tag.hidden.is_(True),
                        Tag.end_ts.is_(None),
                        Tag.manifest_id.in_(
                            select(ManifestChild.child_id).where(
                                ManifestChild.parent_id == manifest_id
                            )
                        ),
                    )
                    .values(end_ts=now)
                )
            if created:
                await accounting.manifest_stored(
                    s, repo.id, manifest_id, repo.namespace_id, quota=self.quota
                )
            push = _repo_meta(
                repo.namespace,
                repo.name,
                log_meta,
                tag=None if by_digest else reference,
                manifest_digest=digest,
            )
            await insert_logs(
                s,
                [
                    log_values(
                        "push_repo",
                        repo.namespace,
                        performer,
                        repo.name,
                        push,
                        namespace_id=repo.namespace_id,
                        repository_id=repo.id,
                        created_at=now,
                    )
                ],
            )
            if not by_digest:
                await self.listener.tag_pushed(s, repo, reference, digest, performer)

    async def store_fetched(
        self, s: Unit, repo: RepoRow, digest: str, body: bytes, parsed: ParsedManifest
    ) -> tuple[int, bool, list[str]]:
        """A manifest a pull-through fetched, stored in the caller's unit before its
        content: its row id, whether this call inserted it, and the blobs and child
        manifests the repository still lacks (linked later by the caller, which also does
        the size accounting once nothing is missing)."""
        missing: list[str] = []
        manifest_id, created = await self._store(s, repo, digest, body, parsed, missing_out=missing)
        return manifest_id, created, missing

    async def _ensure_empty_blob(self) -> None:
        async def body() -> AsyncIterator[bytes]:
            yield EMPTY_JSON

        await self.storage.write_blob(mt.EMPTY_JSON_DIGEST, body())
        async with self.db.write() as s:
            await sql.insert_ignore(
                s,
                Blob,
                {"digest": mt.EMPTY_JSON_DIGEST, "size": len(EMPTY_JSON), "created_at": now_ms()},
                ["digest"],
            )

    async def _store(
        self,
        s: Unit,
        repo: RepoRow,
        digest: str,
        body: bytes,
        parsed: ParsedManifest,
        labels: PushLabels = NO_LABELS,
        missing_out: list[str] | None = None,
    ) -> tuple[int, bool]:
        """The manifest's row id, and whether this call inserted it (then the caller
        accounts its size).

        ``missing_out`` (a pull-through cache storing a manifest before its content): the
        blobs and child manifests the repository lacks are appended to it instead of
        refusing the manifest; only what is present is linked."""
        existing = (
            await s.execute(_MANIFEST_ID, {"repository_id": repo.id, "digest": digest})
        ).scalar()
        if existing is not None:
            return existing, False

        blobs = parsed.blob_descriptors()
        wanted = {d.digest for d in blobs}
        found: dict[str, tuple[int, int]] = {}
        if wanted:
            rows = await s.execute(
                _LINKED_BLOBS, {"repository_id": repo.id, "digests": sorted(wanted)}
            )
            found = {d: (i, size) for d, i, size in rows}
            if mt.EMPTY_JSON_DIGEST in wanted and mt.EMPTY_JSON_DIGEST not in found:
                empty = (await s.execute(_BLOB_ID, {"digest": mt.EMPTY_JSON_DIGEST})).scalar()
                if empty is not None:
                    await sql.insert_ignore(
                        s,
                        RepositoryBlob,
                        {"repository_id": repo.id, "blob_id": empty, "linked_at": now_ms()},
                        ["repository_id", "blob_id"],
                    )
                    found[mt.EMPTY_JSON_DIGEST] = (empty, len(EMPTY_JSON))
        missing = [d.digest for d in blobs if d.digest not in found]
        children = parsed.child_digests()
        child_ids: dict[str, int] = {}
        if children:
            rows = await s.execute(
                _MANIFEST_IDS, {"repository_id": repo.id, "digests": sorted(set(children))}
            )
            child_ids = {digest: child_id for digest, child_id in rows.all()}
            missing += [d for d in children if d not in child_ids]
        if missing and missing_out is not None:
            missing_out.extend(dict.fromkeys(missing))
        elif missing:
            raise ManifestBlobUnknown(
                "manifest references content unknown to the repository",
                {"missing": list(dict.fromkeys(missing))},
            )
        wrong = [
            {"digest": d.digest, "declared": d.size, "actual": found[d.digest][1]}
            for d in blobs
            if d.digest in found and found[d.digest][1] != d.size
        ]
        if wrong:
            raise ManifestInvalid(
                "descriptor sizes do not match the stored blobs", {"sizes": wrong}
            )

        inserted = (
            await s.execute(
                _insert_manifest(s),
                {
                    "repository_id": repo.id,
                    "digest": digest,
                    "media_type": parsed.media_type,
                    # Referrers spec: a referrer without artifactType reports its config
                    # media type.
                    "artifact_type": parsed.artifact_type
                    or (parsed.config.media_type if parsed.subject and parsed.config else None),
                    "subject_digest": parsed.subject.digest if parsed.subject else None,
                    "annotations": parsed.annotations or None,
                    "content": body,
                    "size": len(body),
                    "layers_size": None if parsed.is_index else sum(d.size for d in parsed.layers),
                    "created_at": now_ms(),
                },
            )
        ).scalar()
        if inserted is None:  # a concurrent push of the same digest committed it first
            winner = await s.execute(_MANIFEST_ID, {"repository_id": repo.id, "digest": digest})
            return winner.scalar_one(), False
        manifest_id: int = inserted
        if found:
            await s.execute(
                _INSERT_MANIFEST_BLOBS,
                [
                    {
                        "manifest_id": manifest_id,
                        "blob_id": i,
                        "repository_id": repo.id,
                        "namespace_id": repo.namespace_id,
                    }
                    for i, _ in found.values()
                ],
            )
        if child_ids:
            await s.execute(
                _INSERT_MANIFEST_CHILDREN,
                [{"parent_id": manifest_id, "child_id": i} for i in set(child_ids.values())],
            )
        if labels.labels:
            await insert_manifest_labels(s, manifest_id, labels.labels)
        return manifest_id, True

    async def _set_tag(
        self,
        s: Unit,
        repository_id: int,
        name: str,
        manifest_id: int,
        now: int,
        labels: PushLabels,
    ) -> None:
        """Point the pushed tag at the manifest; its labels may make it expire or immutable."""
        immutable = labels.immutable and self.tag_settings.immutable_tags
        end_ts = None
        if labels.expires_after_s is not None and (
            self.tag_settings.immutable_can_expire
            or not (immutable or await self.guard.protects(s, repository_id, name))
        ):
            end_ts = now + labels.expires_after_s * 1000
        await point_tag(
            s,
            repository_id,
            name,
            manifest_id,
            now,
            guard=self.guard,
            end_ts=end_ts,
            immutable=immutable,
        )

    async def _hidden_tag(
        self, s: Unit, repository_id: int, digest: str, manifest_id: int, now: int
    ) -> None:
        present = (
            await s.execute(
                select(Tag.id)
                .where(
                    Tag.repository_id == repository_id,
                    Tag.manifest_id == manifest_id,
                    alive(now),
                )
                .limit(1)
            )
        ).scalar()
        if present is None:
            await s.execute(
                INSERT_TAG,
                {
                    "repository_id": repository_id,
                    "name": digest,
                    "manifest_id": manifest_id,
                    "start_ts": now,
                    "end_ts": None,
                    "hidden": True,
                    "reversion": False,
                    "immutable": False,
                },
            )

    @staticmethod
    async def _live_parents(s: AsyncSession, manifest_id: int, now: int) -> list[str]:
        parent = Manifest.__table__.alias("parent")
        rows = await s.execute(
            select(parent.c.digest)
            .select_from(ManifestChild)
            .join(parent, parent.c.id == ManifestChild.parent_id)
            .where(
                ManifestChild.child_id == manifest_id,
                exists().where(Tag.manifest_id == parent.c.id, alive(now)),
            )
            .distinct()
        )
        return sorted(rows.scalars())

    @staticmethod
    async def _tag_names(s: AsyncSession, manifest_id: int, now: int) -> list[str]:
        rows = await s.execute(
            select(Tag.name).where(
                Tag.manifest_id == manifest_id, Tag.hidden.is_(False), alive(now)
            )
        )
        return list(rows.scalars())

    async def delete(
        self,
        repo: RepoRow,
        reference: str,
        *,
        performer: Performer | None = None,
        log_meta: dict[str, Any] | None = None,
        log_kind: str = "delete_tag",
        started_at: int | None = None,
    ) -> None:
        """End a tag, or every tag of a manifest (by digest). ``started_at`` (by tag only):
        end the tag only if its live row is still the one that started then.

        Each ended tag leaves a ``log_kind`` entry (Quay's ``delete_tag``: ``tag``, and by
        digest ``digest``) in the same transaction; a manifest pushed by digest only (its
        tags hidden) leaves one entry without a tag."""
        now = now_ms()
        async with self.db.write() as s:
            if _is_digest(reference):
                digest = check_digest(reference)
                manifest_id = (
                    await s.execute(
                        select(Manifest.id).where(
                            Manifest.repository_id == repo.id, Manifest.digest == digest
                        )
                    )
                ).scalar()
                ended = 0
                names: list[str] = []
                if manifest_id is not None:
                    parents = await self._live_parents(s, manifest_id, now)
                    if parents:
                        raise Denied(
                            "manifest is part of an index that is still tagged; delete or "
                            "untag the index first",
                            {"digest": digest, "indexes": parents},
                        )
                    names = await self._tag_names(s, manifest_id, now)
                    await self.guard.ensure_mutable(s, repo.id, names, now, action="deleted")
                    result = await s.execute(
                        update(Tag)
                        .where(Tag.manifest_id == manifest_id, alive(now))
                        .values(end_ts=now)
                    )
                    ended = result.rowcount  # type: ignore[attr-defined]  # rowcount: a DML result is a CursorResult
                if not ended:
                    raise ManifestUnknown("manifest unknown", {"digest": digest})
                fields = [{"tag": n, "digest": digest} for n in names] or [{"digest": digest}]
            else:
                if not await end_tag(
                    s, repo.id, reference, now, now, guard=self.guard, started_at=started_at
                ):
                    raise ManifestUnknown("manifest unknown", {"tag": reference})
                fields = [{"tag": reference}]
            for f in fields:
                record(
                    s, log_kind, repo.namespace, performer, repo.name,
                    _repo_meta(repo.namespace, repo.name, log_meta, **f),
                    namespace_id=repo.namespace_id, repository_id=repo.id,
                )  # fmt: skip
        self.cache.invalidate(f"{repo.namespace}/{repo.name}")  # after commit
