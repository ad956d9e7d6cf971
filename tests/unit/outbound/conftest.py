from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from tests.support.tls import ThrowawayCA
from tests.unit.outbound.loopback import Origin, Proxy, Reply

StartOrigin = Callable[..., Awaitable[Origin]]


@pytest.fixture
async def start_origin() -> AsyncIterator[StartOrigin]:
    """``await start_origin(*replies, tls=ssl_context_or_None)``: an origin on 127.0.0.1."""
    started: list[Origin | Proxy] = []

    async def start(*replies: Reply, tls: tuple[Path, Path] | None = None) -> Origin:
        origin = Origin(*replies)
        context: ssl.SSLContext | None = origin.tls_context(*tls) if tls else None
        await origin.start(context)
        started.append(origin)
        return origin

    yield start
    for server in started:
        await server.stop()


@pytest.fixture
async def proxy() -> AsyncIterator[Proxy]:
    server = Proxy()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def ca(tmp_path: Path) -> ThrowawayCA:
    return ThrowawayCA.create(tmp_path / "ca")
