"""The throwaway PostgreSQL and Redis servers of tests/support (devservers) really run."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import asyncpg
import pytest

import devservers
from tests.support import postgres, redis


@pytest.fixture(scope="module")
def pg_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from postgres.postgres_server(tmp_path_factory)


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from redis.redis_server(tmp_path_factory)


@pytest.mark.slow
@pytest.mark.postgres
async def test_postgres_server_accepts_sql_and_creates_databases(pg_url: str) -> None:
    parts = urlsplit(pg_url)
    assert (parts.scheme, parts.username, parts.hostname, parts.path) == (
        "postgresql", "postgres", "127.0.0.1", "/postgres",
    )  # fmt: skip
    db_url = postgres.create_database(pg_url, "berth_support_test")
    assert db_url == pg_url.removesuffix("/postgres") + "/berth_support_test"

    conn = await asyncpg.connect(db_url)
    try:
        assert await conn.fetchval("SELECT current_database()") == "berth_support_test"
        assert await conn.fetchval("SHOW fsync") == "off"
        await conn.execute("CREATE TABLE t (x int)")
        await conn.execute("INSERT INTO t VALUES (42)")
        assert await conn.fetchval("SELECT x FROM t") == 42
    finally:
        await conn.close()

    with pytest.raises(RuntimeError, match="already exists"):
        postgres.create_database(pg_url, "berth_support_test")
    with pytest.raises(ValueError, match="must match"):
        postgres.create_database(pg_url, 'x"; DROP DATABASE postgres; --')


def test_missing_postgres_binaries_fail_naming_the_install_script(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BERTH_PG_BINDIR", "/nonexistent/bin")
    monkeypatch.setattr(devservers, "PG_VERSION", "0")
    with pytest.raises(devservers.DevServerError, match="scripts/install-test-deps"):
        devservers.pg_bindir()


@pytest.mark.slow
def test_redis_server_answers(redis_url: str) -> None:
    parts = urlsplit(redis_url)
    assert parts.hostname == "127.0.0.1"
    assert parts.port is not None
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as s:
        s.sendall(b"SET k berth\r\nGET k\r\n")
        reply = b""
        while not reply.endswith(b"berth\r\n"):
            chunk = s.recv(1024)
            assert chunk, f"connection closed after {reply!r}"
            reply += chunk
    assert reply == b"+OK\r\n$5\r\nberth\r\n"
