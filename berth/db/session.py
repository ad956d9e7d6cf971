"""Engines and units of work.

``Database.read()`` and ``Database.write()`` open one unit of work each; ``write`` commits
when the block ends without an exception and rolls back otherwise. Services never commit.

SQLite (embedded default) runs in WAL mode, called inline on the event loop's thread
(``InlineSQLiteDialect``). Writers take the lock up front (``BEGIN IMMEDIATE``) so a
read-then-write transaction never fails half-way with ``SQLITE_BUSY``; writers queue on
``FileLock`` (tasks of this process, then other processes) before they touch the
one-connection write pool. PostgreSQL (asyncpg) uses one pool for both; a pooled
connection the server has closed (a restart, ``pg_terminate_backend``) is dropped at
checkout — asyncpg notices the closed socket while idle — instead of pinging the server
before every unit (SQLAlchemy's ``pool_pre_ping`` costs three round trips per checkout).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from sqlalchemy import event, exc, make_url, pool
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool
from sqlalchemy.util.concurrency import await_

from berth.db.fast import AsyncpgFastUnit, FastUnit, StatementCache

log = logging.getLogger(__name__)


class InlineSQLiteDialect(SQLiteDialect_pysqlite):
    """The standard library's sqlite3, called on the event loop's own thread.

    aiosqlite hands every statement to a worker thread and back: two thread switches and a
    self-pipe wake-up per statement, which was a third of the CPU of a manifest PUT. Here
    the AsyncEngine runs the plain driver in greenlets that never leave the loop's thread.
    That is cheap because nothing waits: in WAL mode readers never wait for writers; a
    write unit holds the write lock before its first statement (``FileLock``, for this
    process's tasks and across processes, then ``BEGIN IMMEDIATE``); and with
    ``synchronous=NORMAL`` a commit does not sync (checkpoints, which do, run in
    ``WalCheckpointer``'s thread). A long unit of work gives the loop a turn every 2 ms of
    statements (``_pause_if_due``); a single long statement holds it throughout. A program
    that writes the file without the file lock can make ``BEGIN IMMEDIATE``
    wait up to ``busy_timeout`` with the loop blocked.
    """

    driver = "berth_inline"
    is_async = True  # the AsyncEngine runs it in greenlets, which never leave this thread
    supports_statement_cache = True

    @classmethod
    def get_pool_class(cls, url: URL) -> type[pool.Pool]:
        return pool.AsyncAdaptedQueuePool


registry.register("sqlite.berth_inline", __name__, "InlineSQLiteDialect")


class _InlineCursor(sqlite3.Cursor):
    async def _async_soft_close(self) -> None:
        """What SQLAlchemy's asyncio layer calls before handing a result to sync code; the
        rows of an inline cursor are read synchronously anyway, so there is nothing to do."""


class _InlineConnection(sqlite3.Connection):
    def cursor(self, factory: Any = _InlineCursor) -> Any:
        return super().cursor(factory)


_PAUSE_EVERY_S = 0.002
_last_pause = 0.0


def _pause_if_due() -> None:
    """Let the event loop run other tasks once per ``_PAUSE_EVERY_S`` of statements.

    Inline statements never suspend, so a long unit of work (a garbage-collection job)
    would otherwise hold the loop until it ends; pausing between statements keeps requests
    moving, at the cost of one loop iteration per 2 ms of database work.
    """
    global _last_pause
    now = time.monotonic()
    if now - _last_pause > _PAUSE_EVERY_S:
        _last_pause = now
        await_(asyncio.sleep(0))


def _inline_url(url: str) -> str:
    return make_url(url).set(drivername="sqlite+berth_inline").render_as_string(hide_password=False)


def _json_dumps(value: Any) -> str:
    """JSON columns are written with orjson: a usage-log row's metadata is encoded once per
    row, and the stdlib encoder was a third of the cost of writing a batch of pulls."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _sqlite_engine(url: str, *, immediate: bool, pool_size: int) -> AsyncEngine:
    engine = create_async_engine(
        _inline_url(url),
        json_serializer=_json_dumps,
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=60,
        connect_args={
            "timeout": 30,
            "check_same_thread": False,
            "factory": _InlineConnection,
            "cached_statements": 512,  # prepared statements kept per connection
        },
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        # Commits never checkpoint (that fsyncs, on the event loop): WalCheckpointer does.
        cur.execute("PRAGMA wal_autocheckpoint=0")
        cur.execute("PRAGMA journal_size_limit=67108864")  # a reset WAL shrinks to 64 MB
        cur.close()

    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.connection.driver_connection.execute(begin)  # straight to sqlite3: cheaper

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _let_others_run(*_args: Any) -> None:
        _pause_if_due()

    return engine


def _sqlite_path(url: str) -> str:
    return make_url(url).database or ":memory:"


class WalCheckpointer:
    """Copies the WAL back into the database file from a thread of its own.

    SQLite's automatic checkpoint runs inside the commit that crosses ~4 MB of WAL and
    fsyncs the database file there: tens of milliseconds with the event loop blocked, every
    few dozen pushes. Connections here turn it off (``wal_autocheckpoint=0``) and this
    thread runs a PASSIVE checkpoint (it never blocks writers or readers) whenever the WAL
    has grown past ``min_bytes``. Every server process runs one; they take turns on
    SQLite's checkpoint lock. A process that never starts one (a CLI command) leaves the
    WAL to the others, or to SQLite's checkpoint when the last connection closes.
    """

    def __init__(self, path: str, *, every_s: float = 0.25, min_bytes: int = 4 << 20) -> None:
        self.path = path
        self.every_s = every_s
        self.min_bytes = min_bytes
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._checkpointed: tuple[int, int] | None = None  # the WAL's (size, mtime) then

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="berth-wal-checkpoint", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def wal_bytes(self) -> int:
        try:
            return os.stat(self.path + "-wal").st_size
        except FileNotFoundError:
            return 0

    def checkpoint(self) -> None:
        conn = sqlite3.connect(self.path, timeout=30)
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            conn.close()

    def _checkpoint_if_due(self) -> None:
        """Checkpoint a WAL that is big and was written since the last checkpoint (a
        checkpointed WAL keeps its size until a writer starts it over, so size alone would
        say yes)."""
        try:
            st = os.stat(self.path + "-wal")
        except FileNotFoundError:
            return
        seen = (st.st_size, st.st_mtime_ns)
        if st.st_size < self.min_bytes or seen == self._checkpointed:
            return
        self.checkpoint()
        self._checkpointed = seen

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self._checkpoint_if_due()
            except (OSError, sqlite3.Error):
                log.warning("WAL checkpoint of %s failed; retrying", self.path, exc_info=True)
        with contextlib.suppress(OSError, sqlite3.Error):
            self._checkpoint_if_due()


class FileLock:
    """An exclusive lock shared by every task of this process and every process on this
    machine: an ``asyncio.Lock`` in front of an advisory ``flock`` on a file.

    The ``asyncio.Lock`` matters: ``flock`` is held per open file, so two tasks of one
    process sharing this object would both "hold" it, and the first release would free it
    for other processes while the second task still writes.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None
        self._local = asyncio.Lock()

    def _open(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        return self._fd

    async def acquire(self) -> None:
        await self._local.acquire()
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        except BaseException:
            self._local.release()
            raise
        waiting = asyncio.ensure_future(asyncio.to_thread(fcntl.flock, fd, fcntl.LOCK_EX))
        try:
            await asyncio.shield(waiting)
        except asyncio.CancelledError:
            # The thread takes the lock sooner or later: give it back then, and only then
            # let the next task of this process try.
            def undo(done: asyncio.Future[None]) -> None:
                if not done.cancelled() and done.exception() is None:
                    fcntl.flock(fd, fcntl.LOCK_UN)
                self._local.release()

            waiting.add_done_callback(undo)
            raise
        except BaseException:
            self._local.release()
            raise

    def release(self) -> None:
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._local.release()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class Database:
    def __init__(self, url: str, *, pool_size: int = 10, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self.read_engine = _sqlite_engine(url, immediate=False, pool_size=pool_size)
            self.write_engine = _sqlite_engine(url, immediate=True, pool_size=1)
            path = _sqlite_path(url)
            on_disk = path != ":memory:" and "mode=memory" not in url
            # Processes share a file, not a memory database: no lock file for those.
            self._lock: FileLock | None = FileLock(path + ".writelock") if on_disk else None
            self._checkpointer = WalCheckpointer(path) if on_disk else None
            # Fast units need a file every connection opens (a memory database is per
            # connection): elsewhere ``write_fast`` is ``write``.
            self._fast: StatementCache | None = (
                StatementCache(self.write_engine.sync_engine.dialect) if on_disk else None
            )
        else:
            self.read_engine = _postgres_engine(url, pool_size=pool_size, echo=echo)
            self.write_engine = self.read_engine
            self._lock = None
            self._checkpointer = None
            self._fast = StatementCache(self.read_engine.sync_engine.dialect)
        self._read = async_sessionmaker(self.read_engine, expire_on_commit=False)
        self._write = async_sessionmaker(self.write_engine, expire_on_commit=False)

    def pool_status(self) -> dict[str, int]:
        """This process's connections: checked out (``in_use``) and kept open (``idle``)."""
        engines = {id(e): e for e in (self.read_engine, self.write_engine)}.values()
        in_use = idle = 0
        for engine in engines:
            p = engine.pool
            if isinstance(p, pool.QueuePool):
                in_use += p.checkedout()
                idle += p.checkedin()
        return {"in_use": in_use, "idle": idle}

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self._read() as session:
            yield session

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        if self._lock is None:
            async with self._write() as session, session.begin():
                yield session
            return
        # Writers queue on FileLock (this process's tasks, then processes), which wakes
        # the next writer at once (SQLite's own busy handler polls with growing sleeps,
        # blocking the loop).
        if self._checkpointer is not None:
            self._checkpointer.start()  # on the first write: read-only users need none
        async with self._write() as session:
            await self._lock.acquire()
            try:
                async with session.begin():
                    yield session
            finally:
                self._lock.release()

    @asynccontextmanager
    async def write_fast(self) -> AsyncIterator[AsyncSession | FastUnit]:
        """A write unit for the hot paths: ``write()``, minus SQLAlchemy's per-statement
        bookkeeping (``berth.db.fast``; Core statements and ``execute`` only)."""
        if self._fast is None:
            async with self.write() as session:
                yield session
            return
        if self._lock is None:  # PostgreSQL: its transaction, on a pooled connection
            async with self._asyncpg_unit(self.write_engine, transaction=True) as unit:
                yield unit
            return
        if self._checkpointer is not None:
            self._checkpointer.start()
        # The lock first, then the write pool's one connection, as ``write`` does.
        await self._lock.acquire()
        try:
            pooled = await self.write_engine.raw_connection()
            try:
                conn = pooled.driver_connection
                assert conn is not None  # a pooled connection that is open has its driver's
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield FastUnit(conn, self._fast, self.write_engine.sync_engine)
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            finally:
                pooled.close()
        finally:
            self._lock.release()

    @asynccontextmanager
    async def read_fast(self) -> AsyncIterator[AsyncSession | FastUnit]:
        """A read unit for single-statement hot reads (no transaction spans statements:
        each one sees the latest commit)."""
        if self._fast is None:
            async with self.read() as session:
                yield session
            return
        if not self.is_sqlite:
            async with self._asyncpg_unit(self.read_engine) as unit:
                yield unit
            return
        pooled = await self.read_engine.raw_connection()
        try:
            assert pooled.driver_connection is not None  # open: it has its driver's connection
            yield FastUnit(pooled.driver_connection, self._fast, self.read_engine.sync_engine)
        finally:
            pooled.close()

    @asynccontextmanager
    async def _asyncpg_unit(
        self, engine: AsyncEngine, *, transaction: bool = False
    ) -> AsyncIterator[AsyncpgFastUnit]:
        """A fast unit on the asyncpg connection of one of ``engine``'s pooled connections,
        in one transaction when asked (committed at the end, rolled back on an exception)."""
        assert self._fast is not None
        async with engine.connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            assert driver is not None  # open: it has its driver's connection
            unit = AsyncpgFastUnit(driver, self._fast, engine.sync_engine)
            if not transaction:
                yield unit
                return
            async with driver.transaction():
                yield unit

    async def dispose(self) -> None:
        if self._checkpointer is not None:
            await asyncio.to_thread(self._checkpointer.stop)
        if self._lock is not None:
            self._lock.close()
        await self.read_engine.dispose()
        if self.write_engine is not self.read_engine:
            await self.write_engine.dispose()


def _postgres_engine(url: str, *, pool_size: int, echo: bool) -> AsyncEngine:
    engine = create_async_engine(
        url, json_serializer=_json_dumps, pool_size=pool_size, max_overflow=pool_size, echo=echo
    )

    @event.listens_for(engine.sync_engine, "checkout")
    def _drop_closed(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        driver = getattr(dbapi_conn, "driver_connection", None)
        if driver is not None and driver.is_closed():
            # The pool replaces it with a fresh connection and tries again.
            raise exc.DisconnectionError("connection closed by the server")

    return engine


def one_shot_engine(url: str) -> AsyncEngine:
    """An engine without pooling, for CLI commands and migrations."""
    return create_async_engine(url, poolclass=NullPool)
