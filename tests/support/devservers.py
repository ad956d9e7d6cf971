"""Run a ``devservers`` server for the length of a ``with`` block, failing the test
(with the server's reason) when it cannot start."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

import pytest

from devservers import DevServerError


class Server(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...


@contextmanager
def running(server: Server) -> Iterator[None]:
    try:
        try:
            server.start()
        except DevServerError as e:
            pytest.fail(str(e), pytrace=False)
        yield
    finally:
        server.stop()
