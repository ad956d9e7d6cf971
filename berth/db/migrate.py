"""Schema migrations (Alembic), callable from the CLI, the server start and tests."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from berth.db.session import one_shot_engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


async def upgrade(url: str, revision: str = "head") -> None:
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
