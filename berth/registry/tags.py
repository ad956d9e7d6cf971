"""Tags: history, create and move, delete, restore (the time machine), expiration, immutability.

Tag rows are never repointed: a move or a restore ends the live row (``end_ts`` = now) and
inserts a new one (``reversion`` set for a restore), so the history of a name is its rows,
newest first. Only ``end_ts`` (a future value is an expiration) and ``immutable`` change in
place. See berth.registry.liveness for when a tag is alive and a manifest is served.

Expiration needs no worker: a tag whose ``end_ts`` has passed is dead for every read, and
garbage collection frees what it pointed at once the namespace's window is over. (A worker
would only be needed to *announce* expiry — Quay's ``repo_image_expiry`` notification —
which belongs to the notifications feature.)

Every path that moves or ends a tag asks the tag guard (``berth.registry.immutability``)
first, inside its write transaction.
The API's changes are usage-logged in that transaction too (Quay's ``create_tag``,
``move_tag``, ``change_tag_expiration``, ``delete_tag``, ``revert_tag``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from berth.audit.services import Performer, record
from berth.db.base import now_ms
from berth.db.fast import Unit, dialect_name
from berth.db.session import Database
from berth.namespaces.models import Namespace
from berth.oci import mediatypes as mt
from berth.oci.names import is_valid_tag
from berth.registry.cache import NoCache, ReadCache
from berth.registry.errors import (
    ExpirationInvalid,
    ManifestUnknown,
    RestoreOutsideWindow,
    TagInvalid,
    TagUnknown,
)
from berth.registry.immutability import TagGuard
from berth.registry.liveness import alive, visible, visible_manifest_id
from berth.registry.models import Manifest, Repository, Tag
from berth.registry.repositories import RepoRow
from berth.registry.settings import TagSettings

MAX_PAGE = 100
DEFAULT_PAGE = 50


# ---- writing tag rows (shared with the /v2 push and delete paths) ------------------------


async def lock_repository(s: Unit, repository_id: int) -> None:
    """Serialise tag writes of one repository: a row lock on PostgreSQL; on SQLite every
    write unit already holds the database's write lock (BEGIN IMMEDIATE), so nothing to do."""
    if dialect_name(s) == "sqlite":
        return
    await s.execute(_LOCK_REPOSITORY, {"repository_id": repository_id})


async def share_repository(s: Unit, repository_id: int) -> None:
    """A push's hold on its repository (PostgreSQL ``FOR KEY SHARE``): other pushes go on
    alongside, while the collector and tag edits (``FOR UPDATE``) wait for it and it for
    them. Pushes of one tag take turns through ``take_tag_turn``; what a push adds to the
    sizes, through the namespace row (``accounting.manifest_stored``). ``FOR KEY SHARE``, not
    ``FOR SHARE``: a push updates the row's ``size_bytes`` while others hold it."""
    if dialect_name(s) == "sqlite":
        return
    await s.execute(_SHARE_REPOSITORY, {"repository_id": repository_id})


async def take_tag_turn(s: Unit, repository_id: int, name: str) -> None:
    """Pushes of one tag (or one digest) of a repository take turns until commit
    (PostgreSQL: a transaction-scoped advisory lock on a 64-bit hash of both; a collision
    only makes two pushes wait for each other)."""
    if dialect_name(s) == "sqlite":
        return
    digest = hashlib.blake2b(f"berth:tag:{repository_id}:{name}".encode(), digest_size=8)
    key = int.from_bytes(digest.digest(), "big", signed=True)
    await s.execute(_TAG_TURN, {"key": key})


_R = Repository.__table__
_LOCK_REPOSITORY = select(_R.c.id).where(_R.c.id == bindparam("repository_id")).with_for_update()
_SHARE_REPOSITORY = (
    select(_R.c.id)
    .where(_R.c.id == bindparam("repository_id"))
    .with_for_update(read=True, key_share=True)
)
_TAG_TURN = select(func.pg_advisory_xact_lock(bindparam("key", type_=BigInteger)))


_T = Tag.__table__
_LIVE_TAG_ROWS = select(_T.c.id, _T.c.manifest_id).where(
    _T.c.repository_id == bindparam("repository_id"),
    _T.c.name == bindparam("name"),
    _T.c.hidden.is_(False),
    alive(bindparam("now")),
)  # built once: every push by tag runs it
_END_TAG_ROWS = (
    update(_T)
    .where(_T.c.id.in_(bindparam("ids", expanding=True)))
    .values(end_ts=bindparam("end_ts"))
)
INSERT_TAG = insert(_T)  # every column given (also the push by digest's hidden tag)


async def point_tag(
    s: Unit,
    repository_id: int,
    name: str,
    manifest_id: int,
    now: int,
    *,
    reversion: bool = False,
    end_ts: int | None = None,
    guard: TagGuard,
    immutable: bool = False,
    keep_if_same: bool = True,
) -> bool:
    """Make ``name`` point at ``manifest_id``: end its live row(s) and insert a new one.

    With ``keep_if_same`` a tag already pointing there is left alone (False is returned).
    A tag that moves must be mutable (``TagImmutable`` otherwise)."""
    params = {"repository_id": repository_id, "name": name, "now": now}
    current = (await s.execute(_LIVE_TAG_ROWS, params)).all()
    if keep_if_same and len(current) == 1 and current[0][1] == manifest_id:
        return False
    if current:
        await guard.ensure_mutable(s, repository_id, [name], now, action="moved")
        await s.execute(_END_TAG_ROWS, {"ids": [c[0] for c in current], "end_ts": now})
    await s.execute(
        INSERT_TAG,
        {
            "repository_id": repository_id,
            "name": name,
            "manifest_id": manifest_id,
            "start_ts": now,
            "end_ts": end_ts,
            "hidden": False,
            "reversion": reversion,
            "immutable": immutable,
        },
    )
    return True


async def end_tag(
    s: AsyncSession,
    repository_id: int,
    name: str,
    now: int,
    end_ts: int,
    *,
    guard: TagGuard,
    started_at: int | None = None,
) -> int:
    """End the live row(s) of ``name`` at ``end_ts`` (mutable tags only); how many ended.
    ``started_at``: only the row that started then (a tag moved since is left alone)."""
    await guard.ensure_mutable(s, repository_id, [name], now, action="deleted")
    stmt = update(Tag).where(
        Tag.repository_id == repository_id,
        Tag.name == name,
        Tag.hidden.is_(False),
        alive(now),
    )
    if started_at is not None:
        stmt = stmt.where(Tag.start_ts == started_at)
    result = await s.execute(stmt.values(end_ts=end_ts))
    return int(result.rowcount)  # type: ignore[attr-defined]  # rowcount: a DML result is a CursorResult


# ---- the tags API --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TagRecord:
    """One row of a tag's history, as the tags API shows it."""

    name: str
    reversion: bool
    start_ms: int
    end_ms: int | None
    manifest_digest: str
    is_manifest_list: bool
    size: int | None  # the layers' compressed size (None for an index)
    immutable: bool


@dataclass(frozen=True, slots=True)
class NameFilter:
    """``filter_tag_name``: ``like:<part>`` (contains) or ``eq:<name>``."""

    op: str
    value: str

    @classmethod
    def parse(cls, raw: str) -> NameFilter:
        op, sep, value = raw.partition(":")
        if not sep or op not in ("like", "eq"):
            raise ValueError(
                "Unsupported syntax for filter_tag_name. Expected <operation>:<tag_name> "
                "where <operation> can be 'like' or 'eq'."
            )
        return cls(op, value)


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    page: int = 1
    limit: int = DEFAULT_PAGE
    specific_tag: str | None = None
    name_filter: NameFilter | None = None
    active_only: bool = False

    def bounded(self) -> HistoryQuery:
        """Quay's bounds: page at least 1, limit within 1..100."""
        return HistoryQuery(
            max(1, self.page),
            min(MAX_PAGE, max(1, self.limit)),
            self.specific_tag,
            self.name_filter,
            self.active_only,
        )


@dataclass(frozen=True, slots=True)
class TagUpdate:
    """A ``PUT .../tag/{tag}``: any of a new pointer, an expiration (None clears it) and the
    immutable flag. ``set_expiration`` tells "clear" (None) from "leave as it is"."""

    manifest_digest: str | None = None
    set_expiration: bool = False
    expiration_s: float | None = None
    immutable: bool | None = None


@dataclass(frozen=True, slots=True)
class TagChanged:
    """What an update did, for the usage logs."""

    created: bool  # the tag did not exist before
    previous_digest: str | None
    digest: str
    expiration_changed: bool
    old_end_ms: int | None
    new_end_ms: int | None


@dataclass(frozen=True, slots=True)
class _Live:
    id: int
    start_ts: int
    end_ts: int | None
    immutable: bool
    digest: str


class TagService:
    def __init__(
        self,
        db: Database,
        *,
        cache: ReadCache[Any] | None = None,
        settings: TagSettings | None = None,
        guard: TagGuard | None = None,
    ) -> None:
        self.db = db
        self.cache: ReadCache[Any] = cache if cache is not None else NoCache()
        self.settings = settings or TagSettings()
        self.guard = guard or TagGuard()

    # ---- reads -----------------------------------------------------------------------
    async def history(self, repo: RepoRow, query: HistoryQuery) -> tuple[list[TagRecord], bool]:
        """A page of tag rows, newest first, and whether more follow."""
        q = query.bounded()
        stmt = (
            select(
                Tag.name,
                Tag.reversion,
                Tag.start_ts,
                Tag.end_ts,
                Manifest.digest,
                Manifest.media_type,
                Manifest.layers_size,
                Tag.immutable,
            )
            .join(Manifest, Manifest.id == Tag.manifest_id)
            .where(Tag.repository_id == repo.id, Tag.hidden.is_(False))
            .order_by(Tag.start_ts.desc(), Tag.name, Tag.id.desc())
            .limit(q.limit + 1)
            .offset(q.limit * (q.page - 1))
        )
        if q.active_only:
            stmt = stmt.where(alive(now_ms()))
        if q.specific_tag:
            stmt = stmt.where(Tag.name == q.specific_tag)
        if q.name_filter is not None:
            f = q.name_filter
            stmt = stmt.where(
                Tag.name.contains(f.value, autoescape=True)
                if f.op == "like"
                else Tag.name == f.value
            )
        now = now_ms()
        async with self.db.read() as s:
            rows = (await s.execute(stmt)).all()
            protected = await self.guard.selector(s, repo.id) if rows else None

        def immutable_now(name: str, end: int | None, flagged: bool) -> bool:
            """Live rows: the flag or a rule; history rows: what the row carried."""
            live = end is None or end > now
            return flagged or (live and protected is not None and protected(name))

        records = [
            TagRecord(
                name,
                reversion,
                start,
                end,
                digest,
                media_type in mt.INDEX_TYPES,
                layers_size,
                immutable_now(name, end, immutable),
            )
            for name, reversion, start, end, digest, media_type, layers_size, immutable in rows
        ]
        return records[: q.limit], len(records) > q.limit

    # ---- writes ----------------------------------------------------------------------
    async def update(
        self,
        repo: RepoRow,
        name: str,
        change: TagUpdate,
        *,
        performer: Performer | None = None,
    ) -> TagChanged:
        """Create or move the tag, set or clear its expiration, flag it immutable: all or
        nothing, in one transaction, with its usage-log entries."""
        if not is_valid_tag(name):
            raise TagInvalid("invalid tag", {"tag": name})
        now = now_ms()
        expiration = change.expiration_s if change.set_expiration else None
        if expiration is not None and expiration * 1000 <= now:
            raise ExpirationInvalid("Expiration must be in the future", {"expiration": expiration})
        async with self.db.write() as s:
            await lock_repository(s, repo.id)
            before = await _live(s, repo.id, name, now)
            if before is None and change.manifest_digest is None:
                raise TagUnknown("tag unknown", {"tag": name})
            if before is not None and self._guarded(change):
                await self.guard.ensure_mutable(s, repo.id, [name], now, action="changed")
            live = before
            if change.manifest_digest is not None:
                live = await self._point(s, repo, name, change.manifest_digest, now, before)
            assert live is not None
            new_end = live.end_ts
            if change.set_expiration:
                new_end = self.clamped_end(live.start_ts, change.expiration_s)
            if change.immutable and not self.settings.immutable_can_expire:
                new_end = None  # an immutable tag does not expire
            if change.immutable is not None or new_end != live.end_ts:
                values: dict[str, Any] = {"end_ts": new_end}
                if change.immutable is not None:
                    values["immutable"] = change.immutable
                await s.execute(update(Tag).where(Tag.id == live.id).values(**values))
            done = TagChanged(
                created=before is None,
                previous_digest=before.digest if before else None,
                digest=live.digest,
                expiration_changed=new_end != live.end_ts,
                old_end_ms=live.end_ts,
                new_end_ms=new_end,
            )
            _log_update(s, repo, name, change, done, performer)
        self._invalidate(repo)
        return done

    def _guarded(self, change: TagUpdate) -> bool:
        """Does the change move, or newly expire, the tag (refused on immutable tags)?"""
        expires = change.set_expiration and change.expiration_s is not None
        return change.manifest_digest is not None or (
            expires and not self.settings.immutable_can_expire
        )

    def clamped_end(self, start_ms: int, expiration_s: float | None) -> int | None:
        """Quay's clamp: the end stays within start + [minimum, maximum]."""
        if expiration_s is None:
            return None
        offset = int(expiration_s) - start_ms // 1000
        offset = min(max(offset, self.settings.min_expiration_s), self.settings.max_expiration_s)
        return start_ms + offset * 1000

    async def _point(
        self,
        s: AsyncSession,
        repo: RepoRow,
        name: str,
        digest: str,
        now: int,
        before: _Live | None,
    ) -> _Live:
        manifest_id = await visible_manifest_id(s, repo.id, digest, now)
        if manifest_id is None:
            raise ManifestUnknown("manifest unknown", {"digest": digest})
        if await point_tag(s, repo.id, name, manifest_id, now, guard=self.guard):
            await s.flush()
            live = await _live(s, repo.id, name, now)
            assert live is not None
            return live
        assert before is not None
        return before

    async def delete(
        self,
        repo: RepoRow,
        name: str,
        *,
        skip_recovery: bool = False,
        performer: Performer | None = None,
    ) -> None:
        """End the tag now; with ``skip_recovery`` also outside the time-machine window."""
        now = now_ms()
        async with self.db.write() as s:
            await lock_repository(s, repo.id)
            end = now - await _window_ms(s, repo.id) - 1 if skip_recovery else now
            if not await end_tag(s, repo.id, name, now, end, guard=self.guard):
                raise TagUnknown("tag unknown", {"tag": name})
            _log(s, "delete_tag", repo, performer, tag=name, namespace=repo.namespace)
        self._invalidate(repo)

    async def restore(
        self, repo: RepoRow, name: str, digest: str, *, performer: Performer | None = None
    ) -> None:
        """Point ``name`` at ``digest`` again (a new row with ``reversion``). The manifest
        must be visible, or have been tagged within the namespace's time-machine window."""
        if not is_valid_tag(name):
            raise TagInvalid("invalid tag", {"tag": name})
        now = now_ms()
        async with self.db.write() as s:
            await lock_repository(s, repo.id)
            manifest_id, is_visible = await _manifest_state(s, repo.id, digest, now)
            if manifest_id is None:
                raise ManifestUnknown("manifest unknown", {"digest": digest})
            if not is_visible:
                await self._require_in_window(s, repo.id, manifest_id, digest, now)
            await point_tag(
                s,
                repo.id,
                name,
                manifest_id,
                now,
                guard=self.guard,
                reversion=True,
                keep_if_same=False,
            )
            _log(s, "revert_tag", repo, performer, tag=name, manifest_digest=digest)
        self._invalidate(repo)

    @staticmethod
    async def _require_in_window(
        s: AsyncSession, repository_id: int, manifest_id: int, digest: str, now: int
    ) -> None:
        window_ms = await _window_ms(s, repository_id)
        last_end = (
            await s.execute(
                select(func.max(Tag.end_ts)).where(
                    Tag.manifest_id == manifest_id, Tag.end_ts <= now
                )
            )
        ).scalar()
        if last_end is None or last_end <= now - window_ms:
            raise RestoreOutsideWindow(
                f"Cannot restore tag: manifest {digest} was last tagged outside the "
                f"time machine window of {window_ms // 1000} seconds",
                {"digest": digest, "window_s": window_ms // 1000, "ended_ms": last_end},
            )

    def _invalidate(self, repo: RepoRow) -> None:
        self.cache.invalidate(f"{repo.namespace}/{repo.name}")  # after commit


def _log(
    s: AsyncSession, kind: str, repo: RepoRow, performer: Performer | None, **fields: Any
) -> None:
    """A tag change's usage-log entry (Quay's metadata: who, the repository, ``fields``)."""
    meta = {"username": performer.name if performer else None, "repo": repo.name, **fields}
    record(
        s, kind, repo.namespace, performer, repo.name, meta,
        namespace_id=repo.namespace_id, repository_id=repo.id,
    )  # fmt: skip


def _log_update(
    s: AsyncSession,
    repo: RepoRow,
    name: str,
    change: TagUpdate,
    done: TagChanged,
    performer: Performer | None,
) -> None:
    where = {"tag": name, "namespace": repo.namespace}
    if change.set_expiration and done.expiration_changed:
        _log(
            s, "change_tag_expiration", repo, performer, **where,
            expiration_date=_seconds(done.new_end_ms),
            old_expiration_date=_seconds(done.old_end_ms),
        )  # fmt: skip
    if change.manifest_digest is not None:
        _log(
            s, "create_tag" if done.created else "move_tag", repo, performer, **where,
            manifest_digest=done.digest, original_manifest_digest=done.previous_digest,
        )  # fmt: skip


def _seconds(ms: int | None) -> int | None:
    return None if ms is None else ms // 1000


async def _live(s: AsyncSession, repository_id: int, name: str, now: int) -> _Live | None:
    row = (
        await s.execute(
            select(Tag.id, Tag.start_ts, Tag.end_ts, Tag.immutable, Manifest.digest)
            .join(Manifest, Manifest.id == Tag.manifest_id)
            .where(
                Tag.repository_id == repository_id,
                Tag.name == name,
                Tag.hidden.is_(False),
                alive(now),
            )
            .order_by(Tag.start_ts.desc(), Tag.id.desc())
            .limit(1)
        )
    ).first()
    return _Live(*row) if row else None


async def _manifest_state(
    s: AsyncSession, repository_id: int, digest: str, now: int
) -> tuple[int | None, bool]:
    row = (
        await s.execute(
            select(Manifest.id, visible(now)).where(
                Manifest.repository_id == repository_id, Manifest.digest == digest
            )
        )
    ).first()
    return (row[0], bool(row[1])) if row else (None, False)


async def _window_ms(s: AsyncSession, repository_id: int) -> int:
    seconds = (
        await s.execute(
            select(Namespace.tag_expiration_s)
            .join(Repository, Repository.namespace_id == Namespace.id)
            .where(Repository.id == repository_id)
        )
    ).scalar()
    return int(seconds or 0) * 1000
