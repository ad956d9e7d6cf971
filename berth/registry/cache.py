"""Manifest read cache with generation-based invalidation that works across processes and hosts.

Every repository has a generation. Writers change it *after* their transaction commits;
readers read it *before* they query and store what they found under that generation. An
entry is served only while its repository's generation is unchanged, so a reader that raced
a writer stores an entry that is already stale and never served.

Where the generations live decides who sees a change:
- ``LocalGenerations``: this process only (tests, single-process servers).
- ``SharedFileGenerations``: a small memory-mapped file in the data directory, shared by
  every server process on the machine (the embedded default).
- ``RedisGenerations``: a Redis that every replica reaches (a shared PostgreSQL database
  with Redis configured).
- A shared database without Redis runs without a cache (``NoCache``): each read is one
  indexed query.

Redis without a round trip per read: leases and a commit wait
-------------------------------------------------------------
A replica that asked Redis for a repository's generation at time ``s`` (its monotonic
clock, taken before the request is sent) keeps using the answer while ``now < s + L``:
a lease of ``L`` (5 ms by default), so a busy repository costs one Redis round trip per
``L`` per process, not one per request. A lease alone would let a replica serve an entry
up to ``L`` after a write was acknowledged elsewhere; one more rule closes that: a request
that changed a generation does not start its response until ``L`` (plus 10%) has passed
since Redis confirmed the change (``hold_responses_until``; the ASGI middleware
``berth.http.middleware.CommitWait`` does the waiting).

Why no replica serves a stale entry once a write is acknowledged. A writer commits, then
Redis sets the repository's generation to a fresh value ``g`` at time ``b`` (Redis's
order of commands); the writer's client sees the answer no earlier than ``b + L``. Take a
replica that serves entry ``E`` at a time ``t >= b + L``. It does so because ``E`` was
stored under the generation ``h`` its lease holds, and that lease came from a request sent
at ``s > t - L >= b``: Redis answered it after ``b``, so ``h`` is ``g`` or a value set
later. Every such value came into Redis after ``b``, hence after the commit, and ``E``'s
reader read ``h`` before it queried, so ``E``'s query saw the write. The only assumption
about time is that ``L`` on one host's monotonic clock is not shorter than on another's by
more than the 10% margin (real clock rates differ by parts per million).

Values are random 63-bit numbers, not counters: a Redis that restarts empty or evicts a key
would hand out old counter values again and revive entries stored under them; a key read
while missing gets a fresh random value, so no old entry ever matches it.

Failures. A replica that cannot reach Redis caches nothing (every read is a query) and
tries again after a backoff (1 s, doubling to 30 s). A writer that cannot reach Redis keeps
the repository and sets its generation as soon as Redis answers again; until then replicas
that do reach Redis may serve what they cached before that write, for at most the entry
TTL (60 s for the Redis-backed cache). Writes outside a request (background jobs) are not
held: every replica sees them within ``L``.
"""

from __future__ import annotations

import fcntl
import logging
import mmap
import os
import secrets
import struct
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

if TYPE_CHECKING:
    import redis

V = TypeVar("V")

_SLOTS = 1 << 16
_SLOT = struct.Struct("<Q")

log = logging.getLogger("berth.cache")


class Generations(Protocol):
    def current(self, key: str) -> int | None:
        """The key's generation; None when it cannot be known now (then nothing is cached)."""
        ...

    def bump(self, key: str) -> None: ...


class LocalGenerations:
    def __init__(self) -> None:
        self._gens: dict[str, int] = {}

    def current(self, key: str) -> int:
        return self._gens.get(key, 0)

    def bump(self, key: str) -> None:
        self._gens[key] = self._gens.get(key, 0) + 1


class SharedFileGenerations:
    """65,536 counters in a shared file; keys hash onto them (a collision only costs a miss).

    Reads are one aligned 8-byte load from the mapping; bumps take an exclusive file lock
    so no increment is lost between processes.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            size = _SLOTS * _SLOT.size
            if os.fstat(fd).st_size < size:
                fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    if os.fstat(fd).st_size < size:
                        os.ftruncate(fd, size)
                finally:
                    fcntl.flock(fd, fcntl.LOCK_UN)
            self._map = mmap.mmap(fd, size)
        finally:
            self._fd = fd

    @staticmethod
    def _offset(key: str) -> int:
        return (zlib.crc32(key.encode()) % _SLOTS) * _SLOT.size

    def current(self, key: str) -> int:
        return int(_SLOT.unpack_from(self._map, self._offset(key))[0])

    def bump(self, key: str) -> None:
        off = self._offset(key)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            _SLOT.pack_into(self._map, off, _SLOT.unpack_from(self._map, off)[0] + 1)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        self._map.close()
        os.close(self._fd)


class ResponseHold:
    """When the current request may start its response (a monotonic time)."""

    __slots__ = ("until",)

    def __init__(self) -> None:
        self.until = 0.0


_response_hold: ContextVar[ResponseHold | None] = ContextVar("berth_response_hold", default=None)


def hold_responses_until(deadline: float) -> None:
    """Keep the current request's response back until ``deadline`` (no-op outside one)."""
    hold = _response_hold.get()
    if hold is not None and deadline > hold.until:
        hold.until = deadline


def open_response_hold() -> tuple[ResponseHold, Any]:
    """Start holding for the current request; pass the token to ``close_response_hold``."""
    hold = ResponseHold()
    return hold, _response_hold.set(hold)


def close_response_hold(token: Any) -> None:
    _response_hold.reset(token)


_READ_OR_CREATE = """
local v = redis.call('GET', KEYS[1])
if v then return v end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]
"""


def _fresh_value() -> int:
    return secrets.randbits(63)


class RedisGenerations:
    """Generations in Redis, read under short leases; see the module docstring for why a
    change is seen by every replica before its writer's response starts.

    Calls are synchronous (one round trip of ~0.1 ms on a LAN, at most once per lease per
    repository and process, and once per write).
    """

    def __init__(
        self,
        connect: Callable[[], redis.Redis],
        *,
        lease_s: float = 0.005,
        prefix: str = "berth:generation:",
        max_leases: int = 4096,
        retry_after_s: float = 1.0,
    ) -> None:
        self._connect = connect
        self.lease_s = lease_s
        self.prefix = prefix
        self.max_leases = max_leases
        self.retry_after_s = retry_after_s
        self._client: redis.Redis | None = None
        self._script: Any = None
        self._leases: dict[str, tuple[float, int]] = {}  # key -> (valid until, value)
        self._unannounced: set[str] = set()
        self._retry_at = 0.0
        self._backoff_s = retry_after_s
        self._failing = False

    @classmethod
    def from_options(cls, options: Mapping[str, Any], **kwargs: Any) -> RedisGenerations:
        """For Quay's form of a Redis address: ``{host, port, password, ssl, db, username}``.

        Nothing connects until the first read or write, so a Redis that is down when the
        server starts only means no cache until it is back.
        """

        def connect() -> redis.Redis:
            import redis
            from redis.backoff import NoBackoff
            from redis.retry import Retry

            return redis.Redis(
                host=str(options.get("host", "localhost")),
                port=int(options.get("port", 6379)),
                db=int(options.get("db", 0)),
                username=options.get("username"),
                password=options.get("password"),
                ssl=bool(options.get("ssl", False)),
                socket_timeout=0.5,
                socket_connect_timeout=0.5,
                retry=Retry(NoBackoff(), 0),  # a failure turns the cache off for a while
                single_connection_client=True,  # one event loop per process uses it
            )

        return cls(connect, **kwargs)

    @property
    def client(self) -> redis.Redis:
        if self._client is None:
            self._client = self._connect()
        return self._client

    def _read_or_create(self, key: str) -> int:
        if self._script is None:
            self._script = self.client.register_script(_READ_OR_CREATE)
        return int(self._script(keys=[self.prefix + key], args=[_fresh_value()]))

    def current(self, key: str) -> int | None:
        now = time.monotonic()
        lease = self._leases.get(key)
        if lease is not None and now < lease[0]:
            return lease[1]
        if now < self._retry_at:
            return None
        try:
            self._announce_pending()
            value = self._read_or_create(key)
        except self._errors() as e:
            self._failed(e)
            return None
        self._lease(key, now, value)
        return value

    def bump(self, key: str) -> None:
        self._leases.pop(key, None)
        self._unannounced.add(key)
        sent = time.monotonic()
        if sent < self._retry_at:
            return
        try:
            self._announce_pending()
        except self._errors() as e:
            self._failed(e)
            return
        hold_responses_until(time.monotonic() + self.lease_s * 1.1)

    def _announce_pending(self) -> None:
        """Give every repository written since the last success a fresh generation."""
        if not self._unannounced:
            return
        sent = time.monotonic()
        values = {key: _fresh_value() for key in self._unannounced}
        if len(values) == 1:
            [(key, value)] = values.items()
            self.client.set(self.prefix + key, value)
        else:
            pipe = self.client.pipeline(transaction=False)
            for key, value in values.items():
                pipe.set(self.prefix + key, value)
            pipe.execute()
        self._unannounced.clear()
        for key, value in values.items():
            self._lease(key, sent, value)  # this process reads its own writes at once

    def _lease(self, key: str, sent: float, value: int) -> None:
        if self._failing:
            log.warning("Redis reachable again: shared read cache back on")
            self._failing = False
            self._backoff_s = self.retry_after_s
        if len(self._leases) >= self.max_leases:
            now = time.monotonic()
            self._leases = {k: v for k, v in self._leases.items() if v[0] > now}
        self._leases[key] = (sent + self.lease_s, value)

    def _failed(self, error: Exception) -> None:
        if not self._failing:
            log.warning("Redis unreachable (%s): reads go to the database meanwhile", error)
        self._failing = True
        self._leases.clear()
        self._retry_at = time.monotonic() + self._backoff_s
        self._backoff_s = min(self._backoff_s * 2, 30.0)

    @staticmethod
    def _errors() -> tuple[type[Exception], ...]:
        import redis

        return (redis.RedisError, OSError)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
            self._script = None


@dataclass(slots=True)
class _Entry(Generic[V]):
    generation: int
    expires: float
    value: V


class ReadCache(Generic[V]):
    """An LRU of values per (repository key, item key), valid while the generation holds."""

    def __init__(
        self, generations: Generations, *, max_entries: int = 10_000, ttl_s: float = 300.0
    ) -> None:
        self.generations = generations
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self._items: OrderedDict[tuple[str, str], _Entry[V]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    @property
    def enabled(self) -> bool:
        return self.max_entries > 0

    @property
    def holds_responses(self) -> bool:
        """Whether writes must hold their responses back (``hold_responses_until``)."""
        return isinstance(self.generations, RedisGenerations)

    def generation(self, repo_key: str) -> int | None:
        """Read before querying; pass the result to ``put``."""
        return self.generations.current(repo_key)

    def get(self, repo_key: str, item: str) -> V | None:
        entry = self._items.get((repo_key, item))
        if (
            entry is None
            or entry.expires < time.monotonic()
            or entry.generation != self.generations.current(repo_key)
        ):
            self.misses += 1
            return None
        self.hits += 1
        return entry.value

    def put(
        self,
        repo_key: str,
        item: str,
        value: V,
        generation: int | None,
        *,
        ttl_s: float | None = None,
    ) -> None:
        ttl = self.ttl_s if ttl_s is None else min(ttl_s, self.ttl_s)
        if ttl <= 0 or generation is None:
            return
        self._items[(repo_key, item)] = _Entry(generation, time.monotonic() + ttl, value)
        self._items.move_to_end((repo_key, item))
        while len(self._items) > self.max_entries:
            self._items.popitem(last=False)

    def invalidate(self, repo_key: str) -> None:
        """Call after the writing transaction committed."""
        self.generations.bump(repo_key)

    def close(self) -> None:
        close = getattr(self.generations, "close", None)
        if close is not None:
            close()


class NoCache(ReadCache[V]):
    def __init__(self) -> None:
        super().__init__(LocalGenerations(), max_entries=0, ttl_s=0)

    def get(self, repo_key: str, item: str) -> V | None:
        return None

    def invalidate(self, repo_key: str) -> None:
        return None
