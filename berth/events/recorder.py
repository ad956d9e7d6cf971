"""Records registry events off the hot path.

``record`` appends to an in-memory buffer and returns at once; a background task writes the
buffer in one batched INSERT every ``interval`` seconds (and at shutdown). A crash loses at
most the last interval of events, never a request's latency.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from berth.db.base import now_ms
from berth.db.session import Database
from berth.events.models import Event

if TYPE_CHECKING:
    from berth.registry.repositories import RepoName

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Actor:
    name: str | None
    kind: str  # "user" | "robot" | "token" | "anonymous"
    ip: str | None = None
    user_agent: str | None = None


class EventRecorder:
    def __init__(self, db: Database, *, interval: float = 0.5, max_buffer: int = 50_000) -> None:
        self.db = db
        self.interval = interval
        self.max_buffer = max_buffer
        self._buffer: list[dict[str, Any]] = []
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0

    def record(
        self,
        kind: str,
        repo: RepoName,
        actor: Actor,
        *,
        tag: str | None = None,
        digest: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        if len(self._buffer) >= self.max_buffer:
            self.dropped += 1
            return
        self._buffer.append(
            {
                "kind": kind,
                "namespace": repo.namespace,
                "repository": repo.name,
                "actor": actor.name,
                "actor_kind": actor.kind,
                "ip": actor.ip,
                "tag": tag,
                "digest": digest,
                "meta": {
                    **(meta or {}),
                    **({"user_agent": actor.user_agent} if actor.user_agent else {}),
                }
                or None,
                "created_at": now_ms(),
            }
        )

    async def flush(self) -> int:
        if not self._buffer:
            return 0
        batch, self._buffer = self._buffer, []
        try:
            async with self.db.write() as s:
                await s.execute(Event.__table__.insert(), batch)
        except Exception:
            log.exception("could not write %d events; keeping them for the next flush", len(batch))
            self._buffer[:0] = batch[: self.max_buffer]
            raise
        return len(batch)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            with contextlib.suppress(Exception):
                await self.flush()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="event-recorder")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(Exception):
            await self.flush()
