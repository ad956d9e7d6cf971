"""The jobs queue: enqueue inside the caller's transaction, claim atomically, lease with
heartbeats, retry with backoff, give up (``dead``) after the kind's attempts.

Claiming is one UPDATE ... RETURNING of the oldest due job of a lane: with ``FOR UPDATE
SKIP LOCKED`` on PostgreSQL (replicas never wait on each other), and under SQLite's write
lock (``BEGIN IMMEDIATE``) in the embedded default. A claim is a lease: its runner extends
``claimed_until`` while the job runs (``heartbeat``); a job whose runner died is claimed
again, by any runner, once its lease has passed (a new attempt). ``heartbeat``, ``finish``
and ``fail`` only touch a job still claimed by the caller, so a runner that lost its job to
another never overwrites the new owner's state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, and_, case, delete, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from berth.db.base import now_ms
from berth.db.session import Database
from berth.jobs.kinds import JobKind, Lane
from berth.jobs.models import STATES, Job

P = TypeVar("P")

MAX_BACKOFF_S = 600.0


@dataclass(frozen=True)
class ClaimedJob:
    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int
    claimed_by: str
    lane: str = Lane.LONG.value


@dataclass(frozen=True)
class JobRow:
    """One job as ``berth jobs list`` shows it."""

    id: int
    kind: str
    lane: str
    state: str
    attempts: int
    max_attempts: int
    run_at: int
    finished_at: int | None
    claimed_by: str | None
    last_error: str | None
    payload: dict[str, Any]


class JobNotFound(LookupError):
    pass


class JobNotRetryable(ValueError):
    def __init__(self, job_id: int, state: str) -> None:
        super().__init__(f"job {job_id} is {state}: only dead or queued jobs can be retried")
        self.state = state


async def enqueue(
    s: AsyncSession,
    kind: JobKind[P],
    payload: P,
    *,
    delay_s: float = 0,
    dedupe_key: str | None = None,
) -> bool:
    """Add a job in the caller's transaction; False when an equal job is already waiting."""
    data = kind.to_json(payload)
    if dedupe_key is not None:
        waiting = (
            await s.execute(
                select(Job.id).where(Job.dedupe_key == dedupe_key, Job.state == "queued").limit(1)
            )
        ).scalar()
        if waiting is not None:
            return False
    s.add(
        Job(
            kind=kind.name,
            lane=kind.lane.value,
            payload=data,
            state="queued",
            run_at=now_ms() + int(delay_s * 1000),
            attempts=0,
            dedupe_key=dedupe_key,
            max_attempts=kind.max_attempts,
            created_at=now_ms(),
        )
    )
    return True


_INSERT_JOB = Job.__table__.insert()  # built once: the push path enqueues deliveries with it


async def enqueue_core(s: Any, kind: JobKind[P], payload: P, *, delay_s: float = 0) -> None:
    """``enqueue`` as one precompiled Core INSERT, for units without the ORM (the push
    path's ``FastUnit``); no deduplication."""
    now = now_ms()
    await s.execute(
        _INSERT_JOB,
        {
            "kind": kind.name,
            "lane": kind.lane.value,
            "payload": kind.to_json(payload),
            "state": "queued",
            "run_at": now + int(delay_s * 1000),
            "attempts": 0,
            "max_attempts": kind.max_attempts,
            "dedupe_key": None,
            "created_at": now,
        },
    )


def backoff_s(attempts: int) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones: 2, 4, 8 ... 600."""
    return min(2.0 ** max(min(attempts, 30), 1), MAX_BACKOFF_S)


class JobQueue:
    def __init__(self, db: Database, *, lease_s: float = 60) -> None:
        self.db = db
        self.lease_s = lease_s
        self.lease_ms = int(lease_s * 1000)

    async def lane_stats(self) -> dict[str, tuple[int, float]]:
        """Per lane (every known lane listed): queued jobs, and how long the oldest due
        one has waited (seconds; 0 when none is due)."""
        now = now_ms()
        stmt = (
            select(Job.lane, func.count(), func.min(Job.run_at))
            .where(Job.state == "queued")
            .group_by(Job.lane)
        )
        async with self.db.read() as s:
            rows = (await s.execute(stmt)).all()
        stats: dict[str, tuple[int, float]] = {str(lane): (0, 0.0) for lane in Lane}
        for lane, n, oldest in rows:
            stats[str(lane)] = (int(n), max(0.0, (now - int(oldest)) / 1000))
        return stats

    async def claim(
        self, worker_id: str, kinds: Sequence[str], lane: Lane | str | None = None
    ) -> ClaimedJob | None:
        """Claim the oldest due job of ``lane`` (any lane when None) among ``kinds``: a
        queued one whose time has come, or a running one whose runner stopped heartbeating.
        A lost job that has used all its attempts is declared dead instead."""
        if not kinds:
            return None
        now = now_ms()
        expired = and_(Job.state == "running", Job.claimed_until < now)
        scope: list[ColumnElement[bool]] = [Job.kind.in_(list(kinds))]
        if lane is not None:
            scope.append(Job.lane == str(lane))
        due = or_(and_(Job.state == "queued", Job.run_at <= now), expired)
        pick = select(Job.id).where(due, *scope).order_by(Job.run_at).limit(1)
        if not self.db.is_sqlite:
            pick = pick.with_for_update(skip_locked=True)
        async with self.db.write() as s:
            await s.execute(
                update(Job)
                .where(expired, Job.attempts >= Job.max_attempts, *scope)
                .values(
                    state="dead",
                    finished_at=now,
                    claimed_until=None,
                    last_error="its runner was lost (lease expired) on the last attempt",
                )
            )
            row = (
                await s.execute(
                    update(Job)
                    .where(Job.id == pick.scalar_subquery())
                    .values(
                        state="running",
                        claimed_by=worker_id,
                        claimed_until=now + self.lease_ms,
                        attempts=Job.attempts + 1,
                        last_error=case(
                            (Job.state == "running", "taken over: its runner's lease expired"),
                            else_=Job.last_error,
                        ),
                    )
                    .returning(
                        Job.id, Job.kind, Job.payload, Job.attempts, Job.max_attempts, Job.lane
                    )
                )
            ).first()
        if row is None:
            return None
        job_id, kind, payload, attempts, max_attempts, job_lane = row
        return ClaimedJob(job_id, kind, payload, attempts, max_attempts, worker_id, job_lane)

    def _mine(self, job: ClaimedJob) -> Any:
        return and_(Job.id == job.id, Job.state == "running", Job.claimed_by == job.claimed_by)

    async def heartbeat(self, job: ClaimedJob) -> bool:
        """Extend the lease of a job in hand; False when it is no longer ours (taken over
        after our lease passed, or revived by hand): its runner should stop it."""
        async with self.db.write() as s:
            result = await s.execute(
                update(Job).where(self._mine(job)).values(claimed_until=now_ms() + self.lease_ms)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]  # rowcount: a DML result is a CursorResult

    async def finish(self, job: ClaimedJob) -> bool:
        """Mark done; False (and nothing changed) when the job is no longer ours."""
        async with self.db.write() as s:
            result = await s.execute(
                update(Job)
                .where(self._mine(job))
                .values(state="done", finished_at=now_ms(), claimed_until=None, last_error=None)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]  # rowcount: a DML result is a CursorResult

    async def fail(self, job: ClaimedJob, error: str, *, retry: bool = True) -> str | None:
        """Record a failed attempt: queued again after a backoff, or dead after the last
        attempt (``retry=False``: dead now). The state it went to; None when not ours."""
        values: dict[str, Any] = {"last_error": error[:4000], "claimed_until": None}
        if job.attempts >= job.max_attempts or not retry:
            values.update(state="dead", finished_at=now_ms())
        else:
            values.update(state="queued", run_at=now_ms() + int(backoff_s(job.attempts) * 1000))
        async with self.db.write() as s:
            result = await s.execute(update(Job).where(self._mine(job)).values(**values))
            return str(values["state"]) if result.rowcount else None  # type: ignore[attr-defined]  # rowcount: a DML result is a CursorResult

    async def release(self, job: ClaimedJob, error: str) -> None:
        """Give a job back unfinished (shutdown): queued again now, the attempt not counted."""
        async with self.db.write() as s:
            await s.execute(
                update(Job)
                .where(self._mine(job))
                .values(
                    state="queued",
                    run_at=now_ms(),
                    claimed_until=None,
                    attempts=Job.attempts - 1,
                    last_error=error[:4000],
                )
            )

    async def enqueue(
        self,
        kind: JobKind[P],
        payload: P,
        *,
        delay_s: float = 0,
        dedupe_key: str | None = None,
    ) -> bool:
        async with self.db.write() as s:
            return await enqueue(s, kind, payload, delay_s=delay_s, dedupe_key=dedupe_key)

    async def list(
        self, *, state: str | None = None, kind: str | None = None, limit: int = 50
    ) -> list[JobRow]:
        """The newest jobs first (by id), optionally of one state and/or kind."""
        if state is not None and state not in STATES:
            raise ValueError(f"unknown state {state!r}: one of {', '.join(STATES)}")
        stmt = select(Job).order_by(Job.id.desc()).limit(limit)
        if state is not None:
            stmt = stmt.where(Job.state == state)
        if kind is not None:
            stmt = stmt.where(Job.kind == kind)
        async with self.db.read() as s:
            return [
                JobRow(
                    j.id,
                    j.kind,
                    j.lane,
                    j.state,
                    j.attempts,
                    j.max_attempts,
                    j.run_at,
                    j.finished_at,
                    j.claimed_by,
                    j.last_error,
                    dict(j.payload or {}),
                )
                for j in (await s.execute(stmt)).scalars()
            ]

    async def retry(self, job_id: int) -> None:
        """Put a dead (or waiting) job back in the queue, due now, its attempts reset.
        Raises JobNotFound, or JobNotRetryable for a running or done job."""
        async with self.db.write() as s:
            job = (await s.execute(select(Job).where(Job.id == job_id))).scalar_one_or_none()
            if job is None:
                raise JobNotFound(f"no job {job_id}")
            if job.state not in ("dead", "queued"):
                raise JobNotRetryable(job_id, job.state)
            job.state = "queued"
            job.attempts = 0
            job.run_at = now_ms()
            job.finished_at = None
            job.claimed_by = None
            job.claimed_until = None

    async def prune(self, older_than_ms: int) -> int:
        """Forget finished jobs (dead ones stay for inspection)."""
        async with self.db.write() as s:
            result = await s.execute(
                delete(Job).where(Job.state == "done", Job.finished_at < now_ms() - older_than_ms)
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]  # rowcount: a DML result is a CursorResult

    async def counts(self) -> dict[str, int]:
        async with self.db.read() as s:
            rows = await s.execute(text("SELECT state, count(*) FROM jobs GROUP BY state"))
            return {state: int(n) for state, n in rows}
