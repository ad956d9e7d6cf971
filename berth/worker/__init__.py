"""``berth worker``: a process that runs background jobs until SIGINT or SIGTERM.

The runner itself lives in ``berth.jobs`` (the composition root builds it); this is only
the process around it: start the services with their runner, wait for a signal, then stop
gracefully (the jobs in hand finish up to a timeout, nothing new is claimed).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from berth.services import Services


async def run_worker(svc: Services, say: Callable[[str], object] = print) -> None:
    """Run ``svc.runner`` until the process is told to stop, then close the services."""
    try:
        await svc.start(run_jobs=True)
        lanes = ", ".join(f"{lane.value} {n}" for lane, n in svc.runner.lanes.items())
        say(f"berth worker {svc.runner.worker_id}: running jobs (lanes: {lanes})")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        say("stopping: finishing the jobs in hand")
    finally:
        await svc.close()
