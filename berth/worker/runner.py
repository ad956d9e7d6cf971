"""The job runner: claims jobs, runs their handler, retries with backoff, runs schedules.

One runner per process (server workers in the embedded default, ``berth worker``
processes in the distributed deployment). It owns graceful shutdown: ``stop()`` lets the
job in hand finish (up to a timeout) and claims nothing new.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from berth.db.jobs import ClaimedJob, JobQueue

log = logging.getLogger(__name__)

JobHandler = Callable[[dict[str, Any]], Awaitable[Any]]


@dataclass
class Schedule:
    """Enqueue ``kind`` every ``every_s`` seconds (deduplicated across replicas)."""

    kind: str
    every_s: float
    payload: dict[str, Any] = field(default_factory=dict)
    next_at: float = 0.0


@dataclass
class RunnerStats:
    done: int = 0
    failed: int = 0
    retried: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)


class JobRunner:
    def __init__(
        self,
        queue: JobQueue,
        handlers: dict[str, JobHandler],
        schedules: list[Schedule] | None = None,
        *,
        idle_sleep_s: float = 1.0,
    ) -> None:
        self.queue = queue
        self.handlers = handlers
        self.schedules = schedules or []
        self.idle_sleep_s = idle_sleep_s
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}"
        self.stats = RunnerStats()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> bool:
        """Run at most one due job; True if one ran."""
        await self._tick_schedules()
        job = await self.queue.claim(self.worker_id, list(self.handlers))
        if job is None:
            return False
        await self._run(job)
        return True

    async def _run(self, job: ClaimedJob) -> None:
        handler = self.handlers[job.kind]
        try:
            await handler(job.payload)
        except asyncio.CancelledError:
            await self.queue.fail(job, "cancelled by shutdown")
            raise
        except Exception as e:
            log.exception("job %s %s failed (attempt %d)", job.kind, job.id, job.attempts)
            await self.queue.fail(job, f"{type(e).__name__}: {e}")
            if job.attempts >= job.max_attempts:
                self.stats.failed += 1
            else:
                self.stats.retried += 1
            return
        await self.queue.finish(job)
        self.stats.done += 1
        self.stats.by_kind[job.kind] = self.stats.by_kind.get(job.kind, 0) + 1

    async def _tick_schedules(self) -> None:
        now = time.monotonic()
        for sched in self.schedules:
            if now >= sched.next_at:
                sched.next_at = now + sched.every_s
                await self.queue.enqueue(
                    sched.kind, sched.payload, dedupe_key=f"sched:{sched.kind}"
                )

    async def run_forever(self) -> None:
        while not self._stopping.is_set():
            try:
                ran = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("job runner iteration failed")
                ran = False
            if not ran:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self.idle_sleep_s)

    def start(self) -> None:
        if self._task is None:
            self._stopping.clear()
            self._task = asyncio.create_task(self.run_forever(), name="job-runner")

    async def stop(self, timeout_s: float = 10.0) -> None:
        self._stopping.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout_s)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None
