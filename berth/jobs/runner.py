"""The job runner: per lane, a claim loop running up to that lane's concurrency of jobs;
heartbeats, retries with backoff, dead jobs, schedules, graceful stop.

One runner per process (server workers in the embedded default, ``berth worker``
processes in the distributed deployment). Each lane (``Lane``) claims only its own jobs
and runs at most its concurrency of them at once, so a long garbage collection never holds
up a quick delivery. While a job runs, its runner extends the job's lease every
``heartbeat_s`` (a quarter of the lease); a runner that died stops doing so and, once the
lease has passed, another runner takes the job over (a new attempt). A runner whose
heartbeat finds its job taken over cancels it and leaves the row to its new owner.

``stop()`` claims nothing new and lets the jobs in hand finish up to a timeout; the ones
still running then are cancelled and given back to the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from berth.jobs.kinds import DEFAULT_LANES, Binding, Lane, Schedule
from berth.jobs.queue import ClaimedJob, JobQueue

log = logging.getLogger(__name__)


@dataclass
class RunnerStats:
    done: int = 0
    dead: int = 0
    retried: int = 0
    lost: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)


class JobRunner:
    def __init__(
        self,
        queue: JobQueue,
        bindings: Iterable[Binding[Any]],
        schedules: Iterable[Schedule[Any]] = (),
        *,
        lanes: Mapping[Lane, int] | None = None,
        idle_sleep_s: float = 1.0,
        heartbeat_s: float | None = None,
    ) -> None:
        self.queue = queue
        self.bindings: dict[str, Binding[Any]] = {}
        for b in bindings:
            if b.kind.name in self.bindings:
                raise ValueError(f"job kind {b.kind.name!r} is bound twice")
            self.bindings[b.kind.name] = b
        self.schedules = list(schedules)
        for sched in self.schedules:
            if sched.kind.name not in self.bindings:
                raise ValueError(f"schedule of {sched.kind.name!r}, which has no handler")
        self.lanes = {**DEFAULT_LANES, **(lanes or {})}
        self.idle_sleep_s = idle_sleep_s
        self.heartbeat_s = heartbeat_s if heartbeat_s is not None else queue.lease_s / 4
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.stats = RunnerStats()
        self._next_at: dict[str, float] = {}
        self._stopping = asyncio.Event()
        self._loops: list[asyncio.Task[None]] = []
        self._running: set[asyncio.Task[None]] = set()

    def kinds(self, lane: Lane | None = None) -> list[str]:
        return [n for n, b in self.bindings.items() if lane is None or b.kind.lane == lane]

    # ---- one step (tests, and the loops) ------------------------------------------------
    async def run_once(self, lane: Lane | None = None) -> bool:
        """Tick the schedules, then run at most one due job (of ``lane``); True if one ran."""
        await self._tick_schedules()
        job = await self.queue.claim(self.worker_id, self.kinds(lane), lane)
        if job is None:
            return False
        await self._run(job)
        return True

    async def _run(self, job: ClaimedJob) -> None:
        binding = self.bindings[job.kind]
        lost = asyncio.Event()
        work = asyncio.create_task(binding.run(job.payload), name=f"job-{job.id}-{job.kind}")
        beat = asyncio.create_task(self._heartbeat(job, work, lost), name=f"job-{job.id}-beat")
        try:
            await asyncio.shield(work)
        except asyncio.CancelledError:
            if not work.done():  # this runner is stopping: the job did not fail
                work.cancel()
                with contextlib.suppress(BaseException):
                    await work
                await self.queue.release(job, "interrupted by its runner's shutdown")
                raise
            if lost.is_set():
                self.stats.lost += 1
                log.warning("job %s %s was taken over by another runner", job.kind, job.id)
                return
            await self._failed(job, "cancelled")
            return
        except Exception as e:
            log.exception("job %s %s failed (attempt %d)", job.kind, job.id, job.attempts)
            await self._failed(job, f"{type(e).__name__}: {e}")
            return
        finally:
            beat.cancel()
            with contextlib.suppress(BaseException):
                await beat
        if await self.queue.finish(job):
            self.stats.done += 1
            self.stats.by_kind[job.kind] = self.stats.by_kind.get(job.kind, 0) + 1
        else:
            self.stats.lost += 1
            log.warning("job %s %s finished after another runner took it over", job.kind, job.id)

    async def _failed(self, job: ClaimedJob, error: str) -> None:
        state = await self.queue.fail(job, error)
        if state == "dead":
            self.stats.dead += 1
            log.error("job %s %s is dead after %d attempts", job.kind, job.id, job.attempts)
        elif state == "queued":
            self.stats.retried += 1
        else:
            self.stats.lost += 1

    async def _heartbeat(
        self, job: ClaimedJob, work: asyncio.Task[Any], lost: asyncio.Event
    ) -> None:
        """Extend the job's lease every ``heartbeat_s``; when the job is no longer ours,
        cancel it."""
        while True:
            await asyncio.sleep(self.heartbeat_s)
            try:
                mine = await self.queue.heartbeat(job)
            except Exception:
                log.exception("heartbeat of job %s failed", job.id)
                continue
            if not mine:
                lost.set()
                work.cancel()
                return

    async def _tick_schedules(self) -> None:
        now = time.monotonic()
        for sched in self.schedules:
            name = sched.kind.name
            if now >= self._next_at.get(name, 0.0):
                self._next_at[name] = now + sched.every_s
                await self.queue.enqueue(sched.kind, sched.payload, dedupe_key=f"sched:{name}")

    # ---- the loops ----------------------------------------------------------------------
    async def _schedule_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                await self._tick_schedules()
            except Exception:
                log.exception("job schedules failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.idle_sleep_s)

    async def _lane_loop(self, lane: Lane, concurrency: int) -> None:
        kinds = self.kinds(lane)
        slots = asyncio.Semaphore(concurrency)
        while await self._slot(slots):
            try:
                job = await self.queue.claim(self.worker_id, kinds, lane)
            except Exception:
                log.exception("claiming a %s job failed", lane.value)
                job = None
            if job is None:
                slots.release()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self.idle_sleep_s)
                continue
            task = asyncio.create_task(self._run_guarded(job), name=f"job-{job.id}")
            self._running.add(task)
            task.add_done_callback(self._running.discard)
            task.add_done_callback(lambda _t: slots.release())

    async def _slot(self, slots: asyncio.Semaphore) -> bool:
        """Wait for a free slot of the lane; False (holding none) once the runner stops."""
        if self._stopping.is_set():
            return False
        acquire = asyncio.ensure_future(slots.acquire())
        stopping = asyncio.ensure_future(self._stopping.wait())
        await asyncio.wait({acquire, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not acquire.done():
            acquire.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await acquire
        got = acquire.done() and not acquire.cancelled()
        if got and self._stopping.is_set():
            slots.release()
            return False
        return got

    async def _run_guarded(self, job: ClaimedJob) -> None:
        try:
            await self._run(job)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("running job %s failed", job.id)

    def start(self) -> None:
        if self._loops:
            return
        self._stopping.clear()
        self._loops.append(asyncio.create_task(self._schedule_loop(), name="job-schedules"))
        for lane, concurrency in self.lanes.items():
            if self.kinds(lane) and concurrency > 0:
                self._loops.append(
                    asyncio.create_task(
                        self._lane_loop(lane, concurrency), name=f"job-lane-{lane.value}"
                    )
                )

    async def stop(self, timeout_s: float = 10.0) -> None:
        """Claim nothing new; let the jobs in hand finish up to ``timeout_s``, then cancel
        them (they go back to the queue)."""
        self._stopping.set()
        if self._loops:
            await asyncio.gather(*self._loops, return_exceptions=True)
            self._loops = []
        running = list(self._running)
        if not running:
            return
        _done, pending = await asyncio.wait(running, timeout=timeout_s)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
