"""The job queue and runner against a real SQLite database."""

from __future__ import annotations

from pathlib import Path

import pytest

from berth.db.jobs import JobQueue, backoff_s
from berth.db.session import Database
from berth.schema.migrate import upgrade
from berth.worker.runner import JobRunner, Schedule


@pytest.fixture
async def queue(tmp_path: Path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'jobs.db'}"
    await upgrade(url)
    db = Database(url)
    yield JobQueue(db, lease_s=0.05)
    await db.dispose()


async def test_a_job_runs_once_and_is_done(queue: JobQueue) -> None:
    seen: list[dict] = []

    async def handler(payload: dict) -> None:
        seen.append(payload)

    runner = JobRunner(queue, {"greet": handler})
    await queue.enqueue("greet", {"name": "berth"})
    assert await runner.run_once() is True
    assert await runner.run_once() is False
    assert seen == [{"name": "berth"}]
    assert (await queue.counts()) == {"done": 1}


async def test_a_failing_job_is_retried_later_then_marked_failed(queue: JobQueue) -> None:
    calls = 0

    async def boom(_payload: dict) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("upstream down")

    runner = JobRunner(queue, {"boom": boom})
    await queue.enqueue("boom", max_attempts=2)
    assert await runner.run_once() is True
    # backed off: not due again right away
    assert await runner.run_once() is False
    assert (await queue.counts()) == {"queued": 1}
    assert calls == 1
    assert backoff_s(1) == 2.0


async def test_an_abandoned_claim_is_taken_again_after_its_lease(queue: JobQueue) -> None:
    import asyncio

    await queue.enqueue("work")
    first = await queue.claim("dead-worker", ["work"])
    assert first is not None
    assert await queue.claim("other", ["work"]) is None  # leased
    await asyncio.sleep(0.1)  # lease of 50 ms expires
    again = await queue.claim("other", ["work"])
    assert again is not None
    assert again.id == first.id
    assert again.attempts == 2


async def test_dedupe_key_keeps_one_waiting_job(queue: JobQueue) -> None:
    assert await queue.enqueue("sweep", dedupe_key="k") is True
    assert await queue.enqueue("sweep", dedupe_key="k") is False
    assert (await queue.counts()) == {"queued": 1}


async def test_schedules_enqueue_periodic_jobs(queue: JobQueue) -> None:
    ran = 0

    async def sweep(_payload: dict) -> None:
        nonlocal ran
        ran += 1

    runner = JobRunner(queue, {"sweep": sweep}, [Schedule("sweep", every_s=3600)])
    assert await runner.run_once() is True
    assert await runner.run_once() is False  # not due for another hour
    assert ran == 1
