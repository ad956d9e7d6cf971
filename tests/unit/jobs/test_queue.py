"""The job queue on a real database (SQLite; PostgreSQL too in the slow run): typed
enqueue, lanes, leases, retries with backoff, the dead state, list and retry."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select, update

from berth.db.session import Database
from berth.jobs import (
    JobKind,
    JobNotFound,
    JobNotRetryable,
    JobQueue,
    JobRunner,
    Lane,
    NoPayload,
    Schedule,
    enqueue,
)
from berth.jobs.models import Job
from berth.jobs.queue import MAX_BACKOFF_S, backoff_s
from tests.unit.jobs.conftest import BOOM, GREET, LEASE_S, PING, SLOW, Greet


async def _row(db: Database, job_id: int) -> Job:
    async with db.read() as s:
        return (await s.execute(select(Job).where(Job.id == job_id))).scalar_one()


async def _make_due(db: Database) -> None:
    """Skip the backoff of every waiting job."""
    async with db.write() as s:
        await s.execute(update(Job).where(Job.state == "queued").values(run_at=0))


async def test_a_job_runs_once_with_its_typed_payload(queue: JobQueue) -> None:
    seen: list[Greet] = []

    async def greet(payload: Greet) -> None:
        seen.append(payload)

    runner = JobRunner(queue, [GREET.bind(greet)])
    assert await queue.enqueue(GREET, Greet(name="berth")) is True
    assert await runner.run_once() is True
    assert await runner.run_once() is False
    assert seen == [Greet(name="berth")]
    assert (await queue.counts()) == {"done": 1}
    [row] = await queue.list()
    assert (row.kind, row.lane, row.state, row.attempts, row.payload) == (
        "test_greet", "quick", "done", 1, {"name": "berth"},
    )  # fmt: skip


async def test_enqueue_takes_the_kinds_payload_type_only(queue: JobQueue) -> None:
    with pytest.raises(TypeError, match="payload must be Greet"):
        await queue.enqueue(GREET, NoPayload())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be a dataclass"):
        JobKind("bad", dict)


async def test_a_stored_payload_with_a_key_of_an_older_release_still_runs(
    queue: JobQueue, db: Database
) -> None:
    async with db.write() as s:
        s.add(Job(kind="test_greet", lane="quick", payload={"name": "x", "gone": 1}))
    seen: list[Greet] = []

    async def greet(payload: Greet) -> None:
        seen.append(payload)

    assert await JobRunner(queue, [GREET.bind(greet)]).run_once() is True
    assert seen == [Greet(name="x")]


async def test_a_failing_job_backs_off_then_is_dead_with_its_error(
    queue: JobQueue, db: Database
) -> None:
    calls = 0

    async def boom(_payload: NoPayload) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError(f"upstream down ({calls})")

    runner = JobRunner(queue, [BOOM.bind(boom)])
    await queue.enqueue(BOOM, NoPayload())
    assert await runner.run_once() is True
    assert await runner.run_once() is False  # backed off: not due again right away
    [row] = await queue.list()
    assert (row.state, row.attempts, row.max_attempts) == ("queued", 1, 2)
    assert row.last_error == "RuntimeError: upstream down (1)"
    await _make_due(db)
    assert await runner.run_once() is True
    assert await runner.run_once() is False
    [row] = await queue.list(state="dead")
    assert (row.state, row.attempts, row.last_error) == (
        "dead",
        2,
        "RuntimeError: upstream down (2)",
    )
    assert row.finished_at is not None
    assert runner.stats.dead == 1
    assert runner.stats.retried == 1
    assert calls == 2


def test_backoff_is_exponential_and_capped() -> None:
    assert [backoff_s(n) for n in (1, 2, 3, 4)] == [2.0, 4.0, 8.0, 16.0]
    assert backoff_s(10) == backoff_s(1000) == MAX_BACKOFF_S


async def test_an_abandoned_claim_is_taken_again_after_its_lease(queue: JobQueue) -> None:
    await queue.enqueue(SLOW, NoPayload())
    first = await queue.claim("dead-worker", ["test_slow"], Lane.LONG)
    assert first is not None
    assert await queue.claim("other", ["test_slow"], Lane.LONG) is None  # leased
    await asyncio.sleep(LEASE_S + 0.1)
    again = await queue.claim("other", ["test_slow"], Lane.LONG)
    assert again is not None
    assert (again.id, again.attempts, again.claimed_by) == (first.id, 2, "other")
    [row] = await queue.list()
    assert "lease expired" in (row.last_error or "")


async def test_a_runner_that_lost_its_job_changes_nothing(queue: JobQueue) -> None:
    await queue.enqueue(SLOW, NoPayload())
    old = await queue.claim("old", ["test_slow"])
    assert old is not None
    await asyncio.sleep(LEASE_S + 0.1)
    new = await queue.claim("new", ["test_slow"])
    assert new is not None
    assert await queue.heartbeat(old) is False
    assert await queue.finish(old) is False
    assert await queue.fail(old, "late failure") is None
    [row] = await queue.list()
    assert (row.state, row.claimed_by) == ("running", "new")
    assert await queue.heartbeat(new) is True
    assert await queue.finish(new) is True
    assert (await queue.list())[0].state == "done"


async def test_a_job_lost_on_its_last_attempt_is_dead(queue: JobQueue) -> None:
    await queue.enqueue(BOOM, NoPayload())  # max_attempts 2
    for worker in ("a", "b"):
        assert await queue.claim(worker, ["test_boom"]) is not None
        await asyncio.sleep(LEASE_S + 0.1)
    assert await queue.claim("c", ["test_boom"]) is None
    [row] = await queue.list()
    assert (row.state, row.attempts) == ("dead", 2)
    assert "runner was lost" in (row.last_error or "")


async def test_claim_takes_only_its_lane(queue: JobQueue) -> None:
    await queue.enqueue(SLOW, NoPayload())
    await queue.enqueue(PING, NoPayload())
    kinds = ["test_slow", "test_ping"]
    quick = await queue.claim("w", kinds, Lane.QUICK)
    assert quick is not None
    assert quick.kind == "test_ping"
    assert await queue.claim("w", kinds, Lane.QUICK) is None
    long = await queue.claim("w", kinds, Lane.LONG)
    assert long is not None
    assert (long.kind, long.lane) == ("test_slow", "long")


async def test_dedupe_key_keeps_one_waiting_job(queue: JobQueue) -> None:
    assert await queue.enqueue(SLOW, NoPayload(), dedupe_key="k") is True
    assert await queue.enqueue(SLOW, NoPayload(), dedupe_key="k") is False
    assert (await queue.counts()) == {"queued": 1}


async def test_enqueue_joins_the_callers_transaction(queue: JobQueue, db: Database) -> None:
    class Rollback(Exception):
        pass

    async def enqueue_then_fail() -> None:
        async with db.write() as s:
            await enqueue(s, GREET, Greet(name="never"))
            raise Rollback

    with pytest.raises(Rollback):
        await enqueue_then_fail()
    assert await queue.counts() == {}


async def test_schedules_enqueue_periodic_jobs(queue: JobQueue) -> None:
    ran = 0

    async def sweep(_payload: NoPayload) -> None:
        nonlocal ran
        ran += 1

    runner = JobRunner(queue, [SLOW.bind(sweep)], [Schedule(SLOW, every_s=3600)])
    assert await runner.run_once() is True
    assert await runner.run_once() is False  # not due for another hour
    assert ran == 1


async def test_retry_revives_a_dead_job_and_refuses_others(queue: JobQueue, db: Database) -> None:
    async def boom(_payload: NoPayload) -> None:
        raise RuntimeError("nope")

    runner = JobRunner(queue, [BOOM.bind(boom)])
    await queue.enqueue(BOOM, NoPayload())
    await runner.run_once()
    await _make_due(db)
    await runner.run_once()
    [dead] = await queue.list(state="dead")
    await queue.retry(dead.id)
    row = await _row(db, dead.id)
    assert (row.state, row.attempts, row.finished_at) == ("queued", 0, None)
    assert row.last_error == "RuntimeError: nope"  # kept until it runs again

    with pytest.raises(JobNotFound):
        await queue.retry(dead.id + 100)
    claimed = await queue.claim("w", ["test_boom"])
    assert claimed is not None
    with pytest.raises(JobNotRetryable, match="is running"):
        await queue.retry(dead.id)
    await queue.finish(claimed)
    with pytest.raises(JobNotRetryable, match="is done"):
        await queue.retry(dead.id)


async def test_list_filters_by_state_and_kind_newest_first(queue: JobQueue) -> None:
    await queue.enqueue(SLOW, NoPayload())
    await queue.enqueue(PING, NoPayload())
    await queue.enqueue(PING, NoPayload())
    assert [r.kind for r in await queue.list()] == ["test_ping", "test_ping", "test_slow"]
    assert [r.kind for r in await queue.list(kind="test_slow")] == ["test_slow"]
    assert len(await queue.list(limit=1)) == 1
    assert await queue.list(state="dead") == []
    with pytest.raises(ValueError, match="unknown state"):
        await queue.list(state="failed")


async def test_finished_jobs_are_pruned_dead_ones_kept(queue: JobQueue, db: Database) -> None:
    await queue.enqueue(SLOW, NoPayload())
    await queue.enqueue(PING, NoPayload())
    done = await queue.claim("w", ["test_slow"])
    dead = await queue.claim("w", ["test_ping"])
    assert done is not None
    assert dead is not None
    await queue.finish(done)
    await queue.fail(dead, "bad", retry=False)
    await asyncio.sleep(0.01)
    assert await queue.prune(older_than_ms=0) == 1
    assert await queue.counts() == {"dead": 1}
