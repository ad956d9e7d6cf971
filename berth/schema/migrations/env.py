"""Alembic environment: runs against the async engine given by ``berth db upgrade``."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from berth.db.session import one_shot_engine
from berth.schema.models import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _main() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url is not None  # berth.schema.migrate sets it
    engine = one_shot_engine(url)
    async with engine.connect() as conn:
        await conn.run_sync(_run)
        await conn.commit()
    await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `berth db upgrade`")
_connection = config.attributes.get("connection")
if _connection is None:
    asyncio.run(_main())
else:
    _run(_connection)
