"""Fast units run the services' own Core statements on the raw driver (sqlite3, asyncpg) with
SQLAlchemy's meaning: the same rows, the same bind/result processing, all-or-nothing
commits, the same locking. Every behaviour test runs on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)

from berth.db.fast import AsyncpgFastUnit, FastStatementError, FastUnit
from berth.db.session import Database
from tests.support.postgres import create_database

metadata = MetaData()
things = Table(
    "things",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(50), nullable=False),
    Column("flag", Boolean, nullable=False),
    Column("meta", JSON),
    Column("stamp", Integer, default=lambda: 7),
)
BY_NAMES = select(things.c.id, things.c.name).where(
    things.c.name.in_(bindparam("names", expanding=True))
)


@pytest.fixture(params=["sqlite", "postgresql"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'fast.db'}"
    else:
        name = f"fast_{request.node.name.split('[')[0][-40:]}_{id(tmp_path) % 10**6}"
        url = create_database(request.getfixturevalue("postgres_url"), name).replace(
            "postgresql://", "postgresql+asyncpg://"
        )
    database = Database(url)
    async with database.write_engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield database
    await database.dispose()


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'fast.db'}")
    async with database.write_engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield database
    await database.dispose()


def _row(name: str, **extra: object) -> dict[str, object]:
    return {"name": name, "flag": False, "meta": None, "stamp": 1, **extra}


async def test_fast_and_session_units_agree_on_every_result_shape(db: Database) -> None:
    async with db.write_fast() as s:
        assert isinstance(s, FastUnit)
        new_id = (
            await s.execute(
                insert(things).returning(things.c.id),
                _row("a", flag=True, meta={"k": ["v", 1]}),
            )
        ).scalar_one()
        await s.execute(insert(things), [_row("b"), _row("c")])
        moved = await s.execute(update(things).where(things.c.name == "c").values(stamp=9))
        assert moved.rowcount == 1
    assert new_id == 1
    statements = [
        select(things.c.name, things.c.flag, things.c.meta).order_by(things.c.id),
        select(func.count()).select_from(things),
        select(things.c.stamp).where(things.c.name == "c"),
    ]
    for stmt in statements:
        async with db.write_fast() as fast:
            got = (await fast.execute(stmt)).all()
        async with db.read() as session:
            want = [tuple(r) for r in (await session.execute(stmt)).all()]
        assert got == want, stmt
    async with db.write_fast() as fast:
        rows = (await fast.execute(select(things.c.flag, things.c.meta).limit(1))).one()
    # SQLAlchemy's result processors ran: a bool, a decoded JSON document.
    assert rows == (True, {"k": ["v", 1]})
    assert type(rows[0]) is bool


async def test_ad_hoc_statements_of_one_shape_bring_their_own_values(db: Database) -> None:
    async with db.write_fast() as s:
        await s.execute(insert(things), [_row(n) for n in "abcd"])
    async with db.read_fast() as s:
        for name in "abcd":  # a fresh statement object each time: the cached shape is reused
            found = (await s.execute(select(things.c.name).where(things.c.name == name))).scalar()
            assert found == name
        for names in (["a"], ["b", "c"], ["a", "b", "c", "d"]):
            got = sorted(n for _, n in await s.execute(BY_NAMES, {"names": names}))
            assert got == names
        assert (await s.execute(BY_NAMES, {"names": ["zz"]})).first() is None
        assert list((await s.execute(select(things.c.name).order_by("name"))).scalars()) == [
            "a",
            "b",
            "c",
            "d",
        ]


async def test_an_exception_rolls_the_whole_unit_back(db: Database) -> None:
    async def fail_half_way() -> None:
        async with db.write_fast() as s:
            await s.execute(insert(things), _row("doomed"))
            raise RuntimeError("half-way")

    with pytest.raises(RuntimeError):
        await fail_half_way()
    async with db.write_fast() as s:
        await s.execute(delete(things).where(things.c.name == "nothing"))
    async with db.read() as s:
        assert (await s.execute(select(func.count()).select_from(things))).scalar() == 0


async def test_statements_that_would_skip_sqlalchemy_work_are_refused(db: Database) -> None:
    async with db.write_fast() as s:
        with pytest.raises(FastStatementError, match="stamp"):
            # ``stamp`` has a Python-side default, which only SQLAlchemy's executor applies.
            await s.execute(insert(things), {"name": "x", "flag": False})
        with pytest.raises(FastStatementError, match="empty IN"):
            await s.execute(BY_NAMES, {"names": []})


async def test_fast_and_session_writers_of_one_process_take_turns(sqlite_db: Database) -> None:
    db = sqlite_db
    order: list[str] = []

    # A session unit takes the connection at its first statement; a fast unit on entry.
    async def fast(i: int) -> None:
        async with db.write_fast() as s:
            await s.execute(insert(things), _row(f"f{i}"))
            order.append(f"fast{i}+")
            await asyncio.sleep(0.01)  # hold the unit across a suspension
            order.append(f"fast{i}-")

    async def session(i: int) -> None:
        async with db.write() as s:
            await s.execute(insert(things), _row(f"s{i}"))
            order.append(f"sess{i}+")
            await asyncio.sleep(0.01)
            order.append(f"sess{i}-")

    await asyncio.gather(*(f(i) for i in range(3) for f in (fast, session)))
    # Units never interleave: every start is followed by its own end.
    assert all(order[i][:-1] == order[i + 1][:-1] for i in range(0, len(order), 2)), order
    async with db.read() as s:
        assert (await s.execute(select(func.count()).select_from(things))).scalar() == 6


async def test_memory_databases_fall_back_to_sessions() -> None:
    database = Database("sqlite:///:memory:")
    try:
        async with database.write_fast() as s:
            assert not isinstance(s, FastUnit)
    finally:
        await database.dispose()


async def test_two_databases_on_one_file_in_one_process_never_block_each_other(
    tmp_path: Path,
) -> None:
    """Two apps of one process on one file (a test's second configuration, or a CLI command
    run in-process) queue on the file lock; a writer never waits in SQLite's busy handler,
    which would block the event loop that the lock holder needs to finish."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    first, second = Database(url), Database(url)
    try:
        async with first.write_engine.begin() as conn:
            await conn.run_sync(metadata.create_all)

        async def writer(db: Database, tag: str, i: int) -> None:
            unit = db.write_fast() if i % 2 else db.write()
            async with unit as s:
                await s.execute(insert(things), _row(f"{tag}{i}"))
                await asyncio.sleep(0)  # let the others run while the unit is open

        await asyncio.wait_for(
            asyncio.gather(
                *(writer(db, t, i) for i in range(20) for db, t in ((first, "a"), (second, "b")))
            ),
            timeout=20,
        )
        async with second.read() as s:
            assert (await s.execute(select(func.count()).select_from(things))).scalar() == 40
    finally:
        await first.dispose()
        await second.dispose()


async def test_postgres_units_run_on_asyncpg_and_survive_closed_connections(
    postgres_url: str, tmp_path: Path
) -> None:
    """The server closing pooled connections (a restart, an administrator's
    ``pg_terminate_backend``) costs no request an error: checkout drops them."""
    url = create_database(postgres_url, f"fast_closed_{id(tmp_path) % 10**6}")
    database = Database(url.replace("postgresql://", "postgresql+asyncpg://"))
    try:
        async with database.write_engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        async with database.write_fast() as s:
            assert isinstance(s, AsyncpgFastUnit)
            await s.execute(insert(things), [_row("a"), _row("b")])
        async with database.read_fast() as s:
            assert isinstance(s, AsyncpgFastUnit)
            pid = (await s.execute(select(func.pg_backend_pid()))).scalar()
        admin = await asyncpg.connect(url)  # not one of the pool's: it would end itself
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid) is True
        finally:
            await admin.close()
        await asyncio.sleep(0.2)  # the loop sees the closed socket
        for _ in range(3):
            async with database.write_fast() as s:
                await s.execute(update(things).where(things.c.name == "a").values(stamp=5))
            async with database.read_fast() as s:
                names = sorted((await s.execute(select(things.c.name))).scalars())
            assert names == ["a", "b"]
    finally:
        await database.dispose()
