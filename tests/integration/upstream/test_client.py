"""The upstream registry client against real registries: CNCF distribution with and without
htpasswd, and what it refuses (wrong credentials, corrupted bytes, SSRF destinations)."""

from __future__ import annotations

import http.server
import os
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from berth.outbound import OutboundClient, Timeouts, build_outbound_settings
from berth.upstream import (
    Credentials,
    UpstreamAuthFailed,
    UpstreamClient,
    UpstreamContentInvalid,
    UpstreamNotFound,
    UpstreamRefused,
    UpstreamRegistry,
    UpstreamUnavailable,
)
from tests.support.distribution import DistributionServer
from tests.support.pushing import push_image, sha256

pytestmark = pytest.mark.slow

USER = ("upstream-user", "upstream-password")


@pytest.fixture
def plain(tmp_path: Path) -> Iterator[DistributionServer]:
    server = DistributionServer(tmp_path / "plain")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[DistributionServer]:
    server = DistributionServer(tmp_path / "auth", htpasswd=USER)
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def outbound() -> AsyncIterator[OutboundClient]:
    settings = build_outbound_settings(
        allowed_hosts=["127.0.0.1"], timeouts=Timeouts(connect=5, read=10, write=10, pool=5)
    )
    async with OutboundClient(settings) as client:
        yield client


def _client(
    outbound: OutboundClient, server: DistributionServer, creds: tuple[str, str] | None = None
) -> UpstreamClient:
    registry = UpstreamRegistry.parse(server.host, insecure=True)
    return UpstreamClient(outbound, registry, Credentials(*creds) if creds else None)


def test_docker_hub_names() -> None:
    hub = UpstreamRegistry.parse("docker.io")
    assert hub.api_host == "registry-1.docker.io"
    assert hub.base_url == "https://registry-1.docker.io"
    assert hub.repository("busybox") == "library/busybox"
    assert hub.repository("bitnami/redis") == "bitnami/redis"
    library = UpstreamRegistry.parse("docker.io/library")
    assert library.repository("busybox") == "library/busybox"
    quay = UpstreamRegistry.parse("quay.io/prometheus")
    assert quay.repository("node-exporter") == "prometheus/node-exporter"
    assert UpstreamRegistry.parse("quay.io").repository("busybox") == "busybox"
    assert UpstreamRegistry.parse("registry.lab:5000", insecure=True).base_url == (
        "http://registry.lab:5000"
    )


async def test_manifests_blobs_and_tags(
    plain: DistributionServer, outbound: OutboundClient
) -> None:
    with httpx.Client(base_url=plain.url) as http:
        image = push_image(http, "team/app", "v1", [os.urandom(300_000), os.urandom(1000)])
        for n in range(5):
            push_image(http, "team/app", f"t{n}", [os.urandom(100)])
    client = _client(outbound, plain)

    got = await client.get_manifest("team/app", "v1")
    assert (got.digest, got.content, got.media_type) == (
        image.digest,
        image.manifest,
        image.media_type,
    )
    by_digest = await client.get_manifest("team/app", image.digest)
    assert by_digest.content == image.manifest
    head = await client.head_manifest("team/app", "v1")
    assert (head.digest, head.size) == (image.digest, len(image.manifest))

    for digest, data in image.blobs.items():
        async with client.open_blob("team/app", digest) as blob:
            assert blob.size == len(data)
            received = b"".join([chunk async for chunk in blob.chunks()])
        assert received == data

    # Five tags and v1, read two per page through the Link headers.
    assert sorted(await client.list_tags("team/app", page_size=2)) == sorted(
        ["v1", "t0", "t1", "t2", "t3", "t4"]
    )
    with pytest.raises(UpstreamNotFound):
        await client.get_manifest("team/app", "nope")
    with pytest.raises(UpstreamNotFound):
        async with client.open_blob("team/app", sha256(b"missing")):
            pass


def _push_signed(server: DistributionServer) -> tuple[str, str]:
    """An image and a signature of it listed under the ``sha256-<hex>`` tag schema."""
    with httpx.Client(base_url=server.url) as http:
        image = push_image(http, "team/app", "v1", [b"layer"])
        signature = push_image(
            http,
            "team/app",
            "sig",
            [b"signature"],
            artifact_type="application/vnd.dev.cosign.artifact.sig.v1+json",
        )
        index = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {
                    "mediaType": signature.media_type,
                    "digest": signature.digest,
                    "size": len(signature.manifest),
                    "artifactType": "application/vnd.dev.cosign.artifact.sig.v1+json",
                }
            ],
        }
        r = http.put(
            f"/v2/team/app/manifests/{image.digest.replace(':', '-')}",
            json=index,
            headers={"Content-Type": "application/vnd.oci.image.index.v1+json"},
        )
        assert r.status_code == 201
    return image.digest, signature.digest


async def test_referrers_by_tag_schema(plain: DistributionServer, outbound: OutboundClient) -> None:
    """distribution 2.8 has no referrers API: the ``sha256-<hex>`` tag is read instead."""
    image_digest, signature_digest = _push_signed(plain)
    client = _client(outbound, plain)
    found = await client.referrers("team/app", image_digest)
    assert [d["digest"] for d in found] == [signature_digest]
    assert await client.referrers("team/app", signature_digest) == []


async def test_basic_auth(guarded: DistributionServer, outbound: OutboundClient) -> None:
    with httpx.Client(base_url=guarded.url, auth=USER) as http:
        image = push_image(http, "team/private", "v1", [b"secret layer"])
    client = _client(outbound, guarded, USER)
    assert await client.ping() is True
    assert (await client.get_manifest("team/private", "v1")).digest == image.digest

    with pytest.raises(UpstreamAuthFailed):
        await _client(outbound, guarded, ("upstream-user", "wrong")).get_manifest(
            "team/private", "v1"
        )
    with pytest.raises(UpstreamAuthFailed):
        await _client(outbound, guarded).ping()


async def test_corrupted_blob_is_refused(
    plain: DistributionServer, outbound: OutboundClient
) -> None:
    """Bytes that do not hash to the digest end the stream with an error, not its end."""
    with httpx.Client(base_url=plain.url) as http:
        image = push_image(http, "team/app", "v1", [os.urandom(50_000)])
    layer = next(d for d, data in image.blobs.items() if len(data) == 50_000)
    path = plain.blob_file(layer)
    path.write_bytes(os.urandom(50_000))  # same size, other bytes
    client = _client(outbound, plain)
    received: list[bytes] = []

    async def download() -> None:
        async with client.open_blob("team/app", layer) as blob:
            async for chunk in blob.chunks():
                received.append(chunk)

    with pytest.raises(UpstreamContentInvalid, match="hash"):
        await download()
    assert sum(map(len, received)) == 50_000  # streamed, then refused at the end


async def test_ssrf_destinations_refused(outbound: OutboundClient) -> None:
    metadata = UpstreamClient(outbound, UpstreamRegistry.parse("169.254.169.254", insecure=True))
    with pytest.raises(UpstreamRefused, match="metadata"):
        await metadata.ping()
    strict = OutboundClient(build_outbound_settings())
    try:
        loopback = UpstreamClient(strict, UpstreamRegistry.parse("127.0.0.1:9", insecure=True))
        with pytest.raises(UpstreamRefused, match="loopback"):
            await loopback.ping()
    finally:
        await strict.aclose()


async def test_unreachable_upstream(outbound: OutboundClient, tmp_path: Path) -> None:
    server = DistributionServer(tmp_path / "gone")
    server.start()
    server.stop()  # nothing listens on its port now
    client = _client(outbound, server)
    with pytest.raises(UpstreamUnavailable):
        await client.get_manifest("team/app", "v1")


class _LyingRegistry(http.server.BaseHTTPRequestHandler):
    """Answers every manifest GET with a body that does not hash to the digest it names."""

    body = b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json"}'

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        self.send_header("Docker-Content-Digest", sha256(b"something else"))
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def liar() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _LyingRegistry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def test_manifest_not_matching_its_digest_is_refused(
    liar: str, outbound: OutboundClient
) -> None:
    client = UpstreamClient(outbound, UpstreamRegistry.parse(liar, insecure=True))
    with pytest.raises(UpstreamContentInvalid, match="hashes to"):
        await client.get_manifest("team/app", "v1")  # announced digest
    with pytest.raises(UpstreamContentInvalid, match="hashes to"):
        await client.get_manifest("team/app", sha256(b"asked for"))  # digest asked for
