"""Quay's health checks: each service answers true or false, the whole is healthy when all do.

``instance`` is what a load balancer asks of one replica: can it reach the database, is its
data directory's disk not full, are its signing keys loaded. ``endtoend`` checks what a push
and a pull need end to end: the database, the storage (a small blob written and read back),
Redis when one is configured, and authentication (the user table answers). Each check has a
deadline, so a stopped PostgreSQL makes the answer unhealthy in seconds instead of hanging.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import text

from berth.db.session import Database
from berth.storage.base import BlobStorage

log = logging.getLogger("berth.health")

PROBE = b"berth health check: a blob written and read back by /health/endtoend\n"
PROBE_DIGEST = "sha256:" + hashlib.sha256(PROBE).hexdigest()
MIN_FREE_BYTES = 100 * 1024 * 1024


@dataclass(frozen=True)
class Health:
    services: dict[str, bool]
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def healthy(self) -> bool:
        return all(self.services.values())

    @property
    def status_code(self) -> int:
        return 200 if self.healthy else 503


async def ping_redis(options: Mapping[str, Any], timeout_s: float = 2.0) -> None:
    """Connect to Quay's form of a Redis address and PING it; raises on failure."""
    import redis.asyncio as aioredis

    client = aioredis.Redis(
        host=str(options.get("host", "localhost")),
        port=int(options.get("port", 6379)),
        db=int(options.get("db", 0)),
        username=options.get("username"),
        password=options.get("password"),
        ssl=bool(options.get("ssl", False)),
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
    )
    try:
        await client.ping()
    finally:
        await client.aclose()


async def probe_storage(storage: BlobStorage) -> None:
    """Write the probe blob and read it back (it is tiny and stays: writing it again is a
    no-op, and no replica deletes it under another's read)."""

    async def chunks() -> AsyncIterator[bytes]:
        yield PROBE

    await storage.write_blob(PROBE_DIGEST, chunks())
    got = b"".join([bytes(c) async for c in storage.read_blob(PROBE_DIGEST)])
    if got != PROBE:
        raise RuntimeError("the blob read back differs from the blob written")


class HealthService:
    def __init__(
        self,
        db: Database,
        storage: BlobStorage,
        *,
        data_dir: Path,
        redis_options: Mapping[str, Any] | None,
        keys_loaded: Callable[[], bool],
        timeout_s: float = 5.0,
    ) -> None:
        self.db = db
        self.storage = storage
        self.data_dir = data_dir
        self.redis_options = redis_options
        self.keys_loaded = keys_loaded
        self.timeout_s = timeout_s

    async def instance(self) -> Health:
        return await self._run(
            {
                "database": self._database,
                "disk_space": self._disk_space,
                "service_key": self._service_key,
            }
        )

    async def endtoend(self) -> Health:
        checks: dict[str, Callable[[], Awaitable[None]]] = {
            "database": self._database,
            "storage": lambda: probe_storage(self.storage),
            "auth": self._auth,
        }
        if self.redis_options is not None:
            checks["redis"] = lambda: ping_redis(self.redis_options or {}, self.timeout_s)
        return await self._run(checks)

    async def _run(self, checks: Mapping[str, Callable[[], Awaitable[None]]]) -> Health:
        names = list(checks)
        results = await asyncio.gather(
            *(asyncio.wait_for(checks[n](), self.timeout_s) for n in names),
            return_exceptions=True,
        )
        services: dict[str, bool] = {}
        failures: dict[str, str] = {}
        for name, result in zip(names, results, strict=True):
            services[name] = not isinstance(result, BaseException)
            if isinstance(result, BaseException):
                reason = "timed out" if isinstance(result, TimeoutError) else repr(result)
                failures[name] = reason
                log.warning("health: %s failed: %s", name, reason)
        return Health(services, failures)

    async def _database(self) -> None:
        async with self.db.read() as s:
            await s.execute(text("SELECT 1"))

    async def _auth(self) -> None:
        async with self.db.read() as s:
            await s.execute(text("SELECT count(*) FROM (SELECT 1 FROM users LIMIT 1) AS u"))

    async def _disk_space(self) -> None:
        path = self.data_dir if self.data_dir.exists() else self.data_dir.parent
        free = shutil.disk_usage(path).free
        if free < MIN_FREE_BYTES:
            raise RuntimeError(f"{free} bytes free in {path}")

    async def _service_key(self) -> None:
        if not self.keys_loaded():
            raise RuntimeError("the registry's signing keys are not loaded")
