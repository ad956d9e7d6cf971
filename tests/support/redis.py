"""A real, throwaway Redis for tests (``devservers.Redis`` as a generator).

Use it from a fixture::

    @pytest.fixture(scope="session")
    def redis_url(tmp_path_factory):
        yield from redis_server(tmp_path_factory)
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devservers import Redis
from tests.support.devservers import running


def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start ``redis-server`` on a free loopback port; yield ``redis://127.0.0.1:<port>/0``."""
    server = Redis(tmp_path_factory.mktemp("redis"))
    with running(server):
        yield server.url
