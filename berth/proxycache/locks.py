"""One upstream download of a blob across processes and replicas.

``flights.py`` makes concurrent requests of one process share one download. Across
processes (Granian workers on one machine) and replicas (several machines on one database),
the proxy cache takes a lock per digest around the download: the holder fetches and stores;
the others wait, then find the blob stored and serve it from storage.

* Embedded (SQLite): a ``flock`` on one of ``STRIPES`` files under the data directory
  (chosen by the digest's hash): every process on the machine shares them. Two digests on
  one stripe wait for each other; the later one then fetches its own blob.
* Shared PostgreSQL: a session advisory lock (``pg_try_advisory_lock`` on a 64-bit hash of
  the digest) on a connection the holder keeps for the download; waiters try again every
  ``poll_s`` without holding a connection meanwhile. A crashed holder's lock goes with its
  connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

from sqlalchemy import BigInteger, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from berth.db.session import Database, FileLock

log = logging.getLogger("berth.proxycache")

_TRY = select(func.pg_try_advisory_lock(bindparam("key", type_=BigInteger)))
_UNLOCK = select(func.pg_advisory_unlock(bindparam("key", type_=BigInteger)))


class FetchLocks(Protocol):
    def hold(self, key: str) -> contextlib.AbstractAsyncContextManager[None]:
        """Held while the body runs; waits while another process or replica holds it."""
        ...


def lock_key(key: str) -> int:
    """A signed 64-bit key (PostgreSQL's bigint) for a string."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)


STRIPES = 1024


class FileFetchLocks:
    """Processes of one machine (the embedded deployment)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        stripe = lock_key(key) % STRIPES
        lock = FileLock(str(self.directory / f"{stripe:04d}.lock"))
        await lock.acquire()
        try:
            yield
        finally:
            lock.release()
            lock.close()


class PostgresFetchLocks:
    """Replicas on one PostgreSQL database."""

    def __init__(self, engine: AsyncEngine, *, poll_s: float = 0.05) -> None:
        self.engine = engine
        self.poll_s = poll_s

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        params = {"key": lock_key(key)}
        while True:
            conn = await self.engine.connect()
            try:
                got = bool((await conn.execute(_TRY, params)).scalar())
                await conn.commit()  # the lock is the session's, not the transaction's
                if got:
                    try:
                        yield
                    finally:
                        try:
                            await conn.execute(_UNLOCK, params)
                            await conn.commit()
                        except BaseException:
                            # Never give a connection holding the lock back to the pool.
                            log.warning("proxy cache: unlocking %s failed", key, exc_info=True)
                            await conn.invalidate()
                    return
            finally:
                await conn.close()
            await asyncio.sleep(self.poll_s)


def fetch_locks(db: Database, data_dir: Path) -> FetchLocks:
    if db.is_sqlite:
        return FileFetchLocks(data_dir / "proxy-cache-locks")
    return PostgresFetchLocks(db.write_engine)
