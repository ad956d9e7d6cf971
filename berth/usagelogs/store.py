"""The log store: the ``LogsModel`` interface and its database implementation.

``LOGS_MODEL: database`` (the only value Berth implements) reads ``log_entries``, the table
every service writes its entries into (``berth.audit``). What keeps it fast at any size:

- **Keyset paging.** A page is the next ``limit`` rows in (``created_at``, ``id``) order
  after the last row of the previous page, found by an index range scan: the scan starts at
  the cursor, so page 1,000 costs what page 1 costs, at 10 thousand rows or 10 million.
  Never OFFSET.
- **One index per question**, each ending in ``created_at``: namespace/time, repository/
  time, performer/time, time alone (the superuser's view). They exist since the first
  migration; adding one more would cost every buffered pull's flush.
- **Rotation** (``FEATURE_ACTION_LOG_ROTATION``) bounds the table: entries older than the
  threshold move into archive files in storage (``rotate``).

The store knows rows and ids only; names, avatars and Quay's shapes are the service's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import orjson
from sqlalchemy import and_, delete, func, insert, or_, select
from sqlalchemy.exc import IntegrityError

from berth.audit.models import LogEntry
from berth.db.base import now_ms
from berth.db.session import Database
from berth.usagelogs.models import LogArchive, LogDayCount

DAY_MS = 86_400_000
#: A day's counts are kept once it ended this long ago (pulls are written within seconds).
CLOSE_MS = 10 * 60_000
#: ``log_day_counts.scope`` of the marker row of a swept day (``sweep_day``).
SWEPT = "*swept*"


@dataclass(frozen=True)
class LogFilter:
    """Which entries: ``start_ms`` <= created_at < ``end_ms``, in a namespace, repository or
    by a performer (ids; None: any), without the ``exclude_kinds``. A performer is matched by
    id, or by ``performer_name`` on entries written without the id (a registry token names
    its subject only)."""

    start_ms: int
    end_ms: int
    namespace_id: int | None = None
    repository_id: int | None = None
    performer_id: int | None = None
    performer_name: str | None = None
    exclude_kinds: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class StoredEntry:
    id: int
    kind: str
    namespace_id: int | None
    namespace: str | None
    repository_id: int | None
    repository: str | None
    performer_id: int | None
    performer: str | None
    ip: str | None
    metadata: dict[str, Any]
    created_at: int

    def as_json(self) -> dict[str, Any]:
        """Every column, as an archive file keeps it (one JSON object per line)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "namespace_id": self.namespace_id,
            "namespace": self.namespace,
            "repository_id": self.repository_id,
            "repository": self.repository,
            "performer_id": self.performer_id,
            "performer": self.performer,
            "ip": self.ip,
            "metadata": self.metadata,
            "created_at": self.created_at,
        }


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts: after the row (``created_at``, ``id``)."""

    created_at: int
    id: int


@dataclass(frozen=True)
class EntryPage:
    entries: list[StoredEntry]
    next: Cursor | None  # None: this was the last page


@dataclass(frozen=True)
class DayCount:
    kind: str
    day_ms: int  # midnight UTC of the day
    count: int


@dataclass(frozen=True)
class ArchivedFile:
    name: str
    digest: str
    first_id: int
    last_id: int
    entries: int
    size: int


#: Writes one archive file's bytes into storage and returns its digest (content-addressed:
#: writing the same bytes twice is harmless, which makes a crashed rotation safe to redo).
WriteArchive = Callable[[bytes], Awaitable[str]]


class LogsModel(Protocol):
    """What the usage-logs service needs from a log store (Quay's ``ActionLogsDataInterface``
    as far as Berth uses it)."""

    async def lookup(self, where: LogFilter, after: Cursor | None, limit: int) -> EntryPage:
        """Newest first: up to ``limit`` entries after ``after`` (None: the newest)."""
        ...

    async def aggregate(self, where: LogFilter) -> list[DayCount]:
        """Entries per kind per UTC day."""
        ...

    async def count(self, where: LogFilter) -> int: ...

    def iterate(self, where: LogFilter, batch: int = 1000) -> AsyncIterator[list[StoredEntry]]:
        """Oldest first, in batches (exports)."""
        ...

    async def rotate(
        self, cutoff_ms: int, batch: int, archive_path: str, write: WriteArchive
    ) -> list[ArchivedFile]:
        """Move every entry older than ``cutoff_ms`` into archive files, ``batch`` a file."""
        ...

    async def sweep_day(self, day_ms: int) -> bool:
        """Count the closed UTC day ``day_ms`` once for every filter without a performer
        (everything, each namespace, each repository); False when already swept."""
        ...

    async def archives(self) -> list[ArchivedFile]: ...


def _entry(r: LogEntry) -> StoredEntry:
    return StoredEntry(
        r.id, r.kind, r.namespace_id, r.namespace, r.repository_id, r.repository,
        r.performer_id, r.performer, r.ip, r.meta or {}, r.created_at,
    )  # fmt: skip


def _archived(a: LogArchive) -> ArchivedFile:
    return ArchivedFile(a.name, a.digest, a.first_id, a.last_id, a.entries, a.size)


def _sorted(counts: list[DayCount]) -> list[DayCount]:
    merged: dict[tuple[int, str], int] = {}
    for c in counts:
        merged[(c.day_ms, c.kind)] = merged.get((c.day_ms, c.kind), 0) + c.count
    return [DayCount(k, d, n) for (d, k), n in sorted(merged.items())]


def _scope_key(w: LogFilter) -> str:
    """Which entries a cached day count is of (everything in the filter but the range)."""
    return orjson.dumps(
        [w.namespace_id, w.repository_id, w.performer_id, w.performer_name, sorted(w.exclude_kinds)]
    ).decode()


def archive_lines(entries: list[StoredEntry]) -> bytes:
    """An archive file: one JSON object per entry and line, in id order (deterministic, so
    a rotation redone after a crash writes the same bytes)."""
    return b"".join(
        orjson.dumps(e.as_json(), option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS) + b"\n"
        for e in entries
    )


class DatabaseLogsModel:
    """``LOGS_MODEL: database``: the ``log_entries`` table on SQLite or PostgreSQL."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def _where(stmt: Any, w: LogFilter) -> Any:
        """``stmt`` (a select) restricted to the filter's entries."""
        stmt = stmt.where(LogEntry.created_at >= w.start_ms, LogEntry.created_at < w.end_ms)
        # One equality before the time range: each filter picks its (x, created_at) index.
        if w.repository_id is not None:
            stmt = stmt.where(LogEntry.repository_id == w.repository_id)
        if w.namespace_id is not None:
            stmt = stmt.where(LogEntry.namespace_id == w.namespace_id)
        if w.performer_id is not None:
            by_id = LogEntry.performer_id == w.performer_id
            if w.performer_name is None:
                stmt = stmt.where(by_id)
            else:
                stmt = stmt.where(
                    or_(
                        by_id,
                        and_(
                            LogEntry.performer_id.is_(None),
                            LogEntry.performer == w.performer_name,
                        ),
                    )
                )
        if w.exclude_kinds:
            stmt = stmt.where(LogEntry.kind.not_in(sorted(w.exclude_kinds)))
        return stmt

    async def lookup(self, where: LogFilter, after: Cursor | None, limit: int) -> EntryPage:
        stmt = self._where(select(LogEntry), where)
        if after is not None:
            # ``created_at <= c`` bounds the index scan; the rest breaks ties on the id
            # (a row comparison would not reach the index of a (x, created_at) pair).
            stmt = stmt.where(
                LogEntry.created_at <= after.created_at,
                or_(
                    LogEntry.created_at < after.created_at,
                    and_(LogEntry.created_at == after.created_at, LogEntry.id < after.id),
                ),
            )
        stmt = stmt.order_by(LogEntry.created_at.desc(), LogEntry.id.desc()).limit(limit + 1)
        async with self.db.read() as s:
            rows = [_entry(r) for r in (await s.execute(stmt)).scalars()]
        more = len(rows) > limit
        rows = rows[:limit]
        nxt = Cursor(rows[-1].created_at, rows[-1].id) if more and rows else None
        return EntryPage(rows, nxt)

    async def _count_days(self, where: LogFilter) -> list[DayCount]:
        day = (LogEntry.created_at // DAY_MS).label("day")  # integer division on both
        stmt = self._where(select(LogEntry.kind, day, func.count()), where).group_by(
            LogEntry.kind, day
        )
        async with self.db.read() as s:
            rows = (await s.execute(stmt)).all()
        return [DayCount(kind, int(d) * DAY_MS, int(n)) for kind, d, n in rows]

    async def aggregate(self, where: LogFilter) -> list[DayCount]:
        """Entries per kind per UTC day. Whole days that ended more than ``CLOSE_MS`` ago
        are counted once per filter and kept in ``log_day_counts``; the partial days at
        the ends of the range and the days still open are counted from the entries."""
        now = now_ms()
        closed = (now - CLOSE_MS) // DAY_MS * DAY_MS  # days starting before this are over
        first = -(-where.start_ms // DAY_MS) * DAY_MS  # the first whole day in the range
        last = min(where.end_ms // DAY_MS * DAY_MS, closed)  # the end of the whole days
        if last - first < DAY_MS:
            return _sorted(await self._count_days(where))
        key = _scope_key(where)
        out: list[DayCount] = []
        if where.start_ms < first:
            out += await self._count_days(replace(where, end_ms=first))
        if last < where.end_ms:
            out += await self._count_days(replace(where, start_ms=last))
        # Without a performer filter, a swept day is known too: its counts are those of the
        # filter without hidden kinds (``base``), less the hidden kinds; none is zero.
        base = _scope_key(replace(where, exclude_kinds=frozenset()))
        sweepable = where.performer_id is None and where.performer_name is None
        scopes = [key, base, SWEPT] if sweepable else [key]
        async with self.db.read() as s:
            found = (
                await s.execute(
                    select(
                        LogDayCount.scope, LogDayCount.day, LogDayCount.kind, LogDayCount.count
                    ).where(
                        LogDayCount.scope.in_(scopes),
                        LogDayCount.day >= first,
                        LogDayCount.day < last,
                    )
                )
            ).all()
        rows = [(d, k, n) for sc, d, k, n in found if sc == key]
        known = {d for d, _, _ in rows}
        out += [DayCount(k, d, n) for d, k, n in rows if k]
        swept = {d for sc, d, _, _ in found if sc == SWEPT} - known
        if swept:
            out += [
                DayCount(k, d, n)
                for sc, d, k, n in found
                if sc == base and d in swept and k and k not in where.exclude_kinds
            ]
            known |= swept
        missing = [d for d in range(first, last, DAY_MS) if d not in known]
        if missing:
            lo, hi = missing[0], missing[-1] + DAY_MS
            counted = [
                c for c in await self._count_days(replace(where, start_ms=lo, end_ms=hi))
                if c.day_ms in set(missing)
            ]  # fmt: skip
            out += counted
            await self._remember(key, missing, counted)
        return _sorted(out)

    async def _remember(self, key: str, days: list[int], counts: list[DayCount]) -> None:
        """Keep the counts of closed days (an empty day as a marker row with kind '')."""
        rows = [{"scope": key, "day": c.day_ms, "kind": c.kind, "count": c.count} for c in counts]
        seen = {c.day_ms for c in counts}
        rows += [{"scope": key, "day": d, "kind": "", "count": 0} for d in days if d not in seen]
        try:
            async with self.db.write() as s:
                await s.execute(
                    delete(LogDayCount).where(LogDayCount.scope == key, LogDayCount.day.in_(days))
                )
                await s.execute(insert(LogDayCount), rows)
        except IntegrityError:  # another reader counted the same days meanwhile: same values
            pass

    async def sweep_day(self, day_ms: int) -> bool:
        """One pass over the day's entries, grouped by namespace, repository and kind, gives
        the counts of every filter without a performer: everything, each namespace (which
        its user's own view, hiding some kinds, reads less those kinds) and each repository.
        They replace what earlier aggregates kept for that day, with a marker row (scope
        ``SWEPT``) in the same transaction: an aggregate reads a swept day without touching
        the entries, and a filter with no row that day had none."""
        async with self.db.read() as s:
            done = (
                await s.execute(
                    select(LogDayCount.day).where(
                        LogDayCount.scope == SWEPT, LogDayCount.day == day_ms
                    )
                )
            ).first()
            if done is not None:
                return False
            grouped = (
                await s.execute(
                    select(
                        LogEntry.namespace_id, LogEntry.repository_id, LogEntry.kind, func.count()
                    )
                    .where(LogEntry.created_at >= day_ms, LogEntry.created_at < day_ms + DAY_MS)
                    .group_by(LogEntry.namespace_id, LogEntry.repository_id, LogEntry.kind)
                )
            ).all()
        counts: dict[tuple[str, str], int] = {}

        def add(where: LogFilter, kind: str, n: int) -> None:
            k = (_scope_key(where), kind)
            counts[k] = counts.get(k, 0) + n

        for ns_id, repo_id, kind, n in grouped:
            add(LogFilter(0, 0), kind, n)
            if ns_id is not None:
                add(LogFilter(0, 0, namespace_id=ns_id), kind, n)
            if repo_id is not None:
                add(LogFilter(0, 0, repository_id=repo_id), kind, n)
        rows = [
            {"scope": sc, "day": day_ms, "kind": k, "count": n} for (sc, k), n in counts.items()
        ]
        rows.append({"scope": SWEPT, "day": day_ms, "kind": "", "count": 0})
        scopes = sorted({sc for sc, _ in counts})
        try:
            async with self.db.write() as s:
                for i in range(0, len(scopes), 500):
                    await s.execute(
                        delete(LogDayCount).where(
                            LogDayCount.day == day_ms, LogDayCount.scope.in_(scopes[i : i + 500])
                        )
                    )
                for i in range(0, len(rows), 1000):
                    await s.execute(insert(LogDayCount), rows[i : i + 1000])
        except IntegrityError:  # swept by another replica meanwhile: the same counts
            return False
        return True

    async def count(self, where: LogFilter) -> int:
        async with self.db.read() as s:
            found = await s.execute(self._where(select(func.count()), where))
            return int(found.scalar_one())

    async def iterate(
        self, where: LogFilter, batch: int = 1000
    ) -> AsyncIterator[list[StoredEntry]]:
        last: Cursor | None = None
        while True:
            stmt = self._where(select(LogEntry), where)
            if last is not None:
                stmt = stmt.where(
                    LogEntry.created_at >= last.created_at,
                    or_(
                        LogEntry.created_at > last.created_at,
                        and_(LogEntry.created_at == last.created_at, LogEntry.id > last.id),
                    ),
                )
            stmt = stmt.order_by(LogEntry.created_at, LogEntry.id).limit(batch)
            async with self.db.read() as s:
                rows = [_entry(r) for r in (await s.execute(stmt)).scalars()]
            if not rows:
                return
            yield rows
            if len(rows) < batch:
                return
            last = Cursor(rows[-1].created_at, rows[-1].id)

    async def rotate(
        self, cutoff_ms: int, batch: int, archive_path: str, write: WriteArchive
    ) -> list[ArchivedFile]:
        """Each round: read the oldest ``batch`` stale entries (by id), write them as one
        file, then in one transaction record the file and delete exactly those rows.

        A crash before the transaction leaves the rows in place (the next run writes the
        same bytes under the same digest again); a crash after it leaves the rows archived
        and gone. Nothing is lost and nothing is deleted before its file is stored.
        """
        done: list[ArchivedFile] = []
        async with self.db.write() as s:  # the counts of the days rotation thins out
            await s.execute(delete(LogDayCount).where(LogDayCount.day <= cutoff_ms))
        while True:
            async with self.db.read() as s:
                rows = [
                    _entry(r)
                    for r in (
                        await s.execute(
                            select(LogEntry)
                            .where(LogEntry.created_at < cutoff_ms)
                            .order_by(LogEntry.id)
                            .limit(batch)
                        )
                    ).scalars()
                ]
            if not rows:
                return done
            data = archive_lines(rows)
            digest = await write(data)
            first, last = rows[0].id, rows[-1].id
            name = f"{archive_path}{first}-{last}-logentry.jsonl"
            ids = [r.id for r in rows]
            async with self.db.write() as s:
                existing = (
                    await s.execute(select(LogArchive).where(LogArchive.name == name))
                ).scalar_one_or_none()
                if existing is None:
                    s.add(
                        LogArchive(
                            name=name, digest=digest, first_id=first, last_id=last,
                            entries=len(rows), size=len(data),
                        )
                    )  # fmt: skip
                for i in range(0, len(ids), 500):
                    await s.execute(delete(LogEntry).where(LogEntry.id.in_(ids[i : i + 500])))
            done.append(ArchivedFile(name, digest, first, last, len(rows), len(data)))
            if len(rows) < batch:
                return done

    async def archives(self) -> list[ArchivedFile]:
        async with self.db.read() as s:
            rows = (await s.execute(select(LogArchive).order_by(LogArchive.id))).scalars()
            return [_archived(a) for a in rows]
