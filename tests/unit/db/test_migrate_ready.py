"""``sqlite_ready``: a restart's check, with the standard library alone."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from pathlib import Path

from berth.db.session import Database
from berth.identity.accounts import AccountService
from berth.schema import migrate


async def _create_user(url: str) -> None:
    db = Database(url)
    try:
        await AccountService(db).create_user("alice", "alice-password")
    finally:
        await db.dispose()


def test_ready_only_at_head_with_a_user(tmp_path: Path) -> None:
    path = tmp_path / "berth.db"
    url = f"sqlite+aiosqlite:///{path}"
    assert not migrate.sqlite_ready(url)  # no file (and none is created)
    assert not path.exists()

    asyncio.run(migrate.upgrade(url))
    assert not migrate.sqlite_ready(url)  # schema at head, no user yet

    asyncio.run(_create_user(url))
    assert migrate.sqlite_ready(url)

    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'older'")
    assert not migrate.sqlite_ready(url)


def test_the_check_does_not_import_sqlalchemy(tmp_path: Path) -> None:
    probe = (
        "import sys; from berth.schema import migrate; "
        f"migrate.sqlite_ready('sqlite:///{tmp_path / 'x.db'}'); "
        "print('sqlalchemy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr
