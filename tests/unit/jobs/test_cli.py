"""``berth jobs list`` and ``berth jobs retry`` on a data directory: a job that always
fails is dead after its attempts, the listing shows it with its error, retry revives it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import update

from berth.cli.main import main
from berth.config import load_settings
from berth.db.session import Database
from berth.jobs import JobQueue, JobRunner, NoPayload
from berth.jobs.models import Job
from tests.unit.jobs.conftest import BOOM


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def _run_jobs(url: str, *, fail: bool, passes: int) -> list[str]:
    """Run due ``test_boom`` jobs ``passes`` times (backoff skipped); the job states."""

    async def go() -> list[str]:
        db = Database(url)
        try:
            queue = JobQueue(db)

            async def boom(_payload: NoPayload) -> None:
                if fail:
                    raise ConnectionError("smtp.example.com refused the connection")

            runner = JobRunner(queue, [BOOM.bind(boom)])
            if await queue.counts() == {}:
                await queue.enqueue(BOOM, NoPayload())
            for _ in range(passes):
                async with db.write() as s:
                    await s.execute(update(Job).where(Job.state == "queued").values(run_at=0))
                await runner.run_once()
            return [r.state for r in await queue.list()]
        finally:
            await db.dispose()

    return asyncio.run(go())


def test_a_dead_job_is_listed_and_revived_by_retry(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    assert _invoke("db", "upgrade", "--data-dir", data)[0] == 0
    url = load_settings(None, data_dir=data, env={}).db_url

    assert _run_jobs(url, fail=True, passes=3) == ["dead"]  # max_attempts 2
    code, out = _invoke("jobs", "list", "--state", "dead", "--data-dir", data)
    assert code == 0, out
    assert "test_boom" in out
    assert "long" in out
    assert "2/2" in out
    assert "ConnectionError: smtp.example.com refused" in out
    code, out = _invoke("jobs", "list", "--state", "queued", "--data-dir", data)
    assert (code, out.strip()) == (0, "no jobs in state queued")
    code, out = _invoke("jobs", "list", "--state", "failed", "--data-dir", data)
    assert code == 2  # not a state

    code, out = _invoke("jobs", "retry", "1", "--data-dir", data)
    assert (code, out.strip()) == (0, "job 1 is queued again")
    code, out = _invoke("jobs", "list", "--data-dir", data)
    assert "queued" in out
    assert "0/2" in out

    assert _run_jobs(url, fail=False, passes=1) == ["done"]
    code, out = _invoke("jobs", "list", "--kind", "test_boom", "--data-dir", data)
    assert "done" in out
    assert "1/2" in out


def test_retry_refuses_an_unknown_or_finished_job(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    assert _invoke("db", "upgrade", "--data-dir", data)[0] == 0
    url = load_settings(None, data_dir=data, env={}).db_url
    code, out = _invoke("jobs", "retry", "42", "--data-dir", data)
    assert code == 1
    assert "there is no job 42" in out
    assert _run_jobs(url, fail=False, passes=1) == ["done"]
    code, out = _invoke("jobs", "retry", "1", "--data-dir", data)
    assert code == 1
    assert "job 1 is done: only dead or queued jobs can be retried" in out
