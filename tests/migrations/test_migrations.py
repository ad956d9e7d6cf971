"""Migrations build the schema from empty, and the models don't drift from them."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from berth.db.session import one_shot_engine
from berth.schema.migrate import current_revision, upgrade
from berth.schema.models import metadata
from tests.support.postgres import create_database


async def _drift(url: str) -> list:
    engine = one_shot_engine(url)
    try:
        async with engine.connect() as conn:

            def diff(sync_conn):  # type: ignore[no-untyped-def]
                ctx = MigrationContext.configure(sync_conn, opts={"compare_type": True})
                return compare_metadata(ctx, metadata)

            return await conn.run_sync(diff)
    finally:
        await engine.dispose()


async def _check(url: str, *, from_models: bool) -> None:
    assert await current_revision(url) is None
    await upgrade(url, from_models=from_models)
    head = await current_revision(url)
    assert head is not None
    await upgrade(url, from_models=from_models)  # idempotent
    assert await current_revision(url) == head
    assert await _drift(url) == []


@pytest.mark.parametrize("from_models", [False, True], ids=["migrations", "from-models"])
async def test_sqlite_from_empty_without_drift(tmp_path: Path, from_models: bool) -> None:
    """Both ways to an empty database's head schema (the migration steps, and the models
    plus a stamp, which first starts use) give the models' schema at the head revision."""
    await _check(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}", from_models=from_models)


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.parametrize("from_models", [False, True], ids=["migrations", "from-models"])
async def test_postgres_from_empty_without_drift(postgres_url: str, from_models: bool) -> None:
    url = create_database(postgres_url, f"migrations_check_{int(from_models)}")
    await _check(url.replace("postgresql://", "postgresql+asyncpg://"), from_models=from_models)


def test_head_revision_read_from_files_matches_alembic() -> None:
    from alembic.script import ScriptDirectory

    from berth.schema.migrate import alembic_config, head_revision

    script = ScriptDirectory.from_config(alembic_config("sqlite+aiosqlite:///unused.db"))
    assert script.get_heads() == [head_revision()]
