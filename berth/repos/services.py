"""Repositories as Quay's API sees them: create, describe, list, change, delete, star.

Creation takes the path a push takes (``berth.registry.repositories.create_repository`` with
``berth.identity.permissions.repository_created``): the creator's admin permission, the
organization's default permissions and the ``create_repo`` usage log are written in the
creating transaction.

Deletion hides the repository at once: it is renamed to a name no request can address,
marked ``MARKED_FOR_DELETION`` and made private, its stars and permissions go, and the name
is free again.
The ``delete_repository`` job (berth.repos.tasks) then removes its rows; the blobs they
referenced are left to garbage collection.

Usage logs are written in the same transaction as the change they describe.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, false, func, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from berth.audit.models import LogEntry
from berth.audit.services import Performer, record
from berth.authz import SETTABLE_STATES, Principal
from berth.db.base import now_ms
from berth.db.session import Database
from berth.identity.errors import NamespaceNotFound, RepositoryNotFound
from berth.identity.models import RepositoryPermission
from berth.identity.permissions import repository_created, visible_repositories
from berth.jobs import enqueue
from berth.namespaces.models import Namespace
from berth.oci.names import InvalidName, split_repository
from berth.registry.cache import NoCache, ReadCache
from berth.registry.errors import NameUnknown
from berth.registry.models import Blob, Manifest, ManifestBlob, ManifestChild, Repository, Tag
from berth.registry.repositories import RepoName, RepoRow, create_repository
from berth.registry.sql import insert_ignore
from berth.repos.errors import InvalidRepositoryName, InvalidRepositoryState, RepositoryExists
from berth.repos.models import Star
from berth.repos.tasks import DELETE_REPOSITORY, MARKED_FOR_DELETION, DeleteRepository

PAGE_SIZE = 100  # Quay's REPOS_PER_PAGE
MAX_TAGS = 500  # tags in GET /repository/{r}
POPULARITY_WINDOW_MS = 7 * 86_400_000  # pulls in the last week
STATS_DAYS = 92  # includeStats: today and the 91 days before (Quay's three months)
_DAY_MS = 86_400_000


@dataclass(frozen=True)
class Viewer:
    """Who looks at repositories: ``reads_as`` is the user whose permissions open private
    repositories (None: public ones only), ``everything`` is a superuser's view."""

    user_id: int | None = None
    reads_as: str | None = None
    everything: bool = False


@dataclass(frozen=True)
class ListQuery:
    namespace: str | None = None
    starred: bool = False
    public: bool = False
    kind: str | None = "image"
    last_modified: bool = False
    popularity: bool = False
    after_id: int = 0  # the page starts after this repository id
    name_contains: str | None = None  # "namespace/name" contains it, ignoring case (web UI)


@dataclass(frozen=True)
class RepoSummary:
    id: int
    namespace: str
    name: str
    description: str | None
    is_public: bool
    kind: str
    state: str
    size_bytes: int
    is_starred: bool = False
    last_modified_s: int | None = None  # newest live tag's start, Unix seconds
    pulls: int = 0  # pulls in the popularity window


@dataclass(frozen=True)
class RepoPage:
    repositories: list[RepoSummary]
    next_after_id: int | None  # None: last page


@dataclass(frozen=True)
class TagSummary:
    name: str
    size: int
    start_ms: int
    end_ms: int | None
    manifest_digest: str


@dataclass(frozen=True)
class RepoDetail:
    namespace: str
    name: str
    kind: str
    description: str | None
    is_public: bool
    is_organization: bool
    is_starred: bool
    tag_expiration_s: int
    state: str
    tags: list[TagSummary] | None
    stats: list[tuple[str, int]] | None  # (ISO date, log entries that day), oldest first
    size_bytes: int = 0  # the repository's stored size (berth.registry.accounting)


@dataclass(frozen=True)
class _Target:
    id: int
    namespace_id: int


def _alive(now: int) -> Any:
    return or_(Tag.end_ts.is_(None), Tag.end_ts > now)


def _image_size() -> Any:
    """Bytes of the distinct blobs (config and layers) of a tag's manifest, or of the
    manifests an index lists: what a pull of every platform downloads, manifests aside."""
    own = (
        select(ManifestBlob.blob_id)
        .where(ManifestBlob.manifest_id == Manifest.id)
        .correlate(Manifest)
    )
    children = (
        select(ManifestChild.child_id)
        .where(ManifestChild.parent_id == Manifest.id)
        .correlate(Manifest)
    )
    of_children = select(ManifestBlob.blob_id).where(ManifestBlob.manifest_id.in_(children))
    return (
        select(func.coalesce(func.sum(Blob.size), 0))
        .where(or_(Blob.id.in_(own), Blob.id.in_(of_children)))
        .scalar_subquery()
    )


def _readable(viewer: Viewer, *, include_public: bool) -> Any:
    """A condition on Repository: the viewer may read it (public ones if ``include_public``)."""
    if viewer.everything:
        return true()
    conds = []
    if viewer.reads_as is not None:
        conds.append(visible_repositories(viewer.reads_as))
    if include_public:
        conds.append(Repository.is_public.is_(True))
    return or_(*conds) if conds else false()


def check_name(repo: RepoName, *, extended: bool) -> None:
    """Quay's repository name rule (the /v2 grammar); nested names only when ``extended``."""
    try:
        parsed = split_repository(repo.full)
    except InvalidName as e:
        raise InvalidRepositoryName(repo.name) from e
    if parsed != (repo.namespace, repo.name) or (not extended and "/" in repo.name):
        raise InvalidRepositoryName(repo.name)


async def _target(s: AsyncSession, repo: RepoName, *, lock: bool = False) -> _Target:
    stmt = (
        select(Repository.id, Repository.namespace_id)
        .join(Namespace, Namespace.id == Repository.namespace_id)
        .where(Namespace.name == repo.namespace, Repository.name == repo.name, Namespace.enabled)
    )
    if lock:
        stmt = stmt.with_for_update(of=Repository)
    row = (await s.execute(stmt)).first()
    if row is None:
        raise RepositoryNotFound(repo.full)
    return _Target(row[0], row[1])


def _log_meta(repo: RepoName, **extra: Any) -> dict[str, Any]:
    return {"repo": repo.name, "namespace": repo.namespace, **extra}


class RepositoryService:
    def __init__(self, db: Database, *, cache: ReadCache[Any] | None = None) -> None:
        self.db = db
        # The registry's read cache: a deleted repository must stop answering on /v2 at once.
        self.cache: ReadCache[Any] = cache if cache is not None else NoCache()

    # ---- create ----------------------------------------------------------------------
    async def create(
        self,
        repo: RepoName,
        *,
        creator: Principal,
        description: str,
        public: bool,
        kind: str = "image",
        extended_names: bool = True,
        ip: str | None = None,
    ) -> None:
        """A new repository; RepositoryExists when the name is taken."""
        check_name(repo, extended=extended_names)
        created = False

        async def on_create(s: AsyncSession, row: RepoRow) -> None:
            nonlocal created
            created = True
            await s.execute(
                update(Repository)
                .where(Repository.id == row.id)
                .values(description=description, kind=kind)
            )
            await repository_created(s, row.id, creator, ip=ip)

        async with self.db.write() as s:
            try:
                await create_repository(s, repo, is_public=public, on_create=on_create)
            except NameUnknown as e:
                raise NamespaceNotFound(repo.namespace) from e
            if not created:
                raise RepositoryExists(repo.full)

    # ---- read ------------------------------------------------------------------------
    async def get(
        self,
        repo: RepoName,
        *,
        viewer_id: int | None,
        include_tags: bool = True,
        include_stats: bool = False,
    ) -> RepoDetail:
        async with self.db.read() as s:
            row = (
                await s.execute(
                    select(Repository, Namespace.kind, Namespace.tag_expiration_s)
                    .join(Namespace, Namespace.id == Repository.namespace_id)
                    .where(
                        Namespace.name == repo.namespace,
                        Repository.name == repo.name,
                        Namespace.enabled,
                    )
                )
            ).first()
            if row is None:
                raise RepositoryNotFound(repo.full)
            r, ns_kind, expiration_s = row
            starred = viewer_id is not None and bool(
                (
                    await s.execute(
                        select(Star.user_id).where(
                            Star.user_id == viewer_id, Star.repository_id == r.id
                        )
                    )
                ).first()
            )
            tags = await self._tags(s, r.id) if include_tags else None
            stats = await self._stats(s, r.id, r.created_at) if include_stats else None
        return RepoDetail(
            namespace=repo.namespace,
            name=repo.name,
            kind=r.kind,
            description=r.description,
            is_public=r.is_public,
            is_organization=ns_kind == "org",
            is_starred=starred,
            tag_expiration_s=expiration_s,
            state=r.state,
            tags=tags,
            stats=stats,
            size_bytes=r.size_bytes,
        )

    @staticmethod
    async def _tags(s: AsyncSession, repository_id: int) -> list[TagSummary]:
        """The newest MAX_TAGS live tags (hidden digest tags excluded)."""
        rows = await s.execute(
            select(Tag.name, _image_size(), Tag.start_ts, Tag.end_ts, Manifest.digest)
            .join(Manifest, Manifest.id == Tag.manifest_id)
            .where(Tag.repository_id == repository_id, Tag.hidden.is_(False), _alive(now_ms()))
            .order_by(Tag.start_ts.desc(), Tag.id.desc())
            .limit(MAX_TAGS)
        )
        # SUM is NUMERIC on PostgreSQL
        return [TagSummary(n, int(size), start, end, d) for n, size, start, end, d in rows]

    @staticmethod
    async def _stats(s: AsyncSession, repo_id: int, created_ms: int) -> list[tuple[str, int]]:
        """Usage-log entries of the repository (pushes, pulls, deletes, API changes) per
        UTC day over the last STATS_DAYS: Quay's action counts."""
        today = now_ms() // _DAY_MS
        first = today - STATS_DAYS + 1
        day = LogEntry.created_at // _DAY_MS
        rows = await s.execute(
            select(day, func.count())
            .where(
                LogEntry.repository_id == repo_id,
                LogEntry.created_at >= max(first * _DAY_MS, created_ms),
            )
            .group_by(day)
        )
        counts = {int(d): int(n) for d, n in rows}
        epoch = dt.date(1970, 1, 1)
        return [
            ((epoch + dt.timedelta(days=d)).isoformat(), counts.get(d, 0))
            for d in range(first, today + 1)
        ]

    async def stored_bytes(self) -> int:
        """The bytes of every stored blob (each counted once however many repositories
        share it): the registry's storage, as the superuser panel shows it."""
        async with self.db.read() as s:
            total = (await s.execute(select(func.coalesce(func.sum(Blob.size), 0)))).scalar()
            return int(total or 0)

    async def list_repositories(self, viewer: Viewer, q: ListQuery) -> RepoPage:
        """One page (PAGE_SIZE, by repository id) of the repositories the viewer may read.

        Starred: the viewer's starred repositories still readable (``namespace`` ignored, as
        in Quay). Otherwise the namespace's (or every) repository the viewer reads through
        its permissions, plus public ones when ``public``."""
        stmt = (
            select(
                Repository.id,
                Namespace.name,
                Repository.name,
                Repository.description,
                Repository.is_public,
                Repository.kind,
                Repository.state,
                Repository.size_bytes,
            )
            .join(Namespace, Namespace.id == Repository.namespace_id)
            .where(
                Namespace.enabled,
                Repository.state != MARKED_FOR_DELETION,
                Repository.id > q.after_id,
            )
            .order_by(Repository.id)
            .limit(PAGE_SIZE + 1)
        )
        if q.kind is not None:
            stmt = stmt.where(Repository.kind == q.kind)
        if q.name_contains:
            full_name = func.lower(Namespace.name + "/" + Repository.name)
            stmt = stmt.where(full_name.contains(q.name_contains.lower(), autoescape=True))
        if q.starred:
            stars = select(Star.repository_id).where(Star.user_id == viewer.user_id)
            stmt = stmt.where(Repository.id.in_(stars), _readable(viewer, include_public=True))
        else:
            if q.namespace:
                stmt = stmt.where(Namespace.name == q.namespace)
            stmt = stmt.where(_readable(viewer, include_public=q.public))
        async with self.db.read() as s:
            rows = (await s.execute(stmt)).all()
            more = len(rows) > PAGE_SIZE
            rows = rows[:PAGE_SIZE]
            ids = [r[0] for r in rows]
            starred = await self._starred_among(s, viewer.user_id, ids)
            modified = await self._last_modified(s, ids) if q.last_modified and ids else {}
            pulls = await self._pulls(s, ids) if q.popularity and ids else {}
        page = [
            RepoSummary(
                *row,
                is_starred=row[0] in starred,
                last_modified_s=modified.get(row[0]),
                pulls=pulls.get(row[0], 0),
            )
            for row in rows
        ]
        return RepoPage(page, ids[-1] if more else None)

    @staticmethod
    async def _starred_among(s: AsyncSession, user_id: int | None, ids: list[int]) -> set[int]:
        if user_id is None or not ids:
            return set()
        rows = await s.execute(
            select(Star.repository_id).where(Star.user_id == user_id, Star.repository_id.in_(ids))
        )
        return set(rows.scalars())

    @staticmethod
    async def _last_modified(s: AsyncSession, ids: list[int]) -> dict[int, int]:
        """Start of the newest live tag of each repository, in Unix seconds."""
        rows = await s.execute(
            select(Tag.repository_id, func.max(Tag.start_ts))
            .where(Tag.repository_id.in_(ids), Tag.hidden.is_(False), _alive(now_ms()))
            .group_by(Tag.repository_id)
        )
        return {rid: start // 1000 for rid, start in rows}

    @staticmethod
    async def _pulls(s: AsyncSession, ids: list[int]) -> dict[int, int]:
        """Pulls over the popularity window (``pull_repo`` log entries, by repository id:
        an earlier, deleted repository of the same name had another id)."""
        since = now_ms() - POPULARITY_WINDOW_MS
        rows = await s.execute(
            select(LogEntry.repository_id, func.count())
            .where(
                LogEntry.repository_id.in_(ids),
                LogEntry.kind == "pull_repo",
                LogEntry.created_at >= since,
            )
            .group_by(LogEntry.repository_id)
        )
        return {rid: int(n) for rid, n in rows if rid is not None}

    # ---- change ----------------------------------------------------------------------
    async def set_description(
        self, repo: RepoName, description: str, *, performer: Performer | None = None
    ) -> None:
        async with self.db.write() as s:
            t = await _target(s, repo)
            await s.execute(
                update(Repository).where(Repository.id == t.id).values(description=description)
            )
            record(
                s, "set_repo_description", repo.namespace, performer, repo.name,
                _log_meta(repo, description=description),
                namespace_id=t.namespace_id, repository_id=t.id,
            )  # fmt: skip

    async def set_state(
        self, repo: RepoName, state: str, *, performer: Performer | None = None
    ) -> None:
        """NORMAL, READ_ONLY (no pushes) or MIRROR (pushes by the mirror only)."""
        if state not in SETTABLE_STATES:
            raise InvalidRepositoryState(state)
        async with self.db.write() as s:
            t = await _target(s, repo)
            await s.execute(update(Repository).where(Repository.id == t.id).values(state=state))
            record(
                s, "change_repo_state", repo.namespace, performer, repo.name,
                _log_meta(repo, state_changed=state),
                namespace_id=t.namespace_id, repository_id=t.id,
            )  # fmt: skip

    async def delete(self, repo: RepoName, *, performer: Performer | None = None) -> bool:
        """Hide the repository now and enqueue the removal of its rows; False if missing."""
        marker = f"~deleted-{uuid.uuid4().hex}"  # "~" is outside the name grammar
        async with self.db.write() as s:
            try:
                t = await _target(s, repo, lock=True)
            except RepositoryNotFound:
                return False
            await s.execute(
                update(Repository)
                .where(Repository.id == t.id)
                .values(
                    name=marker,
                    full_name=f"{repo.namespace}/{marker}",
                    state=MARKED_FOR_DELETION,
                    is_public=False,
                )
            )
            # Stars and permissions go now: no listing shows the hidden repository.
            await s.execute(delete(Star).where(Star.repository_id == t.id))
            await s.execute(
                delete(RepositoryPermission).where(RepositoryPermission.repository_id == t.id)
            )
            await enqueue(s, DELETE_REPOSITORY, DeleteRepository(repository_id=t.id))
            record(
                s, "delete_repo", repo.namespace, performer, metadata=_log_meta(repo),
                namespace_id=t.namespace_id,
            )  # fmt: skip
        self.cache.invalidate(repo.full)  # after commit: /v2 forgets it at once
        return True

    # ---- stars -----------------------------------------------------------------------
    async def star(self, user_id: int, repo: RepoName) -> None:
        """Idempotent."""
        async with self.db.write() as s:
            t = await _target(s, repo)
            await insert_ignore(
                s,
                Star,
                {"user_id": user_id, "repository_id": t.id, "created_at": now_ms()},
                ["user_id", "repository_id"],
            )

    async def unstar(self, user_id: int, repo: RepoName) -> bool:
        """True when a star was removed."""
        async with self.db.write() as s:
            t = await _target(s, repo)
            result = await s.execute(
                delete(Star).where(Star.user_id == user_id, Star.repository_id == t.id)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]  # rowcount: a DML result is a CursorResult
