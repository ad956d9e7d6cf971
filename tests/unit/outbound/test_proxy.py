"""Real traffic through a tiny loopback forward/CONNECT proxy, NO_PROXY, and the guard."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from berth.outbound import DestinationRefused, OutboundClient, build_outbound_settings
from tests.support.tls import ThrowawayCA
from tests.unit.outbound.conftest import StartOrigin
from tests.unit.outbound.loopback import Proxy


async def public_names(host: str, port: int) -> Sequence[str]:
    """What the guard sees for ``*.example.test``: a public address. Only the proxy
    connects (the test proxy sends everything to 127.0.0.1)."""
    return ["93.184.216.34"]


async def test_http_goes_through_the_forward_proxy(start_origin: StartOrigin, proxy: Proxy) -> None:
    origin = await start_origin()
    settings = build_outbound_settings(proxy_env={"HTTP_PROXY": f"http://127.0.0.1:{proxy.port}"})
    async with OutboundClient(settings, resolver=public_names) as client:
        response = await client.get(f"http://upstream.example.test:{origin.port}/v2/")
    assert response.status_code == 200
    assert proxy.request_lines == [f"GET http://upstream.example.test:{origin.port}/v2/ HTTP/1.1"]
    assert origin.requests[0].headers["host"] == f"upstream.example.test:{origin.port}"


async def test_https_is_tunnelled_with_connect_and_verified_by_name(
    start_origin: StartOrigin, proxy: Proxy, ca: ThrowawayCA
) -> None:
    origin = await start_origin(tls=ca.issue("upstream.example.test"))
    settings = build_outbound_settings(
        proxy_env={"https_proxy": f"127.0.0.1:{proxy.port}"}, extra_ca_paths=[ca.pem]
    )
    async with OutboundClient(settings, resolver=public_names) as client:
        response = await client.get(f"https://upstream.example.test:{origin.port}/v2/")
    assert response.status_code == 200
    assert proxy.request_lines == [f"CONNECT upstream.example.test:{origin.port} HTTP/1.1"]
    assert origin.server_names == ["upstream.example.test"]


async def test_a_refused_destination_never_reaches_the_proxy(
    start_origin: StartOrigin, proxy: Proxy
) -> None:
    origin = await start_origin()
    settings = build_outbound_settings(proxy_env={"HTTP_PROXY": f"http://127.0.0.1:{proxy.port}"})
    async with OutboundClient(settings) as client:
        with pytest.raises(DestinationRefused, match="loopback"):
            await client.get(f"http://127.0.0.1:{origin.port}/")
        with pytest.raises(DestinationRefused, match="loopback"):
            await client.get(f"http://localhost:{origin.port}/")
    assert proxy.connections == 0
    assert origin.connections == 0


async def test_no_proxy_goes_direct_and_is_still_guarded(
    start_origin: StartOrigin, proxy: Proxy
) -> None:
    origin = await start_origin()
    env = {"HTTP_PROXY": f"http://127.0.0.1:{proxy.port}", "NO_PROXY": "localhost,127.0.0.0/8"}
    allowed = build_outbound_settings(allowed_hosts=["127.0.0.1"], proxy_env=env)
    async with OutboundClient(allowed) as client:
        assert (await client.get(f"http://127.0.0.1:{origin.port}/")).status_code == 200
    assert origin.requests[0].target == "/"
    refused = build_outbound_settings(proxy_env=env)
    async with OutboundClient(refused) as client:
        with pytest.raises(DestinationRefused):
            await client.get(f"http://localhost:{origin.port}/")
    assert proxy.connections == 0
    assert origin.connections == 1


async def test_no_proxy_star_turns_the_proxy_off(start_origin: StartOrigin, proxy: Proxy) -> None:
    origin = await start_origin()
    env = {"http_proxy": f"http://127.0.0.1:{proxy.port}", "no_proxy": "*"}
    settings = build_outbound_settings(allowed_hosts=["127.0.0.1"], proxy_env=env)
    async with OutboundClient(settings) as client:
        assert (await client.get(f"http://127.0.0.1:{origin.port}/")).status_code == 200
    assert proxy.connections == 0
