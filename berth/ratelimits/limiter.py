"""Counting requests in fixed windows, in process or in Redis, without the database.

A request is counted once per bucket it falls in: its caller's (``user:alice``,
``robot:acme+ci``, ``token:<uuid>``, ``ip:10.0.0.7``) and its namespace's, each per surface
(``v2``/``api``) and window (``window`` seconds, aligned on the epoch). Over a limit, the
answer is the seconds until the window ends (``Retry-After``).

- ``LocalCounter``: a dict in the process (one replica; several processes of one machine
  each count on their own, so the effective limit is per process).
- ``RedisCounter``: one Lua script per request (INCR and, for a new key, PEXPIRE, for every
  bucket of the request), atomic in Redis: every replica sharing the Redis shares the
  counts. If Redis cannot be reached the request is let through (logged, with a backoff):
  a limiter outage does not become a registry outage.

Per-namespace overrides come from the database, but never on a request: ``OverrideCache``
holds them in memory and reloads them in the background every ``refresh_s`` seconds (5),
so a superuser's change applies on every replica within that time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from berth.ratelimits.settings import RateLimit

log = logging.getLogger("berth.ratelimits")

_HIT = """
local out = {}
for i, key in ipairs(KEYS) do
  local n = redis.call('INCR', key)
  if n == 1 then redis.call('PEXPIRE', key, ARGV[1]) end
  out[i] = n
end
return out
"""


class Counter(Protocol):
    async def hit(self, keys: Sequence[str], window_ms: int) -> list[int] | None:
        """Count one request in each key (a new key lives one window); the counts, or
        None when they cannot be known now (the request is let through)."""
        ...


class LocalCounter:
    def __init__(self) -> None:
        self._counts: dict[str, tuple[int, float]] = {}  # key -> (count, expires monotonic)
        self._next_sweep = 0.0

    async def hit(self, keys: Sequence[str], window_ms: int) -> list[int]:
        now = time.monotonic()
        if now >= self._next_sweep:
            self._counts = {k: v for k, v in self._counts.items() if v[1] > now}
            self._next_sweep = now + 10
        out = []
        for key in keys:
            count, expires = self._counts.get(key, (0, now + window_ms / 1000))
            count += 1
            self._counts[key] = (count, expires)
            out.append(count)
        return out


class RedisCounter:
    def __init__(self, options: Mapping[str, Any]) -> None:
        self.options = dict(options)
        self._client: Any = None
        self._script: Any = None
        self._down_until = 0.0
        self._backoff = 1.0

    def _connect(self) -> Any:
        import redis.asyncio as aioredis

        client = aioredis.Redis(
            host=str(self.options.get("host", "localhost")),
            port=int(self.options.get("port", 6379)),
            db=int(self.options.get("db", 0)),
            username=self.options.get("username"),
            password=self.options.get("password"),
            ssl=bool(self.options.get("ssl", False)),
            socket_timeout=0.5,
            socket_connect_timeout=0.5,
        )
        self._script = client.register_script(_HIT)
        return client

    async def hit(self, keys: Sequence[str], window_ms: int) -> list[int] | None:
        now = time.monotonic()
        if now < self._down_until:
            return None
        try:
            if self._client is None:
                self._client = self._connect()
            counts = await self._script(keys=list(keys), args=[window_ms])
        except Exception as e:  # a limiter outage lets requests through
            self._down_until = now + self._backoff
            self._backoff = min(self._backoff * 2, 30.0)
            log.warning(
                "rate limits: Redis unreachable (%s); not limiting for %.0fs", e, self._backoff
            )
            return None
        self._backoff = 1.0
        return [int(c) for c in counts]

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()


Overrides = dict[tuple[str, str], RateLimit]  # (namespace, surface) -> limit


class OverrideCache:
    """The superusers' per-namespace limits, reloaded in the background (never awaited by
    a request: a stale copy answers until the reload lands)."""

    def __init__(self, load: Callable[[], Awaitable[Overrides]], *, refresh_s: float = 5.0) -> None:
        self.load = load
        self.refresh_s = refresh_s
        self.values: Overrides = {}
        self._loaded_at = -math.inf
        self._task: asyncio.Task[None] | None = None

    async def reload(self) -> None:
        self.values = await self.load()
        self._loaded_at = time.monotonic()

    def current(self) -> Overrides:
        if time.monotonic() - self._loaded_at > self.refresh_s and (
            self._task is None or self._task.done()
        ):
            self._loaded_at = time.monotonic()  # one reload at a time
            self._task = asyncio.get_running_loop().create_task(self._reload_quietly())
        return self.values

    async def aclose(self) -> None:
        """Cancel a reload in flight (at shutdown, before the database closes)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _reload_quietly(self) -> None:
        try:
            await self.reload()
        except Exception:
            log.exception("rate limits: could not reload the per-namespace limits")


@dataclass(frozen=True, slots=True)
class Limited:
    retry_after_s: int
    bucket: str  # "caller" | "namespace"


class RateLimiter:
    def __init__(
        self, limits: Mapping[str, RateLimit], counter: Counter, overrides: OverrideCache
    ) -> None:
        self.limits = dict(limits)
        self.counter = counter
        self.overrides = overrides

    async def check(
        self, surface: str, caller: str, namespace: str | None, *, now: float | None = None
    ) -> Limited | None:
        """Count the request; ``Limited`` when it is over a limit (then it is refused)."""
        limit = self.limits.get(surface)
        if namespace is not None:
            limit = self.overrides.current().get((namespace, surface), limit)
        else:
            self.overrides.current()
        if limit is None or (limit.caller is None and limit.namespace is None):
            return None
        now = time.time() if now is None else now
        window = int(now // limit.window_s)
        keys, which = [], []
        if limit.caller is not None:
            keys.append(f"berth:rl:{surface}:{window}:c:{caller}")
            which.append(("caller", limit.caller))
        if limit.namespace is not None and namespace is not None:
            keys.append(f"berth:rl:{surface}:{window}:n:{namespace}")
            which.append(("namespace", limit.namespace))
        if not keys:
            return None
        counts = await self.counter.hit(keys, limit.window_s * 1000)
        if counts is None:
            return None
        for (bucket, allowed), count in zip(which, counts, strict=True):
            if count > allowed:
                retry = max(1, math.ceil((window + 1) * limit.window_s - now))
                return Limited(retry, bucket)
        return None
