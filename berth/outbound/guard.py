"""The SSRF address policy: which destinations an outbound request may reach.

Checked on every address a host name resolves to, after resolution (``backend.py`` then
connects to exactly the checked address, so DNS cannot change the answer in between).

Three classes of destination:

* always refused, whatever ``SSRF_ALLOWED_HOSTS`` says: link-local addresses
  (169.254.0.0/16, fe80::/10), cloud metadata addresses (169.254.169.254, fd00:ec2::254,
  fd20:ce::254, 100.100.100.200, 168.63.129.16) and metadata host names
  (``metadata.google.internal``, ``metadata``, ...). An instance's credentials live there.
* refused unless allowed: loopback, private (RFC 1918, fc00::/7), carrier-grade NAT
  100.64.0.0/10, unspecified, multicast, broadcast and reserved, documentation and
  benchmarking ranges, and anything else ``ipaddress`` does not call global.
* allowed: public addresses.

IPv6 forms that carry an IPv4 address (IPv4-mapped ``::ffff:a.b.c.d``, IPv4-compatible
``::a.b.c.d``, NAT64 ``64:ff9b::/96``, 6to4 ``2002::/16``) are judged by that IPv4 address.

The allow list is Quay's ``SSRF_ALLOWED_HOSTS``. Each entry is one of:

* a host name, matched exactly and case-insensitively (a trailing dot is ignored): the host
  may resolve to any address that is not always refused;
* ``*.example.com``: any host name below ``example.com`` (not ``example.com`` itself), with
  the same effect as listing each such name;
* an IP address or a CIDR range (``10.20.0.0/16``, ``fd12::/48``): addresses inside it are
  allowed whatever host name led to them (an IPv4 entry also covers the IPv6 forms above).

The empty list (the default) allows public addresses only.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

from berth.outbound.errors import DestinationRefused, OutboundConfigError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _nets(*pairs: tuple[str, str]) -> tuple[tuple[IPNetwork, str], ...]:
    return tuple((ipaddress.ip_network(net), reason) for net, reason in pairs)


# Checked first, in order; the first match gives the reason.
_ALWAYS_REFUSED = _nets(
    ("169.254.169.254/32", "a cloud metadata address (AWS, GCP, Azure, OpenStack)"),
    ("fd00:ec2::254/128", "a cloud metadata address (AWS IPv6)"),
    ("fd20:ce::254/128", "a cloud metadata address (GCP IPv6)"),
    ("100.100.100.200/32", "a cloud metadata address (Alibaba Cloud)"),
    ("168.63.129.16/32", "a cloud platform address (Azure WireServer)"),
    ("169.254.0.0/16", "a link-local address"),
    ("fe80::/10", "a link-local address"),
)

_REFUSED_UNLESS_ALLOWED = _nets(
    ("127.0.0.0/8", "a loopback address"),
    ("::1/128", "a loopback address"),
    ("0.0.0.0/8", "an unspecified ('this network') address"),
    ("::/128", "an unspecified address"),
    ("10.0.0.0/8", "a private address"),
    ("172.16.0.0/12", "a private address"),
    ("192.168.0.0/16", "a private address"),
    ("fc00::/7", "a private (unique local) address"),
    ("100.64.0.0/10", "a carrier-grade NAT (shared) address"),
    ("224.0.0.0/4", "a multicast address"),
    ("ff00::/8", "a multicast address"),
    ("255.255.255.255/32", "the broadcast address"),
    ("240.0.0.0/4", "a reserved address"),
    ("192.0.2.0/24", "a documentation address"),
    ("198.51.100.0/24", "a documentation address"),
    ("203.0.113.0/24", "a documentation address"),
    ("2001:db8::/32", "a documentation address"),
    ("198.18.0.0/15", "a benchmarking address"),
    ("192.0.0.0/24", "an IETF protocol assignment address"),
    ("fec0::/10", "a site-local address"),
)

METADATA_HOST_NAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "instance-data",
        "instance-data.ec2.internal",
    }
)

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")


def normalize_host(host: str) -> str:
    """Lower case, without a trailing dot or IPv6 brackets."""
    host = host.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host.removesuffix(".")


def parse_ip(text: str) -> IPAddress | None:
    """The address ``text`` spells in standard notation, or None (a host name)."""
    try:
        return ipaddress.ip_address(normalize_host(text))
    except ValueError:
        return None


def unwrap(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 address carries (mapped, compatible, NAT64, 6to4), or itself."""
    if isinstance(address, ipaddress.IPv4Address):
        return address
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    value = int(address)
    if address in _NAT64 or (value >> 32 == 0 and value > 1):
        # NAT64 and the deprecated IPv4-compatible form (::a.b.c.d; :: and ::1 excluded).
        return ipaddress.IPv4Address(value & 0xFFFFFFFF)
    return address


def _is_host_name(text: str) -> bool:
    if not text or len(text) > 253:
        return False
    labels = text.split(".")
    if not all(_LABEL.match(label) for label in labels):
        return False
    # An all-numeric last label is an IP address gone wrong (``10.0.0.300``), not a name.
    return not labels[-1].isdigit()


@dataclass(frozen=True)
class AllowList:
    """Parsed ``SSRF_ALLOWED_HOSTS``; build it with :meth:`parse`."""

    hosts: frozenset[str] = frozenset()
    suffixes: tuple[str, ...] = ()  # ".example.com" for "*.example.com"
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> AllowList:
        """Parse entries; an entry that is neither a host name, an IP nor a CIDR range raises
        ``OutboundConfigError`` naming it."""
        hosts: set[str] = set()
        suffixes: list[str] = []
        networks: list[IPNetwork] = []
        for entry in entries:
            kind, value = parse_allow_entry(entry)
            if kind == "host":
                hosts.add(str(value))
            elif kind == "suffix":
                suffixes.append(str(value))
            else:
                assert not isinstance(value, str)
                networks.append(value)
        return cls(frozenset(hosts), tuple(suffixes), tuple(networks))

    def allows_host(self, host: str) -> bool:
        host = normalize_host(host)
        return host in self.hosts or any(host.endswith(s) for s in self.suffixes)

    def allows_address(self, address: IPAddress) -> bool:
        candidates = {address, unwrap(address)}
        return any(
            a in net for a in candidates for net in self.networks if a.version == net.version
        )


def parse_allow_entry(entry: str) -> tuple[str, str | IPNetwork]:
    """One ``SSRF_ALLOWED_HOSTS`` entry as ``("host", name)``, ``("suffix", ".domain")`` or
    ``("network", ip_network)``; raises ``OutboundConfigError`` naming a bad entry."""
    if not isinstance(entry, str):
        raise OutboundConfigError(f"SSRF_ALLOWED_HOSTS entry {entry!r} is not a string")
    text = entry.strip()
    if "/" in text:
        try:
            return "network", ipaddress.ip_network(text, strict=False)
        except ValueError:
            pass
    else:
        address = parse_ip(text)
        if address is not None:
            return "network", ipaddress.ip_network(address)
        name = normalize_host(text)
        if name.startswith("*.") and _is_host_name(name[2:]):
            return "suffix", name[1:]
        if _is_host_name(name):
            return "host", name
    raise OutboundConfigError(
        f"SSRF_ALLOWED_HOSTS entry {entry!r} is not a host name (registry.lab.internal, "
        "*.lab.internal), an IP address (10.20.0.5) or a CIDR range (10.20.0.0/16); "
        "leave out the scheme, port and path"
    )


def classify(address: IPAddress) -> tuple[str, bool] | None:
    """Why ``address`` is not a plain public destination: ``(reason, always_refused)``,
    or None for a public address."""
    effective = unwrap(address)
    note = f" (IPv4 {effective} in IPv6 form)" if effective != address else ""
    for table, always in ((_ALWAYS_REFUSED, True), (_REFUSED_UNLESS_ALLOWED, False)):
        for net, reason in table:
            if effective.version == net.version and effective in net:
                return reason + note, always
    if not effective.is_global:
        return "not a globally routable address" + note, False
    return None


@dataclass(frozen=True)
class AddressPolicy:
    """Decides, for a host name and each address it resolved to, whether to connect."""

    allowed: AllowList = AllowList()

    def check_host_name(self, host: str) -> None:
        """Refuse host names that are never allowed (cloud metadata), before resolving."""
        name = normalize_host(host)
        if name in METADATA_HOST_NAMES:
            raise DestinationRefused(host, None, "a cloud metadata host name", always=True)

    def check(self, host: str, address: str) -> None:
        """Raise ``DestinationRefused`` unless ``host`` may be reached at ``address``."""
        self.check_host_name(host)
        ip = parse_ip(address)
        if ip is None:
            raise DestinationRefused(host, address, "not an IP address", always=True)
        verdict = classify(ip)
        if verdict is None:
            return
        reason, always = verdict
        if always:
            raise DestinationRefused(host, str(ip), reason, always=True)
        if self.allowed.allows_host(host) or self.allowed.allows_address(ip):
            return
        raise DestinationRefused(host, str(ip), reason, always=False)

    def check_all(self, host: str, addresses: Iterable[str]) -> None:
        """Check every address; one refused address refuses the host (a name that resolves
        to both a public and a private address is not trusted with either)."""
        for address in addresses:
            self.check(host, address)
