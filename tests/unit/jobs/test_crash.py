"""A real worker process killed (SIGKILL) in the middle of a job: the job stays claimed
until its lease passes, then another runner takes it over and finishes it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from berth.config import load_settings
from berth.db.session import Database
from berth.jobs import JobQueue, JobRunner
from berth.jobs.models import Job
from berth.schema.migrate import upgrade
from tests.unit.jobs.crash_worker import BLOCK, LEASE_S, Block

WORKER = Path(__file__).with_name("crash_worker.py")
pytestmark = pytest.mark.slow


async def _job(db: Database) -> Job:
    async with db.read() as s:
        return (await s.execute(select(Job).where(Job.kind == BLOCK.name))).scalar_one()


def test_a_killed_workers_job_is_taken_over_by_another_runner(tmp_path: Path) -> None:
    data = tmp_path / "data"
    marker = tmp_path / "started"
    url = load_settings(None, data_dir=str(data), env={}).db_url

    async def prepare() -> None:
        await upgrade(url)
        db = Database(url)
        try:
            await JobQueue(db).enqueue(BLOCK, Block(marker=str(marker)))
        finally:
            await db.dispose()

    asyncio.run(prepare())
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, str(WORKER), str(data)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert proc.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.05)
        assert marker.read_text() == str(proc.pid)

        async def check_heartbeats() -> int:
            db = Database(url)
            try:
                first = await _job(db)
                await asyncio.sleep(LEASE_S * 1.5)  # past the first lease: heartbeats held it
                later = await _job(db)
                assert later.state == "running"
                assert later.claimed_by == first.claimed_by
                assert f":{proc.pid}:" in (later.claimed_by or "")
                assert later.claimed_until is not None
                assert first.claimed_until is not None
                assert later.claimed_until > first.claimed_until
                return later.attempts
            finally:
                await db.dispose()

        assert asyncio.run(check_heartbeats()) == 1
    finally:
        os.kill(proc.pid, signal.SIGKILL)  # mid-job: no shutdown, no release
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    async def take_over() -> tuple[Job, JobRunner, float]:
        db = Database(url)
        try:
            finished: list[Block] = []

            async def finish(payload: Block) -> None:
                finished.append(payload)

            runner = JobRunner(JobQueue(db, lease_s=LEASE_S), [BLOCK.bind(finish)])
            killed_at = time.monotonic()
            assert await runner.run_once() is False  # the dead worker's lease still holds
            deadline = killed_at + 30
            while not await runner.run_once():
                assert time.monotonic() < deadline, "the job was never taken over"
                await asyncio.sleep(0.1)
            assert finished == [Block(marker=str(marker))]
            return await _job(db), runner, time.monotonic() - killed_at
        finally:
            await db.dispose()

    job, runner, waited = asyncio.run(take_over())
    assert (job.state, job.attempts, job.claimed_by) == ("done", 2, runner.worker_id)
    assert 0 < waited <= LEASE_S + 5
