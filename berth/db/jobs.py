"""The jobs queue: enqueue inside the caller's transaction, claim atomically, retry with backoff.

Claiming is one UPDATE ... RETURNING of the oldest due job: with ``FOR UPDATE SKIP LOCKED``
on PostgreSQL (replicas never wait on each other), and under SQLite's write lock
(``BEGIN IMMEDIATE``) in the embedded default. A claim is a lease: a job whose worker died
is claimed again once ``claimed_until`` passes. Jobs take ids, never ORM objects, and must
be idempotent, since a job may run again after a crash.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from berth.db.base import now_ms
from berth.db.jobs_model import Job
from berth.db.session import Database


@dataclass(frozen=True)
class ClaimedJob:
    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int


async def enqueue(
    s: AsyncSession,
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    delay_s: float = 0,
    dedupe_key: str | None = None,
    max_attempts: int = 5,
) -> bool:
    """Add a job in the caller's transaction; False when an equal job is already waiting."""
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
            kind=kind,
            payload=payload or {},
            run_at=now_ms() + int(delay_s * 1000),
            dedupe_key=dedupe_key,
            max_attempts=max_attempts,
            created_at=now_ms(),
        )
    )
    return True


def backoff_s(attempts: int) -> float:
    return float(min(2 ** max(attempts, 1), 600))


class JobQueue:
    def __init__(self, db: Database, *, lease_s: float = 300) -> None:
        self.db = db
        self.lease_ms = int(lease_s * 1000)

    async def claim(self, worker_id: str, kinds: list[str]) -> ClaimedJob | None:
        now = now_ms()
        due = or_(
            and_(Job.state == "queued", Job.run_at <= now),
            and_(Job.state == "running", Job.claimed_until < now),
        )
        pick = select(Job.id).where(due, Job.kind.in_(kinds)).order_by(Job.run_at).limit(1)
        if not self.db.is_sqlite:
            pick = pick.with_for_update(skip_locked=True)
        async with self.db.write() as s:
            row = (
                await s.execute(
                    update(Job)
                    .where(Job.id == pick.scalar_subquery())
                    .values(
                        state="running",
                        claimed_by=worker_id,
                        claimed_until=now + self.lease_ms,
                        attempts=Job.attempts + 1,
                    )
                    .returning(Job.id, Job.kind, Job.payload, Job.attempts, Job.max_attempts)
                )
            ).first()
        return ClaimedJob(*row) if row else None

    async def finish(self, job: ClaimedJob) -> None:
        async with self.db.write() as s:
            await s.execute(
                update(Job)
                .where(Job.id == job.id)
                .values(state="done", finished_at=now_ms(), claimed_until=None, last_error=None)
            )

    async def fail(self, job: ClaimedJob, error: str) -> None:
        final = job.attempts >= job.max_attempts
        values: dict[str, Any] = {"last_error": error[:4000], "claimed_until": None}
        if final:
            values.update(state="failed", finished_at=now_ms())
        else:
            values.update(state="queued", run_at=now_ms() + int(backoff_s(job.attempts) * 1000))
        async with self.db.write() as s:
            await s.execute(update(Job).where(Job.id == job.id).values(**values))

    async def enqueue(self, kind: str, payload: dict[str, Any] | None = None, **kw: Any) -> bool:
        async with self.db.write() as s:
            return await enqueue(s, kind, payload, **kw)

    async def prune(self, older_than_ms: int) -> int:
        """Forget finished jobs (failed ones stay for inspection)."""
        async with self.db.write() as s:
            result = await s.execute(
                delete(Job).where(Job.state == "done", Job.finished_at < now_ms() - older_than_ms)
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def counts(self) -> dict[str, int]:
        async with self.db.read() as s:
            rows = await s.execute(text("SELECT state, count(*) FROM jobs GROUP BY state"))
            return {state: int(n) for state, n in rows}
