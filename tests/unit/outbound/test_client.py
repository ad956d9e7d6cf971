"""OutboundClient against real servers on 127.0.0.1: the guard, retries, timeouts, redirects."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Sequence

import httpcore
import pytest

from berth.outbound import (
    DestinationRefused,
    InvalidDestination,
    OutboundClient,
    OutboundConnectionError,
    OutboundSettings,
    OutboundTimeout,
    RetryPolicy,
    Timeouts,
    build_outbound_settings,
)
from tests.unit.outbound.conftest import StartOrigin
from tests.unit.outbound.loopback import Reply

FAST_RETRY = RetryPolicy(max_retries=3, backoff=0.01, backoff_max=0.05, total=10)


def settings(*allowed: str, retry: RetryPolicy = FAST_RETRY, **kw: object) -> OutboundSettings:
    return build_outbound_settings(allowed_hosts=allowed, retry=retry, **kw)  # type: ignore[arg-type]


def fixed_resolver(table: dict[str, list[str]], calls: list[str] | None = None):
    async def resolve(host: str, port: int) -> Sequence[str]:
        if calls is not None:
            calls.append(host)
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return table[host]

    return resolve


class RecordingBackend(httpcore.AsyncNetworkBackend):
    """The socket layer under the guard: records where it is asked to connect; connects for
    real only to loopback, and fails any other address (tests stay on loopback)."""

    def __init__(self) -> None:
        self.hosts: list[str] = []
        self._real = httpcore.AnyIOBackend()

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):  # type: ignore[no-untyped-def]  # noqa: ASYNC109
        self.hosts.append(host)
        if host != "127.0.0.1":
            raise httpcore.ConnectError(f"{host} is unreachable in this test")
        return await self._real.connect_tcp(host, port, timeout=timeout)


async def test_loopback_is_refused_by_default_before_any_connection(
    start_origin: StartOrigin,
) -> None:
    origin = await start_origin()
    async with OutboundClient(settings()) as client:
        with pytest.raises(DestinationRefused) as caught:
            await client.get(f"http://127.0.0.1:{origin.port}/v2/")
    assert caught.value.address == "127.0.0.1"
    assert "loopback" in str(caught.value)
    assert "SSRF_ALLOWED_HOSTS" in str(caught.value)
    assert origin.connections == 0


async def test_loopback_goes_through_when_allowed(start_origin: StartOrigin) -> None:
    origin = await start_origin(Reply(body=b"hello"))
    async with OutboundClient(settings("127.0.0.1")) as client:
        response = await client.get(f"http://127.0.0.1:{origin.port}/v2/")
    assert (response.status_code, response.text) == (200, "hello")
    assert origin.requests[0].target == "/v2/"
    assert origin.requests[0].headers["user-agent"] == "Berth"


async def test_cidr_entry_allows_addresses_inside_it(start_origin: StartOrigin) -> None:
    origin = await start_origin()
    async with OutboundClient(settings("127.0.0.0/8")) as client:
        assert (await client.get(f"http://127.0.0.1:{origin.port}/")).status_code == 200
    async with OutboundClient(settings("10.0.0.0/8")) as client:
        with pytest.raises(DestinationRefused):
            await client.get(f"http://127.0.0.1:{origin.port}/")
    assert origin.connections == 1


async def test_a_name_that_resolves_to_loopback_is_refused(start_origin: StartOrigin) -> None:
    origin = await start_origin()
    async with OutboundClient(settings()) as client:
        with pytest.raises(DestinationRefused) as caught:
            await client.get(f"http://localhost:{origin.port}/")
    assert caught.value.host == "localhost"
    assert "'localhost'" in str(caught.value)
    assert origin.connections == 0
    async with OutboundClient(settings("localhost")) as client:
        assert (await client.get(f"http://localhost:{origin.port}/")).status_code == 200
    assert origin.requests[0].headers["host"] == f"localhost:{origin.port}"


@pytest.mark.parametrize("spelling", ["2130706433", "0x7f.0.0.1", "127.1", "[::ffff:127.0.0.1]"])
async def test_other_spellings_of_loopback_are_refused(
    start_origin: StartOrigin, spelling: str
) -> None:
    origin = await start_origin()
    async with OutboundClient(settings()) as client:
        with pytest.raises(DestinationRefused, match="loopback"):
            await client.get(f"http://{spelling}:{origin.port}/")
    assert origin.connections == 0


async def test_metadata_names_are_refused_without_resolving() -> None:
    calls: list[str] = []
    resolver = fixed_resolver({}, calls)
    async with OutboundClient(settings("metadata.google.internal"), resolver=resolver) as client:
        with pytest.raises(DestinationRefused, match="cannot be allowed"):
            await client.get("http://metadata.google.internal/computeMetadata/v1/")
    assert calls == []


async def test_connects_to_the_checked_address_and_keeps_the_name_in_host(
    start_origin: StartOrigin,
) -> None:
    origin = await start_origin()
    backend = RecordingBackend()
    resolver = fixed_resolver({"registry.lab.test": ["127.0.0.1"]})
    client = OutboundClient(
        settings("registry.lab.test"), resolver=resolver, network_backend=backend
    )
    async with client:
        response = await client.get(f"http://registry.lab.test:{origin.port}/v2/")
    assert response.status_code == 200
    assert backend.hosts == ["127.0.0.1"]
    assert origin.requests[0].headers["host"] == f"registry.lab.test:{origin.port}"


async def test_dns_rebinding_never_reaches_loopback(start_origin: StartOrigin) -> None:
    """The first answer is public (its connection fails), the retry's answer is loopback:
    the second answer is checked too, and nothing ever connects to 127.0.0.1."""
    origin = await start_origin()
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])

    async def rebinding(host: str, port: int) -> Sequence[str]:
        return next(answers)

    backend = RecordingBackend()
    async with OutboundClient(settings(), resolver=rebinding, network_backend=backend) as client:
        with pytest.raises(DestinationRefused, match=r"127\.0\.0\.1 is a loopback"):
            await client.get(f"http://rebind.test:{origin.port}/")
    assert backend.hosts == ["93.184.216.34"]
    assert origin.connections == 0


async def test_a_public_and_a_loopback_answer_together_are_refused(
    start_origin: StartOrigin,
) -> None:
    origin = await start_origin()

    async def mixed(host: str, port: int) -> Sequence[str]:
        return ["93.184.216.34", "127.0.0.1"]

    backend = RecordingBackend()
    async with OutboundClient(settings(), resolver=mixed, network_backend=backend) as client:
        with pytest.raises(DestinationRefused):
            await client.get(f"http://mixed.test:{origin.port}/")
    assert backend.hosts == []
    assert origin.connections == 0


async def test_unresolvable_host_is_a_connection_error() -> None:
    async with OutboundClient(settings(), resolver=fixed_resolver({})) as client:
        with pytest.raises(OutboundConnectionError, match=r"cannot resolve host 'nowhere\.test'"):
            await client.get("http://nowhere.test/", retry=False)


async def test_503_is_retried_until_success(start_origin: StartOrigin) -> None:
    origin = await start_origin(Reply(503), Reply(503), Reply(200, b"done"))
    async with OutboundClient(settings("127.0.0.1")) as client:
        response = await client.get(f"http://127.0.0.1:{origin.port}/")
    assert (response.status_code, response.text) == (200, "done")
    assert len(origin.requests) == 3


async def test_retries_are_bounded_and_the_last_response_is_returned(
    start_origin: StartOrigin,
) -> None:
    origin = await start_origin(Reply(502))
    retry = RetryPolicy(max_retries=2, backoff=0.01, backoff_max=0.01)
    async with OutboundClient(settings("127.0.0.1", retry=retry)) as client:
        response = await client.get(f"http://127.0.0.1:{origin.port}/")
    assert response.status_code == 502
    assert len(origin.requests) == 3


async def test_retry_budget_bounds_total_time(start_origin: StartOrigin) -> None:
    origin = await start_origin(Reply(503))
    retry = RetryPolicy(max_retries=10, backoff=0.2, backoff_max=0.2, total=0.5)
    async with OutboundClient(settings("127.0.0.1", retry=retry)) as client:
        started = time.monotonic()
        response = await client.get(f"http://127.0.0.1:{origin.port}/")
    assert response.status_code == 503
    assert time.monotonic() - started < 1.0
    assert 2 <= len(origin.requests) <= 5


async def test_retry_after_is_honoured(start_origin: StartOrigin) -> None:
    origin = await start_origin(Reply(429, headers={"Retry-After": "1"}), Reply(200))
    async with OutboundClient(settings("127.0.0.1")) as client:
        started = time.monotonic()
        response = await client.get(f"http://127.0.0.1:{origin.port}/")
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.9
    assert len(origin.requests) == 2


async def test_retry_after_above_the_cap_is_not_waited_for(start_origin: StartOrigin) -> None:
    origin = await start_origin(Reply(503, headers={"Retry-After": "3600"}), Reply(200))
    retry = RetryPolicy(backoff=0.01, retry_after_max=5)
    async with OutboundClient(settings("127.0.0.1", retry=retry)) as client:
        response = await client.get(f"http://127.0.0.1:{origin.port}/")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "3600"
    assert len(origin.requests) == 1


async def test_post_is_retried_only_when_asked(start_origin: StartOrigin) -> None:
    origin = await start_origin(Reply(503), Reply(200))
    async with OutboundClient(settings("127.0.0.1")) as client:
        url = f"http://127.0.0.1:{origin.port}/hook"
        assert (await client.post(url, json={"a": 1})).status_code == 503
        assert len(origin.requests) == 1
        origin.requests.clear()
        assert (await client.post(url, json={"a": 1}, retry=True)).status_code == 200
    assert [r.body for r in origin.requests] == [b'{"a":1}', b'{"a":1}']


async def test_connection_failures_are_retried_then_raised() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    calls: list[str] = []
    resolver = fixed_resolver({"down.test": ["127.0.0.1"]}, calls)
    async with OutboundClient(settings("down.test"), resolver=resolver) as client:
        with pytest.raises(OutboundConnectionError) as caught:
            await client.get(f"http://down.test:{port}/services/T0/B0/hook-token?sig=1")
    assert f"GET http://down.test:{port}" in str(caught.value)
    assert "token" not in str(caught.value)  # paths and queries can hold secrets
    assert "sig" not in str(caught.value)
    assert len(calls) == 1 + FAST_RETRY.max_retries


async def test_read_timeout_raises_the_typed_error(start_origin: StartOrigin) -> None:
    origin = await start_origin(Reply(hang=True))
    async with OutboundClient(settings("127.0.0.1")) as client:
        started = time.monotonic()
        with pytest.raises(OutboundTimeout) as caught:
            await client.get(
                f"http://127.0.0.1:{origin.port}/", timeout=Timeouts(read=0.2, connect=1)
            )
    assert caught.value.phase == "read"
    assert time.monotonic() - started < 2
    assert len(origin.requests) == 1  # a read timeout is not retried


async def test_connect_timeout_covers_resolution() -> None:
    async def slow(host: str, port: int) -> Sequence[str]:
        await asyncio.sleep(5)
        return ["93.184.216.34"]

    quick = build_outbound_settings(timeouts=Timeouts(connect=0.1))
    async with OutboundClient(quick, resolver=slow) as client:
        with pytest.raises(OutboundTimeout) as caught:
            await client.get("http://slow.test/", retry=False)
    assert caught.value.phase == "connect"


async def test_redirects_are_not_followed_by_default(start_origin: StartOrigin) -> None:
    moved = Reply(302, headers={"Location": "/elsewhere"})
    origin = await start_origin(moved, moved, Reply(200))
    async with OutboundClient(settings("127.0.0.1")) as client:
        response = await client.get(f"http://127.0.0.1:{origin.port}/")
        assert response.status_code == 302
        assert len(origin.requests) == 1
        followed = await client.get(f"http://127.0.0.1:{origin.port}/", follow_redirects=True)
    assert followed.status_code == 200
    assert origin.requests[-1].target == "/elsewhere"


async def test_each_redirect_hop_passes_the_guard(start_origin: StartOrigin) -> None:
    inner = await start_origin()
    outer = await start_origin(
        Reply(307, headers={"Location": f"http://internal.test:{inner.port}/secret"})
    )
    resolver = fixed_resolver({"public.test": ["127.0.0.1"], "internal.test": ["127.0.0.1"]})
    async with OutboundClient(settings("public.test"), resolver=resolver) as client:
        with pytest.raises(DestinationRefused) as caught:
            await client.get(f"http://public.test:{outer.port}/", follow_redirects=True)
    assert caught.value.host == "internal.test"
    assert inner.connections == 0


async def test_only_http_and_https() -> None:
    async with OutboundClient(settings()) as client:
        for url in ("ftp://example.com/x", "file:///etc/passwd", "/relative"):
            with pytest.raises(InvalidDestination):
                await client.get(url)


async def test_stream_hands_over_the_body(start_origin: StartOrigin) -> None:
    origin = await start_origin(Reply(body=b"x" * 100_000))
    url = f"http://127.0.0.1:{origin.port}/blob"
    async with (
        OutboundClient(settings("127.0.0.1")) as client,
        client.stream("GET", url) as response,
    ):
        size = sum([len(chunk) async for chunk in response.aiter_bytes()])
    assert size == 100_000
