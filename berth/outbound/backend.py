"""The network backend that enforces the address policy at connect time.

httpcore opens every direct TCP connection through ``AsyncNetworkBackend.connect_tcp(host,
port)``. ``GuardedNetworkBackend`` resolves ``host`` once, checks every address with the
``AddressPolicy`` and connects to a checked address itself, so there is no second lookup an
attacker's DNS could answer differently (DNS rebinding). httpcore does TLS afterwards with
``server_hostname`` taken from the request URL (``httpcore/_async/connection.py``), so SNI and
the certificate's name check keep the host name while the socket goes to the IP; the Host
header comes from the URL too.

Resolution and every connection attempt share the request's connect timeout.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence

import httpcore

from berth.outbound.errors import DestinationRefused
from berth.outbound.guard import AddressPolicy, normalize_host, parse_ip

# (host, port) -> the host's addresses, in the order to try them.
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
SocketOption = (
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
)


async def system_resolver(host: str, port: int) -> list[str]:
    """The host's addresses from the system resolver (``getaddrinfo``), first answer first."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[str] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = str(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """Resolve, check every address, then connect to a checked address (never the name)."""

    def __init__(
        self,
        policy: AddressPolicy,
        *,
        resolver: Resolver | None = None,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self._policy = policy
        self._resolver = resolver or system_resolver
        self._inner = inner or httpcore.AnyIOBackend()

    async def resolve_checked(
        self, host: str, port: int, connect_timeout: float | None
    ) -> list[str]:
        """The addresses of ``host`` once all of them passed the policy; raises
        ``DestinationRefused``, or httpcore's ``ConnectError``/``ConnectTimeout`` when the
        name does not resolve in time."""
        name = normalize_host(host)
        self._policy.check_host_name(name)
        literal = parse_ip(name)
        if literal is not None:
            name = str(literal)
            addresses: Sequence[str] = [name]
        else:
            try:
                addresses = await asyncio.wait_for(self._resolver(name, port), connect_timeout)
            except TimeoutError:
                raise httpcore.ConnectTimeout(f"resolving {name} timed out") from None
            except OSError as exc:
                raise httpcore.ConnectError(f"cannot resolve host {name!r}: {exc}") from exc
            if not addresses:
                raise httpcore.ConnectError(f"cannot resolve host {name!r}: no address")
        checked = [str(parse_ip(a) or a) for a in addresses]
        self._policy.check_all(name, checked)
        return checked

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        deadline = None if timeout is None else time.monotonic() + timeout
        addresses = await self.resolve_checked(host, port, connect_timeout=timeout)
        last_error: Exception | None = None
        for address in addresses:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise httpcore.ConnectTimeout(f"connecting to {host} timed out")
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=remaining,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectTimeout:
                raise
            except httpcore.ConnectError as exc:
                last_error = exc
        assert last_error is not None
        raise last_error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise DestinationRefused(path, None, "a Unix socket", always=True)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
