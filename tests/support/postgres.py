"""A real, throwaway PostgreSQL for tests (``devservers.Postgres`` as a generator).

Use it from a fixture::

    @pytest.fixture(scope="session")
    def postgres_url(tmp_path_factory):
        yield from postgres_server(tmp_path_factory)

A missing binary or user fails the test with a message naming the install script: these
tests never skip silently.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from devservers import Postgres, create_database, pg_bindir
from tests.support.devservers import running

__all__ = ["create_database", "pg_bindir", "postgres_server"]


def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start PostgreSQL; yield ``postgresql://postgres@127.0.0.1:<port>/postgres``; stop it.

    The server's log is copied into a pytest temp directory (``postgres-log*``) when it
    stops, for post-mortems.
    """
    server = Postgres()
    with running(server):
        try:
            yield server.url
        finally:
            if server.log.exists():
                keep = tmp_path_factory.mktemp("postgres-log")
                shutil.copyfile(server.log, keep / "server.log")
