"""Pull workflow: manifests by tag and digest, blobs with ranges, 404s (conformance "pull")."""

from __future__ import annotations

import pytest

from tests.integration.conftest import (
    DOCKER_MANIFEST,
    OCI_MANIFEST,
    Berth,
    Client,
    assert_error,
    digest_of,
    random_bytes,
)

MISSING = "sha256:" + "0" * 64
ACCEPT_ALL = ", ".join(
    [
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    ]
)


@pytest.mark.parametrize("media_type", [OCI_MANIFEST, DOCKER_MANIFEST])
async def test_manifest_get_and_head_by_tag_and_digest(
    registry: Berth, alice: Client, media_type: str
) -> None:
    pushed = await alice.push_image("alice/app", "v1", media_type=media_type)
    for ref in ("v1", pushed.digest):
        resp = await alice.get(f"/v2/alice/app/manifests/{ref}", headers={"Accept": ACCEPT_ALL})
        assert resp.status_code == 200, resp.text
        assert resp.content == pushed.manifest
        assert resp.headers["content-type"] == media_type
        assert resp.headers["docker-content-digest"] == pushed.digest
        assert resp.headers["content-length"] == str(len(pushed.manifest))
        assert resp.headers["docker-distribution-api-version"] == "registry/2.0"

        head = await alice.head(f"/v2/alice/app/manifests/{ref}", headers={"Accept": ACCEPT_ALL})
        assert head.status_code == 200
        assert head.content == b""
        assert head.headers["content-type"] == media_type
        assert head.headers["docker-content-digest"] == pushed.digest
        assert head.headers["content-length"] == str(len(pushed.manifest))


async def test_manifest_get_without_accept_header(registry: Berth, alice: Client) -> None:
    pushed = await alice.push_image("alice/app", "v1")
    resp = await alice.get("/v2/alice/app/manifests/v1")
    assert resp.status_code == 200
    assert resp.content == pushed.manifest


async def test_blob_get_and_head(registry: Berth, alice: Client) -> None:
    pushed = await alice.push_image("alice/app", "v1")
    for blob in pushed.blobs:
        digest = digest_of(blob)
        head = await alice.head(f"/v2/alice/app/blobs/{digest}")
        assert head.status_code == 200
        assert head.content == b""
        assert head.headers["content-length"] == str(len(blob))
        assert head.headers["docker-content-digest"] == digest
        resp = await alice.get(f"/v2/alice/app/blobs/{digest}")
        assert resp.status_code == 200
        assert resp.content == blob
        assert resp.headers["docker-content-digest"] == digest
        assert resp.headers["content-length"] == str(len(blob))


async def test_large_blob_bytes_pulled_equal_bytes_pushed(registry: Berth, alice: Client) -> None:
    layer = random_bytes(2 * 1024 * 1024 + 12345)  # more than one storage read chunk
    pushed = await alice.push_image("alice/big", "v1", layers=[layer])
    resp = await alice.get(f"/v2/alice/big/blobs/{digest_of(layer)}")
    assert resp.status_code == 200
    assert len(resp.content) == len(layer)
    assert resp.content == layer
    manifest = await alice.get("/v2/alice/big/manifests/v1")
    assert manifest.content == pushed.manifest


RANGES = [
    ("bytes=0-0", 0, 0),
    ("bytes=10-19", 10, 19),
    ("bytes=100-", 100, 4999),
    ("bytes=-7", 4993, 4999),
    ("bytes=4990-9999", 4990, 4999),
]


async def test_blob_range_requests(registry: Berth, alice: Client) -> None:
    layer = random_bytes(5000)
    await alice.push_image("alice/app", "v1", layers=[layer])
    url = f"/v2/alice/app/blobs/{digest_of(layer)}"
    for header, start, end in RANGES:
        resp = await alice.get(url, headers={"Range": header})
        assert resp.status_code == 206, f"{header}: {resp.status_code} {resp.text}"
        assert resp.content == layer[start : end + 1], header
        assert resp.headers["content-range"] == f"bytes {start}-{end}/5000", header
        assert resp.headers["content-length"] == str(end - start + 1), header
    resp = await alice.get(url, headers={"Range": "bytes=5000-"})
    assert resp.status_code == 416
    assert resp.headers.get("content-range") == "bytes */5000"


async def test_unknown_blob_is_404_blob_unknown(registry: Berth, alice: Client) -> None:
    await alice.push_image("alice/app", "v1")
    assert_error(await alice.get(f"/v2/alice/app/blobs/{MISSING}"), 404, "BLOB_UNKNOWN")
    head = await alice.head(f"/v2/alice/app/blobs/{MISSING}")
    assert head.status_code == 404
    assert head.content == b""


async def test_unknown_manifest_is_404_manifest_unknown(registry: Berth, alice: Client) -> None:
    await alice.push_image("alice/app", "v1")
    for ref in ("nosuchtag", MISSING):
        assert_error(await alice.get(f"/v2/alice/app/manifests/{ref}"), 404, "MANIFEST_UNKNOWN")
        head = await alice.head(f"/v2/alice/app/manifests/{ref}")
        assert head.status_code == 404


async def test_blobs_are_scoped_to_their_repository(registry: Berth, alice: Client) -> None:
    """A blob pushed to one repository is not readable through another (even same owner)."""
    pushed = await alice.push_image("alice/one", "v1")
    await alice.push_image("alice/two", "v1")
    digest = digest_of(pushed.layers[0])
    assert (await alice.get(f"/v2/alice/one/blobs/{digest}")).status_code == 200
    assert_error(await alice.get(f"/v2/alice/two/blobs/{digest}"), 404, "BLOB_UNKNOWN")
    assert (await alice.head(f"/v2/alice/two/blobs/{digest}")).status_code == 404


async def test_manifests_are_scoped_to_their_repository(registry: Berth, alice: Client) -> None:
    pushed = await alice.push_image("alice/one", "v1")
    await alice.push_image("alice/two", "v2")
    resp = await alice.get(f"/v2/alice/two/manifests/{pushed.digest}")
    assert_error(resp, 404, "MANIFEST_UNKNOWN")


async def test_malformed_digest_in_blob_path(registry: Berth, alice: Client) -> None:
    await alice.push_image("alice/app", "v1")
    for bad in ("sha256:xyz", "sha256:" + "A" * 64, "sha256:" + "0" * 63):
        resp = await alice.get(f"/v2/alice/app/blobs/{bad}")
        assert_error(resp, 400, "DIGEST_INVALID")


async def test_pull_over_basic(registry: Berth, alice: Client) -> None:
    pushed = await alice.push_image("alice/app", "v1")
    basic = registry.client("alice", basic=True)
    resp = await basic.get("/v2/alice/app/manifests/v1")
    assert resp.content == pushed.manifest
    blob = await basic.get(f"/v2/alice/app/blobs/{digest_of(pushed.config)}")
    assert blob.content == pushed.config


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.s3
async def test_presigned_redirect_serves_blobs_from_s3(
    tmp_path, postgres_url: str, s3_server: dict
) -> None:
    """S3 by default (Quay's FEATURE_PROXY_STORAGE false): blob GETs answer 307 to a
    presigned URL on the object store, and the bytes behind it are the bytes pushed."""
    import httpx as _httpx

    from berth.config import load_settings
    from berth.db.session import Database
    from berth.http.app import create_app
    from berth.identity.accounts import AccountService
    from berth.schema.migrate import upgrade
    from tests.conftest import distributed_config, write_config
    from tests.integration.conftest import BASE_URL, Client, digest_of, random_bytes

    config = distributed_config(tmp_path, postgres_url, s3_server)  # no presigned_redirect
    settings = load_settings(write_config(tmp_path, config), env={})
    await upgrade(settings.db_url)
    db = Database(settings.db_url)
    await AccountService(db).create_user("carol", "carol-password-1")
    await db.dispose()
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        _httpx.AsyncClient(transport=_httpx.ASGITransport(app=app), base_url=BASE_URL) as http,
    ):
        carol = Client(http, "carol", "carol-password-1")
        blob = random_bytes(300_000)
        digest = await carol.upload("carol/app", blob)
        assert digest == digest_of(blob)
        resp = await carol.get(f"/v2/carol/app/blobs/{digest}")
        assert resp.status_code == 307
        assert resp.headers["docker-content-digest"] == digest
        location = resp.headers["location"]
        assert location.startswith(s3_server["endpoint_url"])
    async with _httpx.AsyncClient() as direct:
        fetched = await direct.get(location)
    assert fetched.status_code == 200
    assert fetched.content == blob
