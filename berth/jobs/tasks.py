"""The queue's own housekeeping job: forget finished jobs after a day (dead ones stay)."""

from __future__ import annotations

from berth.jobs.kinds import JobKind, Lane, NoPayload
from berth.jobs.queue import JobQueue

PRUNE_JOBS = JobKind("prune_jobs", NoPayload, lane=Lane.LONG)
KEEP_DONE_MS = 86_400_000


async def prune_jobs(_payload: NoPayload, queue: JobQueue) -> int:
    return await queue.prune(older_than_ms=KEEP_DONE_MS)
