"""SQLite units of work run inline on the event loop: results, locking and fairness."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select, text

from berth.db.session import Database

metadata = MetaData()
items = Table(
    "items", metadata, Column("id", Integer, primary_key=True), Column("name", String(50))
)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'test.db'}")
    async with database.write_engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield database
    await database.dispose()


async def test_core_insert_returning_and_reads_through_sessions(db: Database) -> None:
    async with db.write() as s:
        new_id = (await s.execute(insert(items).returning(items.c.id), {"name": "a"})).scalar_one()
        await s.execute(insert(items), [{"name": "b"}, {"name": "c"}])
    async with db.read() as s:
        names = list((await s.execute(select(items.c.name).order_by(items.c.id))).scalars())
        mode = (await s.execute(text("PRAGMA journal_mode"))).scalar()
    assert new_id == 1
    assert names == ["a", "b", "c"]
    assert mode == "wal"


async def _insert_then_fail(db: Database) -> None:
    async with db.write() as s:
        await s.execute(insert(items), {"name": "gone"})
        raise RuntimeError("boom")


async def test_a_failed_unit_of_work_changes_nothing(db: Database) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        await _insert_then_fail(db)
    async with db.read() as s:
        assert (await s.execute(select(func.count()).select_from(items))).scalar() == 0


async def test_concurrent_writers_queue_and_lose_nothing(db: Database) -> None:
    async def writer(n: int) -> None:
        for i in range(20):
            async with db.write() as s:
                count = (await s.execute(select(func.count()).select_from(items))).scalar()
                await asyncio.sleep(0)  # another writer would interleave here if it could
                await s.execute(insert(items), {"name": f"{n}-{i}-{count}"})

    await asyncio.gather(*(writer(n) for n in range(4)))
    async with db.read() as s:
        names = list((await s.execute(select(items.c.name).order_by(items.c.id))).scalars())
    # Each writer saw exactly the rows committed before it: the counts run 0..79 in order.
    assert [int(name.rsplit("-", 1)[1]) for name in names] == list(range(80))


async def test_a_long_unit_of_work_lets_other_tasks_run(db: Database) -> None:
    ticks = 0
    stop = False

    async def ticker() -> None:
        nonlocal ticks
        while not stop:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    before = ticks
    t0 = time.monotonic()
    async with db.write() as s:
        while time.monotonic() - t0 < 0.05:  # 50 ms of statements, never awaiting anything
            await s.execute(insert(items), {"name": "x"})
    during = ticks - before
    stop = True
    await task
    assert during >= 5, "the loop got a turn every few milliseconds of statements"
