"""Which requests go through the configured HTTP(S) proxy.

``NO_PROXY`` is a comma-separated list (curl's and Go's reading):

* ``*`` alone: no request uses the proxy;
* ``example.com``, ``.example.com`` or ``*.example.com``: that host and every host below it;
* ``host:port``: the same, on that port only;
* an IP address or a CIDR range (``10.0.0.0/8``): URLs whose host is an IP literal inside it.
  Host names are not resolved to match a CIDR entry (the proxy may be the only one that can
  resolve them).

Matching is case-insensitive and ignores a trailing dot.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from berth.outbound.guard import IPAddress, IPNetwork, normalize_host, parse_ip


@dataclass(frozen=True)
class _Entry:
    domain: str | None = None
    network: IPNetwork | None = None
    port: int | None = None


def _split_port(text: str) -> tuple[str, int | None]:
    if text.startswith("["):  # [v6]:port
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":")
        return host, int(port) if port.isdigit() else None
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        if port.isdigit():
            return host, int(port)
    return text, None


def _within(address: IPAddress, network: IPNetwork) -> bool:
    return address.version == network.version and address in network


class NoProxy:
    """A parsed ``NO_PROXY`` list; ``bypasses(host, port)`` says whether to go direct."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.everything = False
        self._entries: list[_Entry] = []
        for raw in entries:
            text = raw.strip().lower()
            if not text:
                continue
            if text == "*":
                self.everything = True
                continue
            if "/" in text:
                try:
                    self._entries.append(_Entry(network=ipaddress.ip_network(text, strict=False)))
                    continue
                except ValueError:
                    pass
            host, port = _split_port(text)
            address = parse_ip(host)
            if address is not None:
                self._entries.append(_Entry(network=ipaddress.ip_network(address), port=port))
            else:
                domain = normalize_host(host).removeprefix("*").removeprefix(".")
                if domain:
                    self._entries.append(_Entry(domain=domain, port=port))

    def bypasses(self, host: str, port: int | None) -> bool:
        if self.everything:
            return True
        name = normalize_host(host)
        address = parse_ip(name)
        for entry in self._entries:
            if entry.port is not None and entry.port != port:
                continue
            if entry.network is not None:
                if address is not None and _within(address, entry.network):
                    return True
            elif (
                entry.domain is not None
                and address is None
                and (name == entry.domain or name.endswith("." + entry.domain))
            ):
                return True
        return False


def split_no_proxy(value: str | None) -> tuple[str, ...]:
    """``"a, .b,10.0.0.0/8"`` -> ``("a", ".b", "10.0.0.0/8")``."""
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())
