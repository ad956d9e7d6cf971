"""The job lanes migration keeps the rows of a database written before it: they are long
work, and jobs that had used up their attempts (``failed``) are ``dead``."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from berth.db.session import one_shot_engine
from berth.schema.migrate import upgrade


async def test_existing_jobs_get_the_long_lane_and_failed_ones_are_dead(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    await upgrade(url, "0001", from_models=False)
    engine = one_shot_engine(url)
    try:
        async with engine.begin() as conn:
            for kind, state in (("collect_garbage", "queued"), ("delete_repository", "failed")):
                await conn.execute(
                    text(
                        "INSERT INTO jobs (kind, payload, state, run_at, attempts, max_attempts,"
                        " created_at) VALUES (:k, '{}', :s, 0, 0, 5, 0)"
                    ),
                    {"k": kind, "s": state},
                )
        await upgrade(url, from_models=False)
        async with engine.connect() as conn:
            rows = (
                await conn.execute(text("SELECT kind, lane, state FROM jobs ORDER BY id"))
            ).all()
    finally:
        await engine.dispose()
    assert [tuple(r) for r in rows] == [
        ("collect_garbage", "long", "queued"),
        ("delete_repository", "long", "dead"),
    ]
