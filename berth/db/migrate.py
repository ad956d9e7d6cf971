"""Schema migrations (Alembic), callable from the CLI, the server start and tests.

Alembic is imported only when there is something to migrate: a server start on an
up-to-date database checks the revision with one query and moves on.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from berth.db.session import one_shot_engine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
_REVISION = re.compile(r"^revision\s*=\s*['\"]([^'\"]+)['\"]", re.M)
_DOWN = re.compile(r"^down_revision\s*=\s*(?:['\"]([^'\"]+)['\"]|None)", re.M)


@cache
def head_revision() -> str:
    """The newest revision, read from the migration files (the one no other revises)."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        text = path.read_text()
        rev = _REVISION.search(text)
        if rev:
            revisions.add(rev.group(1))
        down = _DOWN.search(text)
        if down and down.group(1):
            revised.add(down.group(1))
    heads = revisions - revised
    if len(heads) != 1:
        raise RuntimeError(f"migrations must have exactly one head, found {sorted(heads)}")
    return heads.pop()


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


async def upgrade(url: str, revision: str = "head") -> None:
    if revision == "head" and await current_revision(url) == head_revision():
        return
    from alembic import command

    engine: AsyncEngine = one_shot_engine(url)
    try:
        async with engine.connect() as conn:
            cfg = alembic_config(url)

            def _go(sync_conn: object) -> None:
                cfg.attributes["connection"] = sync_conn
                command.upgrade(cfg, revision)

            await conn.run_sync(_go)
            await conn.commit()
    finally:
        await engine.dispose()


async def current_revision(url: str) -> str | None:
    engine = one_shot_engine(url)
    try:
        async with engine.connect() as conn:

            def _rev(sync_conn: object) -> str | None:
                if "alembic_version" not in inspect(sync_conn).get_table_names():
                    return None
                return sync_conn.exec_driver_sql(  # type: ignore[attr-defined]
                    "SELECT version_num FROM alembic_version"
                ).scalar()

            return await conn.run_sync(_rev)
    finally:
        await engine.dispose()
