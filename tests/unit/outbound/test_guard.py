"""The SSRF address policy as a table: (allow list, host, resolved address) -> verdict."""

from __future__ import annotations

import pytest

from berth.outbound import AddressPolicy, AllowList, DestinationRefused, OutboundConfigError
from berth.outbound.guard import parse_allow_entry

LAB = ["10.20.0.0/16", "registry.lab.internal", "*.mirror.test", "fd12:3456::/32", "127.0.0.1"]

# (allowed entries, host, address, expected): "ok", or a fragment of the refusal reason
# followed by "!" when no configuration may allow it.
CASES = [
    # public destinations need no entry
    ([], "quay.io", "34.224.1.1", "ok"),
    ([], "ghcr.io", "2606:50c0:8000::154", "ok"),
    ([], "8.8.8.8", "8.8.8.8", "ok"),
    # refused unless allowed, IPv4
    ([], "localhost", "127.0.0.1", "loopback"),
    ([], "127.1.2.3", "127.1.2.3", "loopback"),
    ([], "git.corp", "10.0.0.5", "private"),
    ([], "x", "172.16.9.9", "private"),
    ([], "x", "172.31.255.255", "private"),
    ([], "x", "192.168.1.1", "private"),
    ([], "x", "100.64.0.1", "carrier-grade NAT"),
    ([], "x", "0.0.0.0", "unspecified"),  # noqa: S104 (an address to refuse)
    ([], "x", "224.0.0.251", "multicast"),
    ([], "x", "255.255.255.255", "broadcast"),
    ([], "x", "240.0.0.1", "reserved"),
    ([], "x", "192.0.2.10", "documentation"),
    ([], "x", "198.18.0.1", "benchmarking"),
    # ... IPv6
    ([], "x", "::1", "loopback"),
    ([], "x", "::", "unspecified"),
    ([], "x", "fd00::1", "private (unique local)"),
    ([], "x", "ff02::1", "multicast"),
    ([], "x", "2001:db8::1", "documentation"),
    ([], "x", "fec0::1", "site-local"),
    # IPv6 forms that carry an IPv4 address are judged by it
    ([], "x", "::ffff:127.0.0.1", "loopback address (IPv4 127.0.0.1 in IPv6 form)"),
    ([], "x", "::ffff:10.1.2.3", "private address (IPv4 10.1.2.3"),
    ([], "x", "::127.0.0.1", "loopback"),
    ([], "x", "64:ff9b::192.168.0.1", "private"),
    ([], "x", "2002:c0a8:0101::1", "private"),
    ([], "x", "::ffff:8.8.8.8", "ok"),
    # always refused: link-local and cloud metadata
    ([], "x", "169.254.1.1", "link-local!"),
    ([], "x", "fe80::1", "link-local!"),
    ([], "x", "169.254.169.254", "cloud metadata!"),
    ([], "x", "fd00:ec2::254", "cloud metadata!"),
    ([], "x", "100.100.100.200", "cloud metadata!"),
    ([], "x", "::ffff:169.254.169.254", "cloud metadata!"),
    ([], "metadata.google.internal", "8.8.8.8", "cloud metadata host name!"),
    ([], "Metadata.Google.Internal.", "8.8.8.8", "cloud metadata host name!"),
    ([], "metadata", "8.8.8.8", "cloud metadata host name!"),
    # ... even when "allowed"
    (["169.254.169.254"], "x", "169.254.169.254", "cloud metadata!"),
    (["169.254.0.0/16", "0.0.0.0/0"], "x", "169.254.10.1", "link-local!"),
    (["metadata.google.internal"], "metadata.google.internal", "8.8.8.8", "metadata!"),
    (["evil.test"], "evil.test", "169.254.169.254", "cloud metadata!"),
    (["fe80::/10"], "x", "fe80::1", "link-local!"),
    # allowed by an entry
    (LAB, "anything", "10.20.3.4", "ok"),
    (LAB, "anything", "::ffff:10.20.3.4", "ok"),
    (LAB, "anything", "10.21.0.1", "private"),
    (LAB, "registry.lab.internal", "10.99.0.1", "ok"),
    (LAB, "REGISTRY.lab.internal.", "192.168.7.7", "ok"),
    (LAB, "other.lab.internal", "192.168.7.7", "private"),
    (LAB, "a.mirror.test", "127.0.0.1", "ok"),
    (LAB, "a.b.mirror.test", "10.0.0.1", "ok"),
    (LAB, "mirror.test", "10.0.0.1", "private"),
    (LAB, "x", "fd12:3456::9", "ok"),
    (LAB, "x", "fd12:3457::9", "private"),
    (LAB, "127.0.0.1", "127.0.0.1", "ok"),
    (LAB, "localhost", "127.0.0.1", "ok"),
    (LAB, "x", "127.0.0.2", "loopback"),
    (["localhost"], "localhost", "127.0.0.1", "ok"),
    (["localhost"], "localhost", "::1", "ok"),
    (["localhost"], "127.0.0.1", "127.0.0.1", "loopback"),
    (["0.0.0.0/0", "::/0"], "x", "10.0.0.1", "ok"),
    (["0.0.0.0/0", "::/0"], "x", "::1", "ok"),
]


@pytest.mark.parametrize(("entries", "host", "address", "expected"), CASES)
def test_policy_decision(entries: list[str], host: str, address: str, expected: str) -> None:
    policy = AddressPolicy(AllowList.parse(entries))
    if expected == "ok":
        policy.check(host, address)
        return
    with pytest.raises(DestinationRefused) as caught:
        policy.check(host, address)
    always = expected.endswith("!")
    assert expected.removesuffix("!") in caught.value.reason
    assert caught.value.always is always
    assert caught.value.host == host
    message = str(caught.value)
    assert host in message
    if always:
        assert "cannot be allowed" in message
        assert "SSRF_ALLOWED_HOSTS" not in message
    else:
        assert caught.value.address is not None
        assert caught.value.address in message
        assert "to SSRF_ALLOWED_HOSTS" in message


def test_refusal_message_names_host_address_reason_and_the_fix() -> None:
    with pytest.raises(DestinationRefused) as caught:
        AddressPolicy().check("registry.lab.internal", "10.20.0.5")
    assert str(caught.value) == (
        "outbound request to registry.lab.internal (10.20.0.5) refused: 10.20.0.5 is a private "
        "address; to allow it, add 'registry.lab.internal', '10.20.0.5' or a CIDR range "
        "containing it to SSRF_ALLOWED_HOSTS"
    )


def test_one_refused_address_refuses_the_host() -> None:
    policy = AddressPolicy()
    policy.check_all("example.com", ["93.184.216.34", "2606:2800:220:1::1"])
    with pytest.raises(DestinationRefused, match=r"127\.0\.0\.1 is a loopback"):
        policy.check_all("example.com", ["93.184.216.34", "127.0.0.1"])


@pytest.mark.parametrize(
    ("entry", "kind"),
    [
        ("registry.lab.internal", "host"),
        ("Registry.Lab.Internal.", "host"),
        ("localhost", "host"),
        ("my_host.lab", "host"),
        ("*.lab.internal", "suffix"),
        ("10.20.0.5", "network"),
        ("10.20.0.0/16", "network"),
        ("10.20.0.1/16", "network"),  # host bits are ignored, as in a route
        ("fd12::/48", "network"),
        ("::1", "network"),
        ("[::1]", "network"),
    ],
)
def test_valid_allow_entries(entry: str, kind: str) -> None:
    assert parse_allow_entry(entry)[0] == kind


@pytest.mark.parametrize(
    "entry",
    [
        "",
        "https://registry.lab",
        "registry.lab:5000",
        "registry.lab/path",
        "10.0.0.0/33",
        "10.0.0.300",
        "*",
        "*.",
        "a.*.lab",
        "bad host",
        "-dash.lab",
        "x" * 64 + ".lab",
    ],
)
def test_invalid_allow_entries_are_named(entry: str) -> None:
    with pytest.raises(OutboundConfigError) as caught:
        AllowList.parse(["ok.lab", entry])
    assert repr(entry) in str(caught.value)
    assert "SSRF_ALLOWED_HOSTS" in str(caught.value)
