"""A jobs table on a real database: a SQLite file, and PostgreSQL (slow) for the queue."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from berth.db.session import Database
from berth.jobs import JobKind, JobQueue, Lane, NoPayload
from berth.schema.migrate import upgrade
from tests.support.postgres import create_database

_n = itertools.count()


@dataclass(frozen=True)
class Greet:
    name: str


GREET = JobKind("test_greet", Greet, lane=Lane.QUICK)
BOOM = JobKind("test_boom", NoPayload, lane=Lane.LONG, max_attempts=2)
SLOW = JobKind("test_slow", NoPayload, lane=Lane.LONG)
PING = JobKind("test_ping", NoPayload, lane=Lane.QUICK)

LEASE_S = 0.3


@pytest.fixture
async def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'jobs.db'}"
    await upgrade(url)
    return url


@pytest.fixture(
    params=["sqlite", pytest.param("postgres", marks=[pytest.mark.slow, pytest.mark.postgres])]
)
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'jobs.db'}"
    else:
        pg = request.getfixturevalue("postgres_url")
        url = create_database(pg, f"jobs_{next(_n)}").replace(
            "postgresql://", "postgresql+asyncpg://"
        )
    await upgrade(url)
    return url


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    yield database
    await database.dispose()


@pytest.fixture
async def queue(db: Database) -> JobQueue:
    return JobQueue(db, lease_s=LEASE_S)
