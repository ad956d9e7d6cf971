"""Pulls, the one usage-log entry written off the request path.

A manifest GET is the registry's hottest request and changes nothing, so its ``pull_repo``
entry is not written in a transaction of its own: ``PullLog.record`` appends it to a
bounded in-memory buffer and returns at once, and a background task writes the buffer as
usage-log rows, one batched INSERT per flush, every ``interval`` seconds (1 s) and at
shutdown. Each entry keeps the time of the pull; the flush resolves the namespace and
repository ids by name in its own transaction.

With ``count`` (FEATURE_IMAGE_PULL_STATS) the same flush also folds the batch into the pull
counters (``tag_pull_stats``, ``manifest_pull_stats``): pulls are grouped by tag and by
manifest in memory, then one upsert per distinct tag and manifest (count added, last pull
the latest), in the flush's transaction: still no write per pull.

What a crash can lose: the pulls of the last flush interval (at most ~1 s of pulls), and
nothing else: pushes, deletes and every API change are written in the transaction that
makes them. Two cases widen the pull loss, both logged: while the database refuses the
flush the batch is kept for the next one (a crash then loses what is kept), and a full
buffer (``max_buffer`` pulls) drops new pulls (counted in ``dropped``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import orjson
from sqlalchemy import case, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from berth.audit.services import LogTuple, Performer, insert_log_batch
from berth.db.base import now_ms
from berth.db.session import Database
from berth.namespaces.models import Namespace
from berth.registry.models import ManifestPullStat, Repository, TagPullStat

log = logging.getLogger(__name__)

FLUSH_INTERVAL_S = 1.0
MAX_BUFFER = 50_000


class PullLog:
    def __init__(
        self,
        db: Database,
        *,
        interval: float = FLUSH_INTERVAL_S,
        max_buffer: int = MAX_BUFFER,
        count: bool = False,
    ) -> None:
        self.db = db
        self.count = count
        self.interval = interval
        self.max_buffer = max_buffer
        # Raw pulls: (namespace, repository, performer, caller metadata, tag, digest, time).
        # The usage-log row is composed at flush, off the request.
        self._buffer: list[_Pull] = []
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0

    def record(
        self,
        namespace: str,
        repository: str,
        performer: Performer | None,
        metadata: dict[str, Any] | None,
        *,
        tag: str | None = None,
        manifest_digest: str | None = None,
    ) -> None:
        """Buffer one ``pull_repo`` entry (no I/O, one tuple: the row's metadata is
        Quay's ``repo``, ``namespace``, what ``metadata`` holds, then ``tag`` and
        ``manifest_digest`` when set)."""
        if len(self._buffer) >= self.max_buffer:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 10_000 == 0:
                log.warning("pull log buffer full: %d pulls not recorded", self.dropped)
            return
        self._buffer.append(
            (namespace, repository, performer, metadata, tag, manifest_digest, now_ms())
        )

    @property
    def pending(self) -> int:
        return len(self._buffer)

    async def flush(self) -> int:
        """Write the buffered pulls in one transaction; the number written."""
        if not self._buffer:
            return 0
        batch, self._buffer = self._buffer, []
        try:
            async with self.db.write() as s:
                ids = await _ids(s, {(p[0], p[1]) for p in batch})
                await insert_log_batch(s, _rows(batch, ids))
                if self.count:
                    await _count(s, batch, ids)
        except Exception:
            log.exception("could not write %d pulls; keeping them for the next flush", len(batch))
            self._buffer[:0] = batch[: self.max_buffer]
            del self._buffer[self.max_buffer :]
            raise
        return len(batch)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            with contextlib.suppress(Exception):
                await self.flush()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="pull-log")

    async def stop(self) -> None:
        """Stop the flusher and write what is buffered."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(Exception):
            await self.flush()


_Pull = tuple[str, str, Performer | None, dict[str, Any] | None, str | None, str | None, int]


def _rows(batch: list[_Pull], ids: dict[tuple[str, str], tuple[int, int]]) -> list[LogTuple]:
    """The usage-log rows of buffered pulls, with Quay's metadata of a registry action.

    Built straight as the INSERT's values, and once per distinct pull: a burst of pulls is
    mostly the same client pulling the same tag, whose rows differ only in time."""
    rows: list[LogTuple] = []
    seen: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    dumps, option = orjson.dumps, orjson.OPT_NON_STR_KEYS
    for namespace, repository, performer, extra, tag, digest, at in batch:
        key = (namespace, repository, performer, tag, digest, *(extra.items() if extra else ()))
        values = seen.get(key)
        if values is None:
            meta: dict[str, Any] = {"repo": repository, "namespace": namespace}
            if extra:
                meta.update(extra)
            if tag is not None:
                meta["tag"] = tag
            if digest is not None:
                meta["manifest_digest"] = digest
            if performer is not None and performer.oauth_token_id is not None:
                meta["oauth_token_id"] = performer.oauth_token_id
            namespace_id, repository_id = ids.get((namespace, repository), (None, None))
            values = seen[key] = (
                "pull_repo", namespace_id, namespace, repository_id, repository,
                *((performer.id, performer.name, performer.ip) if performer else (None,) * 3),
                dumps(meta, option=option).decode(),
            )  # fmt: skip
        rows.append((*values, at))  # values: the 9 first columns
    return rows


async def _ids(s: Any, names: set[tuple[str, str]]) -> dict[tuple[str, str], tuple[int, int]]:
    """(namespace, repository) names -> (namespace id, repository id), for those that exist."""
    rows = await s.execute(
        select(Namespace.name, Repository.name, Namespace.id, Repository.id)
        .join(Repository, Repository.namespace_id == Namespace.id)
        .where(tuple_(Namespace.name, Repository.name).in_(sorted(names)))
    )
    return {(ns, repo): (ns_id, repo_id) for ns, repo, ns_id, repo_id in rows}


def _upsert(dialect: str, model: type[TagPullStat] | type[ManifestPullStat], key: str) -> Any:
    """INSERT ... ON CONFLICT DO UPDATE adding the count and keeping the latest pull."""
    table = model.__table__
    insert = pg_insert(table) if dialect == "postgresql" else sqlite_insert(table)
    excluded = insert.excluded
    return insert.on_conflict_do_update(
        index_elements=[table.c.repository_id, table.c[key]],
        set_={
            "pull_count": table.c.pull_count + excluded.pull_count,
            "last_pull_at": case(
                (excluded.last_pull_at > table.c.last_pull_at, excluded.last_pull_at),
                else_=table.c.last_pull_at,
            ),
        },
    )


_UPSERTS = {
    dialect: (
        _upsert(dialect, TagPullStat, "tag_name"),
        _upsert(dialect, ManifestPullStat, "digest"),
    )
    for dialect in ("postgresql", "sqlite")
}


async def _count(s: Any, batch: list[_Pull], ids: dict[tuple[str, str], tuple[int, int]]) -> None:
    """Fold a batch into the pull counters: one upsert per distinct tag and manifest."""
    tags: dict[tuple[int, str], list[int]] = {}
    manifests: dict[tuple[int, str], list[int]] = {}
    for namespace, repository, _, _, tag, digest, at in batch:
        found = ids.get((namespace, repository))
        if found is None:
            continue
        repository_id = found[1]
        for counters, name in ((tags, tag), (manifests, digest)):
            if name is None:
                continue
            entry = counters.get((repository_id, name))
            if entry is None:
                counters[(repository_id, name)] = [1, at]
            else:
                entry[0] += 1
                entry[1] = max(entry[1], at)
    tag_upsert, manifest_upsert = _UPSERTS[s.bind.dialect.name]
    if tags:
        await s.execute(
            tag_upsert,
            [
                {"repository_id": r, "tag_name": n, "pull_count": c, "last_pull_at": at}
                for (r, n), (c, at) in tags.items()
            ],
        )
    if manifests:
        await s.execute(
            manifest_upsert,
            [
                {"repository_id": r, "digest": d, "pull_count": c, "last_pull_at": at}
                for (r, d), (c, at) in manifests.items()
            ],
        )
