"""Push workflow, blobs: monolithic, single POST, chunked, streamed, cancel, mount, digests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx

from tests.integration.conftest import (
    Berth,
    Client,
    assert_error,
    digest_of,
    random_bytes,
)

OCTET = {"Content-Type": "application/octet-stream"}


def _range(size: int) -> str:
    return f"0-{max(size - 1, 0)}"


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def assert_blob(client: Client, repo: str, data: bytes, algorithm: str = "sha256") -> None:
    digest = digest_of(data, algorithm)
    head = await client.head(f"/v2/{repo}/blobs/{digest}")
    assert head.status_code == 200, f"HEAD {digest}: {head.status_code}"
    assert head.headers["content-length"] == str(len(data))
    assert head.headers["docker-content-digest"] == digest
    resp = await client.get(f"/v2/{repo}/blobs/{digest}")
    assert resp.status_code == 200
    assert resp.content == data


async def assert_no_blob(client: Client, repo: str, digest: str) -> None:
    head = await client.head(f"/v2/{repo}/blobs/{digest}")
    assert head.status_code == 404, f"{digest} should not exist in {repo}"
    assert_error(await client.get(f"/v2/{repo}/blobs/{digest}"), 404, "BLOB_UNKNOWN")


async def upload_status(client: Client, location: str) -> httpx.Response:
    resp = await client.get(location)
    assert resp.status_code == 204, resp.text
    assert resp.headers["location"]
    return resp


# ------------------------------------------------------------------------------ monolithic


async def test_monolithic_post_then_put(registry: Berth, alice: Client) -> None:
    data = random_bytes(3000)
    digest = digest_of(data)
    start = await alice.post("/v2/alice/app/blobs/uploads/")
    assert start.status_code == 202
    location = start.headers["location"]
    assert "/v2/alice/app/blobs/uploads/" in location
    assert start.headers["range"] == "0-0"
    assert start.headers["content-length"] == "0"
    done = await alice.put(location, params={"digest": digest}, content=data, headers=OCTET)
    assert done.status_code == 201, done.text
    assert done.headers["location"].endswith(f"/v2/alice/app/blobs/{digest}")
    assert done.headers["docker-content-digest"] == digest
    blob = await alice.get(done.headers["location"])
    assert blob.content == data
    await assert_blob(alice, "alice/app", data)


async def test_single_post_with_digest(registry: Berth, alice: Client) -> None:
    data = random_bytes(2000)
    digest = digest_of(data)
    resp = await alice.post(
        "/v2/alice/app/blobs/uploads/", params={"digest": digest}, content=data, headers=OCTET
    )
    assert resp.status_code == 201, resp.text
    assert resp.headers["location"].endswith(f"/v2/alice/app/blobs/{digest}")
    assert resp.headers["docker-content-digest"] == digest
    await assert_blob(alice, "alice/app", data)


async def test_empty_blob(registry: Berth, alice: Client) -> None:
    await alice.upload("alice/app", b"")
    await assert_blob(alice, "alice/app", b"")


async def test_pushing_an_existing_blob_again(registry: Berth, alice: Client) -> None:
    data = random_bytes(1000)
    await alice.upload("alice/app", data)
    await alice.upload("alice/app", data)
    await assert_blob(alice, "alice/app", data)


# --------------------------------------------------------------------------------- chunked


async def test_chunked_upload_with_content_range(registry: Berth, alice: Client) -> None:
    data = random_bytes(10_000)
    parts = [data[:3000], data[3000:7000], data[7000:]]
    location = await alice.start_upload("alice/app")
    offset = 0
    for part in parts:
        end = offset + len(part) - 1
        resp = await alice.patch(
            location,
            content=part,
            headers={**OCTET, "Content-Range": f"{offset}-{end}"},
        )
        assert resp.status_code == 202, resp.text
        assert resp.headers["range"] == f"0-{end}"
        assert resp.headers["location"]
        location = resp.headers["location"]
        offset = end + 1
        status = await upload_status(alice, location)
        assert status.headers["range"] == f"0-{end}"
        location = status.headers["location"]
    done = await alice.put(location, params={"digest": digest_of(data)})
    assert done.status_code == 201, done.text
    assert done.headers["docker-content-digest"] == digest_of(data)
    await assert_blob(alice, "alice/app", data)


async def test_chunked_upload_final_chunk_in_put(registry: Berth, alice: Client) -> None:
    data = random_bytes(4000)
    location = await alice.start_upload("alice/app")
    first = await alice.patch(
        location, content=data[:2500], headers={**OCTET, "Content-Range": "0-2499"}
    )
    assert first.status_code == 202
    done = await alice.put(
        first.headers["location"],
        params={"digest": digest_of(data)},
        content=data[2500:],
        headers={**OCTET, "Content-Range": "2500-3999"},
    )
    assert done.status_code == 201, done.text
    await assert_blob(alice, "alice/app", data)


async def test_out_of_order_chunk_is_416_and_session_unchanged(
    registry: Berth, alice: Client
) -> None:
    data = random_bytes(2000)
    location = await alice.start_upload("alice/app")
    resp = await alice.patch(
        location, content=data[1000:], headers={**OCTET, "Content-Range": "1000-1999"}
    )
    assert_error(resp, 416, "BLOB_UPLOAD_INVALID")
    assert resp.headers["range"] == "0-0"
    assert (await upload_status(alice, location)).headers["range"] == "0-0"

    first = {**OCTET, "Content-Range": "0-999"}
    ok = await alice.patch(location, content=data[:1000], headers=first)
    assert ok.status_code == 202
    skip = await alice.patch(
        location, content=data[1500:], headers={**OCTET, "Content-Range": "1500-1999"}
    )
    assert_error(skip, 416, "BLOB_UPLOAD_INVALID")
    assert skip.headers["range"] == "0-999"
    assert (await upload_status(alice, location)).headers["range"] == "0-999"

    rest = await alice.patch(
        location, content=data[1000:], headers={**OCTET, "Content-Range": "1000-1999"}
    )
    assert rest.status_code == 202
    done = await alice.put(location, params={"digest": digest_of(data)})
    assert done.status_code == 201, done.text
    await assert_blob(alice, "alice/app", data)


async def test_repeated_chunk_is_416_and_not_appended(registry: Berth, alice: Client) -> None:
    data = random_bytes(2000)
    location = await alice.start_upload("alice/app")
    first = {**OCTET, "Content-Range": "0-999"}
    assert (await alice.patch(location, content=data[:1000], headers=first)).status_code == 202
    again = await alice.patch(location, content=data[:1000], headers=first)
    assert_error(again, 416, "BLOB_UPLOAD_INVALID")
    assert again.headers["range"] == "0-999"
    overlap = await alice.patch(
        location, content=data[500:1500], headers={**OCTET, "Content-Range": "500-1499"}
    )
    assert_error(overlap, 416, "BLOB_UPLOAD_INVALID")
    assert (await upload_status(alice, location)).headers["range"] == "0-999"
    second = {**OCTET, "Content-Range": "1000-1999"}
    assert (await alice.patch(location, content=data[1000:], headers=second)).status_code == 202
    done = await alice.put(location, params={"digest": digest_of(data)})
    assert done.status_code == 201, done.text
    await assert_blob(alice, "alice/app", data)


async def test_content_range_promising_more_than_the_body(registry: Berth, alice: Client) -> None:
    """A streamed chunk shorter than its Content-Range: refused, the session keeps its state."""
    data = random_bytes(3000)
    await alice.login("alice/app", "pull", "push")
    location = await alice.start_upload("alice/app")
    assert (
        await alice.patch(location, content=data[:1000], headers={"Content-Range": "0-999"})
    ).status_code == 202
    short = await alice.patch(
        location,
        content=_chunks(data[1000:1500]),
        headers={**OCTET, "Content-Range": "1000-1999"},
    )
    assert_error(short, 416, "BLOB_UPLOAD_INVALID")
    assert (await upload_status(alice, location)).headers["range"] == "0-999"
    rest = await alice.patch(
        location, content=data[1000:], headers={**OCTET, "Content-Range": "1000-2999"}
    )
    assert rest.status_code == 202, rest.text
    done = await alice.put(location, params={"digest": digest_of(data)})
    assert done.status_code == 201, done.text
    await assert_blob(alice, "alice/app", data)


async def test_malformed_content_range_is_416(registry: Berth, alice: Client) -> None:
    """Spec (chunked upload): "A 416 will be returned under the following conditions:
    Invalid Content-Range header format; Out of order chunk"."""
    data = random_bytes(100)
    location = await alice.start_upload("alice/app")
    for bad in ("abc", "0-", "-99", "bytes 0-99/50/1"):
        resp = await alice.patch(location, content=data, headers={"Content-Range": bad})
        assert_error(resp, 416, "BLOB_UPLOAD_INVALID")
        assert resp.headers.get("range") == "0-0"
    status = await alice.get(location)
    assert status.status_code == 204
    assert status.headers["range"] == "0-0"


async def test_content_length_disagreeing_with_content_range(
    registry: Berth, alice: Client
) -> None:
    data = random_bytes(1000)
    location = await alice.start_upload("alice/app")
    resp = await alice.patch(location, content=data, headers={"Content-Range": "0-499"})
    assert resp.status_code in (400, 416), resp.text
    assert_error(resp, resp.status_code, resp.json()["errors"][0]["code"])
    assert (await upload_status(alice, location)).headers["range"] == "0-0"
    ok = await alice.patch(location, content=data, headers={"Content-Range": "0-999"})
    assert ok.status_code == 202
    assert (await alice.put(location, params={"digest": digest_of(data)})).status_code == 201


# -------------------------------------------------------------------------------- streamed


async def test_streamed_patch_without_content_range(registry: Berth, alice: Client) -> None:
    data = random_bytes(5000)
    location = await alice.start_upload("alice/app")
    resp = await alice.patch(location, content=data[:2000], headers=OCTET)
    assert resp.status_code == 202, resp.text
    assert resp.headers["range"] == "0-1999"
    resp = await alice.patch(resp.headers["location"], content=data[2000:], headers=OCTET)
    assert resp.status_code == 202
    assert resp.headers["range"] == _range(5000)
    done = await alice.put(resp.headers["location"], params={"digest": digest_of(data)})
    assert done.status_code == 201, done.text
    await assert_blob(alice, "alice/app", data)


async def test_streamed_patch_chunked_transfer_encoding(registry: Berth, alice: Client) -> None:
    """No Content-Length at all: the body arrives as a stream of pieces."""
    pieces = [random_bytes(700_000) for _ in range(4)]
    data = b"".join(pieces)
    await alice.login("alice/app", "pull", "push")
    location = await alice.start_upload("alice/app")
    resp = await alice.patch(location, content=_chunks(*pieces), headers=OCTET)
    assert resp.status_code == 202, resp.text
    assert resp.headers["range"] == _range(len(data))
    assert (await upload_status(alice, location)).headers["range"] == _range(len(data))
    done = await alice.put(location, params={"digest": digest_of(data)})
    assert done.status_code == 201, done.text
    await assert_blob(alice, "alice/app", data)


async def test_large_chunked_upload(registry: Berth, alice: Client) -> None:
    """Chunks larger than S3's 5 MiB multipart minimum and a short tail."""
    data = random_bytes(13 * 1024 * 1024 + 17)
    step = 6 * 1024 * 1024
    location = await alice.start_upload("alice/app")
    for offset in range(0, len(data), step):
        part = data[offset : offset + step]
        resp = await alice.patch(
            location,
            content=part,
            headers={**OCTET, "Content-Range": f"{offset}-{offset + len(part) - 1}"},
        )
        assert resp.status_code == 202, resp.text
    done = await alice.put(location, params={"digest": digest_of(data)})
    assert done.status_code == 201, done.text
    await assert_blob(alice, "alice/app", data)


# ---------------------------------------------------------------------------------- cancel


async def test_cancel_upload(registry: Berth, alice: Client) -> None:
    data = random_bytes(1000)
    location = await alice.start_upload("alice/app")
    assert (await alice.patch(location, content=data, headers=OCTET)).status_code == 202
    resp = await alice.delete(location)
    assert resp.status_code == 204, resp.text
    assert_error(await alice.get(location), 404, "BLOB_UPLOAD_UNKNOWN")
    resp = await alice.patch(location, content=data, headers=OCTET)
    assert_error(resp, 404, "BLOB_UPLOAD_UNKNOWN")
    resp = await alice.put(location, params={"digest": digest_of(data)})
    assert_error(resp, 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(await alice.delete(location), 404, "BLOB_UPLOAD_UNKNOWN")
    await assert_no_blob(alice, "alice/app", digest_of(data))


async def test_unknown_upload_session(registry: Berth, alice: Client) -> None:
    await alice.start_upload("alice/app")
    location = "/v2/alice/app/blobs/uploads/0123456789abcdef0123456789abcdef"
    assert_error(await alice.get(location), 404, "BLOB_UPLOAD_UNKNOWN")
    resp = await alice.patch(location, content=b"x", headers=OCTET)
    assert_error(resp, 404, "BLOB_UPLOAD_UNKNOWN")


async def test_upload_session_belongs_to_its_repository(registry: Berth, alice: Client) -> None:
    await alice.start_upload("alice/other")
    location = await alice.start_upload("alice/app")
    session = location.rsplit("/", 1)[1]
    moved = f"/v2/alice/other/blobs/uploads/{session}"
    assert_error(await alice.get(moved), 404, "BLOB_UPLOAD_UNKNOWN")
    resp = await alice.patch(moved, content=b"abc", headers=OCTET)
    assert_error(resp, 404, "BLOB_UPLOAD_UNKNOWN")
    assert (await upload_status(alice, location)).headers["range"] == "0-0"


async def test_upload_session_of_another_user(registry: Berth, alice: Client, bob: Client) -> None:
    location = await alice.start_upload("alice/app")
    resp = await bob.patch(location, content=b"abc", headers=OCTET)
    assert_error(resp, 401, "UNAUTHORIZED")
    assert (await upload_status(alice, location)).headers["range"] == "0-0"


# ------------------------------------------------------------------------------- digests


async def test_wrong_digest_monolithic_put(registry: Berth, alice: Client) -> None:
    data = random_bytes(1000)
    claimed = digest_of(b"something else")
    location = await alice.start_upload("alice/app")
    resp = await alice.put(location, params={"digest": claimed}, content=data, headers=OCTET)
    assert_error(resp, 400, "DIGEST_INVALID")
    await assert_no_blob(alice, "alice/app", claimed)
    await assert_no_blob(alice, "alice/app", digest_of(data))


async def test_wrong_digest_single_post(registry: Berth, alice: Client) -> None:
    data = random_bytes(1000)
    claimed = digest_of(b"something else")
    resp = await alice.post(
        "/v2/alice/app/blobs/uploads/", params={"digest": claimed}, content=data, headers=OCTET
    )
    assert_error(resp, 400, "DIGEST_INVALID")
    await assert_no_blob(alice, "alice/app", claimed)
    await assert_no_blob(alice, "alice/app", digest_of(data))


async def test_wrong_digest_after_chunks(registry: Berth, alice: Client) -> None:
    data = random_bytes(3000)
    claimed = digest_of(data[:-1])
    location = await alice.start_upload("alice/app")
    for offset in (0, 1500):
        part = data[offset : offset + 1500]
        headers = {**OCTET, "Content-Range": f"{offset}-{offset + 1499}"}
        assert (await alice.patch(location, content=part, headers=headers)).status_code == 202
    assert_error(await alice.put(location, params={"digest": claimed}), 400, "DIGEST_INVALID")
    await assert_no_blob(alice, "alice/app", claimed)
    await assert_no_blob(alice, "alice/app", digest_of(data))


async def test_malformed_or_missing_digest_parameter(registry: Berth, alice: Client) -> None:
    data = random_bytes(100)
    for params in ({"digest": "sha256:nothex"}, {"digest": "sha256"}, {}):
        location = await alice.start_upload("alice/app")
        resp = await alice.put(location, params=params, content=data, headers=OCTET)
        assert_error(resp, 400, "DIGEST_INVALID")


async def test_sha512_blobs(registry: Berth, alice: Client) -> None:
    one, two, three = random_bytes(1500), random_bytes(2500), random_bytes(3500)
    # monolithic POST + PUT
    location = await alice.start_upload("alice/app")
    resp = await alice.put(
        location, params={"digest": digest_of(one, "sha512")}, content=one, headers=OCTET
    )
    assert resp.status_code == 201, resp.text
    assert resp.headers["docker-content-digest"] == digest_of(one, "sha512")
    # single POST
    resp = await alice.post(
        "/v2/alice/app/blobs/uploads/",
        params={"digest": digest_of(two, "sha512")},
        content=two,
        headers=OCTET,
    )
    assert resp.status_code == 201, resp.text
    # chunked
    location = await alice.start_upload("alice/app")
    for offset in (0, 2000):
        part = three[offset : offset + 2000]
        headers = {**OCTET, "Content-Range": f"{offset}-{offset + len(part) - 1}"}
        assert (await alice.patch(location, content=part, headers=headers)).status_code == 202
    resp = await alice.put(location, params={"digest": digest_of(three, "sha512")})
    assert resp.status_code == 201, resp.text
    for data in (one, two, three):
        await assert_blob(alice, "alice/app", data, "sha512")
    # a wrong sha512 is caught as well
    location = await alice.start_upload("alice/app")
    bad = digest_of(b"nope", "sha512")
    resp = await alice.put(location, params={"digest": bad}, content=one, headers=OCTET)
    assert_error(resp, 400, "DIGEST_INVALID")
    await assert_no_blob(alice, "alice/app", bad)


# ------------------------------------------------------------------------------- mounting


async def test_cross_repository_mount(registry: Berth, alice: Client) -> None:
    data = random_bytes(4000)
    digest = await alice.upload("alice/src", data)
    await alice.login("alice/dst", "pull", "push", extra_scopes=("repository:alice/src:pull",))
    resp = await alice.post(
        "/v2/alice/dst/blobs/uploads/", params={"mount": digest, "from": "alice/src"}
    )
    assert resp.status_code == 201, resp.text
    assert resp.headers["location"].endswith(f"/v2/alice/dst/blobs/{digest}")
    assert resp.headers["docker-content-digest"] == digest
    await assert_blob(alice, "alice/dst", data)


async def test_mount_over_basic(registry: Berth, alice: Client) -> None:
    data = random_bytes(400)
    digest = await alice.upload("alice/src", data)
    basic = registry.client("alice", basic=True)
    resp = await basic.post(
        "/v2/alice/dst/blobs/uploads/", params={"mount": digest, "from": "alice/src"}
    )
    assert resp.status_code == 201, resp.text
    await assert_blob(alice, "alice/dst", data)


async def test_mount_from_unreadable_repository_falls_back_to_upload(
    registry: Berth, alice: Client, bob: Client
) -> None:
    data = random_bytes(4000)
    digest = await bob.upload("bob/private", data)
    await alice.login("alice/dst", "pull", "push", extra_scopes=("repository:bob/private:pull",))
    resp = await alice.post(
        "/v2/alice/dst/blobs/uploads/", params={"mount": digest, "from": "bob/private"}
    )
    assert resp.status_code == 202, resp.text
    location = resp.headers["location"]
    assert "/v2/alice/dst/blobs/uploads/" in location
    await assert_no_blob(alice, "alice/dst", digest)
    # the fallback session is a real one: the client uploads the bytes itself
    done = await alice.put(location, params={"digest": digest}, content=data, headers=OCTET)
    assert done.status_code == 201, done.text
    await assert_blob(alice, "alice/dst", data)


async def test_mount_without_source_scope_in_token_falls_back(
    registry: Berth, alice: Client
) -> None:
    data = random_bytes(400)
    digest = await alice.upload("alice/src", data)
    await alice.login("alice/dst", "pull", "push")
    resp = await alice.post(
        "/v2/alice/dst/blobs/uploads/", params={"mount": digest, "from": "alice/src"}
    )
    assert resp.status_code == 202, resp.text
    await assert_no_blob(alice, "alice/dst", digest)


async def test_mount_of_missing_blob_falls_back(registry: Berth, alice: Client) -> None:
    await alice.upload("alice/src", random_bytes(10))
    missing = digest_of(b"never pushed")
    await alice.login("alice/dst", "pull", "push", extra_scopes=("repository:alice/src:pull",))
    for source in ("alice/src", "alice/nosuchrepo", "Not A Name"):
        resp = await alice.post(
            "/v2/alice/dst/blobs/uploads/", params={"mount": missing, "from": source}
        )
        assert resp.status_code == 202, f"{source}: {resp.status_code} {resp.text}"
        assert resp.headers["location"]


async def test_push_needs_push_rights(registry: Berth, bob: Client, anon: Client) -> None:
    for client in (bob, anon):
        resp = await client.post("/v2/alice/app/blobs/uploads/")
        assert_error(resp, 401, "UNAUTHORIZED")


async def test_mount_from_another_users_public_repository(
    registry: Berth, alice: Client, bob: Client
) -> None:
    data = random_bytes(900)
    digest = await bob.upload("bob/public", data)
    await registry.set_public("bob/public")
    await alice.login("alice/dst", "pull", "push", extra_scopes=("repository:bob/public:pull",))
    resp = await alice.post(
        "/v2/alice/dst/blobs/uploads/", params={"mount": digest, "from": "bob/public"}
    )
    assert resp.status_code == 201, resp.text
    await assert_blob(alice, "alice/dst", data)


async def test_finished_upload_session_is_gone(registry: Berth, alice: Client) -> None:
    data = random_bytes(500)
    resp = await alice.post("/v2/alice/app/blobs/uploads")  # no trailing slash
    assert resp.status_code == 202
    location = resp.headers["location"]
    assert location.rsplit("/", 1)[1] == resp.headers["docker-upload-uuid"]
    assert (await alice.patch(location, content=data, headers=OCTET)).status_code == 202
    await assert_no_blob(alice, "alice/app", digest_of(data))  # not a blob until the PUT
    assert (await alice.put(location, params={"digest": digest_of(data)})).status_code == 201
    again = await alice.put(location, params={"digest": digest_of(data)})
    assert_error(again, 404, "BLOB_UPLOAD_UNKNOWN")
    more = await alice.patch(location, content=data, headers=OCTET)
    assert_error(more, 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(await alice.get(location), 404, "BLOB_UPLOAD_UNKNOWN")
    await assert_blob(alice, "alice/app", data)


async def test_concurrent_chunks_for_one_session(registry: Berth, alice: Client) -> None:
    """Two clients racing the same chunk: one wins, the other gets 416; no bytes doubled."""
    data = random_bytes(400_000)
    location = await alice.start_upload("alice/app")
    headers = {**OCTET, "Content-Range": f"0-{len(data) - 1}"}
    results = await asyncio.gather(
        *(alice.patch(location, content=data, headers=headers) for _ in range(3))
    )
    codes = sorted(r.status_code for r in results)
    assert codes.count(202) == 1, codes
    for resp in results:
        if resp.status_code != 202:
            assert resp.status_code in (416, 409, 429), resp.text
            assert_error(resp, resp.status_code, resp.json()["errors"][0]["code"])
    assert (await upload_status(alice, location)).headers["range"] == _range(len(data))
    done = await alice.put(location, params={"digest": digest_of(data)})
    assert done.status_code == 201, done.text
    await assert_blob(alice, "alice/app", data)


async def test_method_not_allowed(registry: Berth, alice: Client) -> None:
    await alice.upload("alice/app", random_bytes(10))
    resp = await alice.post("/v2/alice/app/manifests/v1", content=b"{}")
    assert_error(resp, 405, "UNSUPPORTED")
