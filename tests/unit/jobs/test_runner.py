"""The runner: lanes with their own concurrency, heartbeats, takeover of a job whose runner
stopped heartbeating (two runners on one SQLite file), graceful stop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from sqlalchemy import select, update

from berth.db.session import Database
from berth.jobs import JobQueue, JobRunner, Lane, NoPayload
from berth.jobs.models import Job
from tests.unit.jobs.conftest import LEASE_S, PING, SLOW

FAST = {"idle_sleep_s": 0.02}


async def _until(check: Callable[[], Awaitable[bool]], timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition never met"
        await asyncio.sleep(0.02)


async def _job(db: Database) -> Job:
    async with db.read() as s:
        return (await s.execute(select(Job))).scalar_one()


@pytest.fixture
async def second_db(sqlite_url: str) -> AsyncIterator[Database]:
    """Another connection pool on the same SQLite file: a second runner as if in another
    process."""
    database = Database(sqlite_url)
    yield database
    await database.dispose()


@pytest.fixture
async def first_db(sqlite_url: str) -> AsyncIterator[Database]:
    database = Database(sqlite_url)
    yield database
    await database.dispose()


async def test_a_long_job_does_not_hold_up_a_quick_one(first_db: Database) -> None:
    queue = JobQueue(first_db, lease_s=LEASE_S)
    release = asyncio.Event()
    long_started = asyncio.Event()
    pinged = asyncio.Event()

    async def slow(_payload: NoPayload) -> None:
        long_started.set()
        await release.wait()

    async def ping(_payload: NoPayload) -> None:
        pinged.set()

    runner = JobRunner(
        queue,
        [SLOW.bind(slow), PING.bind(ping)],
        lanes={Lane.QUICK: 1, Lane.LONG: 1},
        **FAST,
    )
    await queue.enqueue(SLOW, NoPayload())
    runner.start()
    try:
        await asyncio.wait_for(long_started.wait(), 10)
        await queue.enqueue(PING, NoPayload())
        await asyncio.wait_for(pinged.wait(), 10)  # while the long one still runs
        await _until(lambda: _counts_are(queue, {"running": 1, "done": 1}))
        assert not release.is_set()
        release.set()
        await _until(lambda: _counts_are(queue, {"done": 2}))
    finally:
        release.set()
        await runner.stop()


async def _counts_are(queue: JobQueue, expected: dict[str, int]) -> bool:
    return await queue.counts() == expected


async def test_each_lane_runs_at_most_its_concurrency(first_db: Database) -> None:
    queue = JobQueue(first_db, lease_s=LEASE_S)
    release = asyncio.Event()
    running = {"quick": 0, "long": 0}
    peak = {"quick": 0, "long": 0}

    def handler(lane: str) -> Callable[[NoPayload], Awaitable[None]]:
        async def run(_payload: NoPayload) -> None:
            running[lane] += 1
            peak[lane] = max(peak[lane], running[lane])
            await release.wait()
            running[lane] -= 1

        return run

    runner = JobRunner(
        queue,
        [SLOW.bind(handler("long")), PING.bind(handler("quick"))],
        lanes={Lane.QUICK: 3, Lane.LONG: 1},
        **FAST,
    )
    for _ in range(4):
        await queue.enqueue(SLOW, NoPayload())
        await queue.enqueue(PING, NoPayload())
    runner.start()
    try:
        await _until(lambda: _true(running["quick"] == 3 and running["long"] == 1))
        await asyncio.sleep(0.2)  # room to claim more, were the limits not kept
        assert peak == {"quick": 3, "long": 1}
        release.set()
        await _until(lambda: _counts_are(queue, {"done": 8}))
        assert peak == {"quick": 3, "long": 1}
    finally:
        release.set()
        await runner.stop()


async def _true(value: bool) -> bool:
    return value


async def test_heartbeats_extend_the_lease_of_a_running_job(
    first_db: Database, second_db: Database
) -> None:
    queue = JobQueue(first_db, lease_s=LEASE_S)
    other = JobRunner(JobQueue(second_db, lease_s=LEASE_S), [SLOW.bind(_never)], **FAST)
    release = asyncio.Event()
    started = asyncio.Event()

    async def slow(_payload: NoPayload) -> None:
        started.set()
        await release.wait()

    runner = JobRunner(queue, [SLOW.bind(slow)], **FAST)
    assert runner.heartbeat_s == pytest.approx(LEASE_S / 4)
    await queue.enqueue(SLOW, NoPayload())
    runner.start()
    try:
        await asyncio.wait_for(started.wait(), 10)
        first_lease = (await _job(first_db)).claimed_until
        await asyncio.sleep(LEASE_S * 3)  # three leases: held only by heartbeats
        job = await _job(first_db)
        assert job.claimed_until is not None
        assert first_lease is not None
        assert job.claimed_until > first_lease + LEASE_S * 1000
        assert await other.run_once() is False  # not up for takeover
        release.set()
        await _until(lambda: _counts_are(queue, {"done": 1}))
        job = await _job(first_db)
        assert (job.attempts, job.claimed_by) == (1, runner.worker_id)
    finally:
        release.set()
        await runner.stop()


async def _never(_payload: NoPayload) -> None:
    raise AssertionError("this runner must not get the job")


async def test_a_job_whose_runner_stopped_heartbeating_is_taken_over(
    first_db: Database, second_db: Database
) -> None:
    """Runner A hangs (its heartbeat never comes); once the lease passes, runner B (its own
    connections to the same file) takes the job over and finishes it. When A's handler
    finally fails, A leaves B's result alone."""
    release_a = asyncio.Event()
    a_started = asyncio.Event()

    async def hung(_payload: NoPayload) -> None:
        a_started.set()
        await release_a.wait()
        raise RuntimeError("A gives up late")

    b_ran: list[int] = []

    async def works(_payload: NoPayload) -> None:
        b_ran.append(1)

    a = JobRunner(JobQueue(first_db, lease_s=LEASE_S), [SLOW.bind(hung)], heartbeat_s=3600, **FAST)
    b = JobRunner(JobQueue(second_db, lease_s=LEASE_S), [SLOW.bind(works)], **FAST)
    await a.queue.enqueue(SLOW, NoPayload())
    a.start()
    try:
        await asyncio.wait_for(a_started.wait(), 10)
        assert await b.run_once() is False  # A's lease still holds
        b.start()
        await _until(lambda: _counts_are(b.queue, {"done": 1}))
        job = await _job(second_db)
        assert (job.attempts, job.claimed_by) == (2, b.worker_id)
        assert b_ran == [1]
        release_a.set()
        await _until(lambda: _true(a.stats.lost == 1))
        job = await _job(second_db)
        assert (job.state, job.claimed_by, job.last_error) == ("done", b.worker_id, None)
    finally:
        release_a.set()
        await a.stop()
        await b.stop()


async def test_a_runner_whose_heartbeat_finds_its_job_taken_over_stops_it(
    first_db: Database,
) -> None:
    queue = JobQueue(first_db, lease_s=LEASE_S)
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def slow(_payload: NoPayload) -> None:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    runner = JobRunner(queue, [SLOW.bind(slow)], **FAST)
    await queue.enqueue(SLOW, NoPayload())
    runner.start()
    try:
        await asyncio.wait_for(started.wait(), 10)
        async with first_db.write() as s:  # as another runner's claim would
            await s.execute(update(Job).values(claimed_by="someone-else"))
        await asyncio.wait_for(cancelled.wait(), 10)
        await _until(lambda: _true(runner.stats.lost == 1))
        job = await _job(first_db)
        assert (job.state, job.claimed_by) == ("running", "someone-else")
    finally:
        await runner.stop()


async def test_stop_lets_the_job_in_hand_finish_and_claims_nothing_new(
    first_db: Database,
) -> None:
    queue = JobQueue(first_db, lease_s=LEASE_S)
    started = asyncio.Event()

    async def short(_payload: NoPayload) -> None:
        started.set()
        await asyncio.sleep(0.2)

    runner = JobRunner(queue, [SLOW.bind(short)], **FAST)
    await queue.enqueue(SLOW, NoPayload())
    runner.start()
    await asyncio.wait_for(started.wait(), 10)
    await queue.enqueue(SLOW, NoPayload())
    await runner.stop(timeout_s=10)
    assert await queue.counts() == {"done": 1, "queued": 1}


async def test_stop_gives_back_a_job_that_outlasts_the_timeout(first_db: Database) -> None:
    queue = JobQueue(first_db, lease_s=LEASE_S)
    started = asyncio.Event()

    async def endless(_payload: NoPayload) -> None:
        started.set()
        await asyncio.sleep(3600)

    runner = JobRunner(queue, [SLOW.bind(endless)], **FAST)
    await queue.enqueue(SLOW, NoPayload())
    runner.start()
    await asyncio.wait_for(started.wait(), 10)
    await runner.stop(timeout_s=0.1)
    job = await _job(first_db)
    assert (job.state, job.attempts, job.claimed_until) == ("queued", 0, None)
    assert "shutdown" in (job.last_error or "")


def test_a_kind_bound_twice_or_a_schedule_without_handler_is_refused(
    first_db: Database,
) -> None:
    from berth.jobs import Schedule

    queue = JobQueue(first_db)
    with pytest.raises(ValueError, match="bound twice"):
        JobRunner(queue, [SLOW.bind(_never), SLOW.bind(_never)])
    with pytest.raises(ValueError, match="no handler"):
        JobRunner(queue, [PING.bind(_never)], [Schedule(SLOW, every_s=1)])
