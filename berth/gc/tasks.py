"""``collect_garbage``: one garbage collection pass, scheduled every BERTH_GC_INTERVAL."""

from __future__ import annotations

from berth.gc.services import GarbageCollector
from berth.jobs import JobKind, Lane, NoPayload

COLLECT_GARBAGE = JobKind("collect_garbage", NoPayload, lane=Lane.LONG)


async def collect_garbage(_payload: NoPayload, gc: GarbageCollector) -> None:
    await gc.collect()
