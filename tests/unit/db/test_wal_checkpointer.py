"""The WAL is checkpointed by a thread, never inside a request's commit."""

from __future__ import annotations

import asyncio
import os

from sqlalchemy import text

from berth.db.session import Database, WalCheckpointer


async def _fill(db: Database, rows: int) -> None:
    async with db.write() as s:
        await s.execute(text("CREATE TABLE IF NOT EXISTS filler (data BLOB)"))
    for _ in range(rows):
        async with db.write() as s:
            await s.execute(text("INSERT INTO filler VALUES (:d)"), {"d": os.urandom(16384)})


async def test_commits_leave_the_wal_to_the_checkpointer(tmp_path) -> None:
    path = tmp_path / "t.db"
    db = Database(f"sqlite:///{path}")
    assert db._checkpointer is not None
    db._checkpointer.stop()  # a stopped one: nothing may checkpoint now
    try:
        await _fill(db, 400)  # ~6.5 MB: SQLite's own autocheckpoint would have run
        wal = os.stat(f"{path}-wal").st_size
        assert wal > 6 << 20, wal
        checkpointer = WalCheckpointer(str(path), every_s=0.01, min_bytes=1 << 20)
        checkpointer.start()
        try:
            for _ in range(1000):  # until the rows reach the database file itself
                if os.stat(path).st_size > 6 << 20:
                    break
                await asyncio.sleep(0.01)
            assert os.stat(path).st_size > 6 << 20
        finally:
            checkpointer.stop()
        async with db.read() as s:
            assert (await s.execute(text("SELECT count(*) FROM filler"))).scalar() == 400
    finally:
        await db.dispose()
