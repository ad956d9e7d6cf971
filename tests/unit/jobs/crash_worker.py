"""A ``berth worker`` process with one more job kind, for the crash test.

    python crash_worker.py DATA_DIR

Builds the services of DATA_DIR (``create_services``, as ``berth worker`` does), adds the
kind ``test_block`` (writes its payload's marker file, then blocks for good) to the
runner's kinds, shortens the lease to LEASE_S, and runs the worker process loop of
``berth worker`` (``berth.worker.run_worker``) until it is killed.
"""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from berth.config import load_settings
from berth.jobs import JobKind, JobQueue, JobRunner, Lane
from berth.schema.migrate import upgrade
from berth.services import create_services
from berth.worker import run_worker

LEASE_S = 2.0


@dataclass(frozen=True)
class Block:
    marker: str


BLOCK = JobKind("test_block", Block, lane=Lane.LONG, max_attempts=3)


async def block(payload: Block) -> None:
    await asyncio.to_thread(Path(payload.marker).write_text, str(os.getpid()))
    await asyncio.Event().wait()


async def main(data_dir: str) -> None:
    settings = load_settings(None, data_dir=data_dir, env={})
    await upgrade(settings.db_url)
    svc = create_services(settings)
    base = svc.runner
    svc.runner = JobRunner(
        JobQueue(svc.db, lease_s=LEASE_S),
        [*base.bindings.values(), BLOCK.bind(block)],
        base.schedules,
        lanes=base.lanes,
        idle_sleep_s=0.1,
    )
    await run_worker(svc, lambda line: print(line, flush=True))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
