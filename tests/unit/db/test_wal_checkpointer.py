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


async def test_an_unchanged_wal_is_not_checkpointed_again(tmp_path, monkeypatch) -> None:
    path = tmp_path / "idle.db"
    db = Database(f"sqlite:///{path}")
    assert db._checkpointer is not None
    db._checkpointer.stop()
    try:
        await _fill(db, 80)  # > 1 MB of WAL
        checkpointer = WalCheckpointer(str(path), min_bytes=1 << 20)
        calls: list[int] = []
        real = checkpointer.checkpoint
        monkeypatch.setattr(checkpointer, "checkpoint", lambda: (calls.append(1), real())[1])
        checkpointer._checkpoint_if_due()
        checkpointer._checkpoint_if_due()  # nothing written since: the WAL keeps its size
        assert len(calls) == 1
        await asyncio.sleep(0.01)  # a later mtime for the write below
        await _fill(db, 1)
        checkpointer._checkpoint_if_due()
        assert len(calls) == 2
    finally:
        await db.dispose()
