"""TLS through the guard: extra CA certificates, per-client verification, SNI by name."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest

from berth.outbound import (
    DestinationRefused,
    OutboundClient,
    OutboundConfigError,
    OutboundSettings,
    TLSVerificationError,
    build_outbound_settings,
)
from tests.support.tls import ThrowawayCA
from tests.unit.outbound.conftest import StartOrigin


async def registry_test(host: str, port: int) -> Sequence[str]:
    assert host == "registry.test"
    return ["127.0.0.1"]


def lab(*ca_paths: Path) -> OutboundSettings:
    return build_outbound_settings(allowed_hosts=["registry.test"], extra_ca_paths=ca_paths)


async def test_verification_fails_without_the_extra_ca(
    start_origin: StartOrigin, ca: ThrowawayCA
) -> None:
    origin = await start_origin(tls=ca.issue("registry.test"))
    async with OutboundClient(lab(), resolver=registry_test) as client:
        with pytest.raises(TLSVerificationError, match="certificate verification failed"):
            await client.get(f"https://registry.test:{origin.port}/v2/")
    assert origin.requests == []


async def test_extra_ca_file_is_trusted_and_sni_carries_the_name(
    start_origin: StartOrigin, ca: ThrowawayCA
) -> None:
    origin = await start_origin(tls=ca.issue("registry.test"))
    async with OutboundClient(lab(ca.pem), resolver=registry_test) as client:
        response = await client.get(f"https://registry.test:{origin.port}/v2/")
    assert response.status_code == 200
    assert origin.server_names == ["registry.test"]
    assert origin.requests[0].headers["host"] == f"registry.test:{origin.port}"


async def test_extra_ca_directory_like_quays_extra_ca_certs(
    start_origin: StartOrigin, ca: ThrowawayCA, tmp_path: Path
) -> None:
    origin = await start_origin(tls=ca.issue("registry.test"))
    other = ThrowawayCA.create(tmp_path / "other", name="Another CA")
    bundle = tmp_path / "extra_ca_certs"
    bundle.mkdir()
    shutil.copy(other.pem, bundle / "another.crt")
    shutil.copy(ca.pem, bundle / "lab.pem")
    async with OutboundClient(lab(bundle), resolver=registry_test) as client:
        assert (await client.get(f"https://registry.test:{origin.port}/")).status_code == 200


async def test_verify_tls_false_is_per_client(start_origin: StartOrigin, ca: ThrowawayCA) -> None:
    origin = await start_origin(tls=ca.issue("registry.test"))
    settings = lab()
    url = f"https://registry.test:{origin.port}/"
    async with OutboundClient(settings, verify_tls=False, resolver=registry_test) as insecure:
        assert (await insecure.get(url)).status_code == 200
    async with OutboundClient(settings, resolver=registry_test) as verifying:
        with pytest.raises(TLSVerificationError):
            await verifying.get(url)


async def test_the_name_not_the_ip_is_checked_against_the_certificate(
    start_origin: StartOrigin, ca: ThrowawayCA
) -> None:
    """The socket goes to 127.0.0.1 either way; only the URL's name decides the check."""
    origin = await start_origin(tls=ca.issue("other.test"))
    async with OutboundClient(lab(ca.pem), resolver=registry_test) as client:
        with pytest.raises(TLSVerificationError, match="mismatch"):
            await client.get(f"https://registry.test:{origin.port}/")
    by_ip = build_outbound_settings(allowed_hosts=["127.0.0.1"], extra_ca_paths=[ca.pem])
    async with OutboundClient(by_ip) as client:
        with pytest.raises(TLSVerificationError, match="mismatch"):
            await client.get(f"https://127.0.0.1:{origin.port}/")


async def test_refused_before_the_tls_handshake(start_origin: StartOrigin, ca: ThrowawayCA) -> None:
    origin = await start_origin(tls=ca.issue("registry.test"))
    settings = build_outbound_settings(extra_ca_paths=[ca.pem])
    async with OutboundClient(settings, resolver=registry_test) as client:
        with pytest.raises(DestinationRefused, match="SSRF_ALLOWED_HOSTS"):
            await client.get(f"https://registry.test:{origin.port}/")
    assert origin.connections == 0


def test_a_file_without_a_certificate_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "extra_ca_certs"
    bad.mkdir()
    (bad / "notes.txt").write_text("not a certificate\n")
    settings = build_outbound_settings(extra_ca_paths=[bad])
    with pytest.raises(OutboundConfigError, match=r"notes\.txt"):
        OutboundClient(settings)
    missing = build_outbound_settings(extra_ca_paths=[tmp_path / "nope.pem"])
    with pytest.raises(OutboundConfigError, match=r"nope\.pem.*does not exist"):
        OutboundClient(missing)
