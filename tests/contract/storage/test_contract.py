"""The blob storage contract, run against every driver (filesystem, memory, S3)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import httpx
import pytest

from berth.storage.base import (
    READ_CHUNK_SIZE,
    BlobNotFound,
    BlobStorage,
    DigestMismatch,
    UploadNotFound,
)
from tests.contract.storage.conftest import MIB, S3_PART_SIZE

# Odd chunk sizes, as request bodies arrive in whatever pieces the network produced.
CHUNK_PATTERN = (65_536, 1, 4_093, 300_007, 17, 1_048_577)


def payload(size: int, seed: int = 0) -> bytes:
    return random.Random(seed * 1_000_003 + size).randbytes(size)


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def sha512(data: bytes) -> str:
    return "sha512:" + hashlib.sha512(data).hexdigest()


class Stream:
    """An async body that yields ``data`` in odd-sized chunks, optionally failing midway."""

    def __init__(self, data: bytes, *, fail_after: int | None = None) -> None:
        self.data = data
        self.fail_after = fail_after
        self.consumed = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        pos, i = 0, 0
        while pos < len(self.data):
            if self.fail_after is not None and pos >= self.fail_after:
                break
            n = CHUNK_PATTERN[i % len(CHUNK_PATTERN)]
            if self.fail_after is not None:
                n = min(n, self.fail_after - pos)
            chunk = self.data[pos : pos + n]
            pos += len(chunk)
            self.consumed = pos
            i += 1
            yield chunk
        if self.fail_after is not None:
            raise ConnectionResetError("client went away mid-upload")


async def read_all(
    storage: BlobStorage, digest: str, offset: int = 0, length=None, *, transient: bool = False
) -> bytes:
    """The blob's bytes, each chunk copied before the next is asked for (as the HTTP server
    consumes a transient read)."""
    out = bytearray()
    async for chunk in storage.read_blob(digest, offset, length, transient=transient):
        assert len(chunk) <= READ_CHUNK_SIZE
        out += chunk
    return bytes(out)


async def listed_blobs(storage: BlobStorage) -> list[str]:
    return sorted([d async for d in storage.list_blobs()])


async def listed_uploads(storage: BlobStorage) -> dict[str, float]:
    return {upload_id: when async for upload_id, when in storage.list_uploads()}


def as_stored(state: dict) -> dict:
    """The caller keeps state in its database: it must survive a JSON round trip."""
    return json.loads(json.dumps(state))


async def upload(storage: BlobStorage, pieces: Iterable[bytes]) -> tuple[str, dict, int]:
    upload_id = uuid.uuid4().hex
    state = as_stored(await storage.create_upload(upload_id))
    total = 0
    for piece in pieces:
        new_state, size = await storage.append_upload(upload_id, state, total, Stream(piece))
        total += len(piece)
        assert size == total
        state = as_stored(new_state)
    return upload_id, state, total


# -- whole blobs --------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, MIB + 17, S3_PART_SIZE + MIB + 3])
async def test_write_blob_round_trip(storage: BlobStorage, size: int) -> None:
    data = payload(size)
    digest = sha256(data)
    assert await storage.write_blob(digest, Stream(data)) == size
    assert await storage.stat_blob(digest) == size
    assert await read_all(storage, digest) == data
    assert await listed_blobs(storage) == [digest]
    assert await listed_uploads(storage) == {}


async def test_sha512_blob(storage: BlobStorage) -> None:
    data = payload(1000)
    digest = sha512(data)
    assert await storage.write_blob(digest, Stream(data)) == 1000
    assert await read_all(storage, digest) == data
    assert await listed_blobs(storage) == [digest]


async def test_read_ranges(storage: BlobStorage) -> None:
    data = payload(3 * MIB + 5)
    size = len(data)
    digest = sha256(data)
    await storage.write_blob(digest, Stream(data))
    assert await read_all(storage, digest, 0, 10) == data[:10]
    assert await read_all(storage, digest, 5) == data[5:]
    assert await read_all(storage, digest, MIB - 1, MIB + 2) == data[MIB - 1 : 2 * MIB + 1]
    assert await read_all(storage, digest, size - 1, 1) == data[-1:]
    assert await read_all(storage, digest, 10, 2 * size) == data[10:]
    assert await read_all(storage, digest, 100, 0) == b""
    assert await read_all(storage, digest, size) == b""
    assert await read_all(storage, digest, size + 10) == b""


async def test_read_zero_byte_blob(storage: BlobStorage) -> None:
    digest = sha256(b"")
    await storage.write_blob(digest, Stream(b""))
    assert await read_all(storage, digest) == b""
    assert await read_all(storage, digest, 0, 0) == b""


async def test_missing_blob(storage: BlobStorage) -> None:
    digest = sha256(b"never stored")
    with pytest.raises(BlobNotFound) as info:
        await storage.stat_blob(digest)
    assert info.value.digest == digest
    with pytest.raises(BlobNotFound):
        await read_all(storage, digest)
    with pytest.raises(BlobNotFound):
        await read_all(storage, digest, 5, 0)


async def test_malformed_digest_is_rejected_before_any_io(storage: BlobStorage) -> None:
    for bad in ("sha256:../../etc/passwd", "md5:abcd", "sha256:" + "A" * 64, "nocolon"):
        with pytest.raises(ValueError, match="digest"):
            await storage.stat_blob(bad)


@pytest.mark.parametrize("size", [10, S3_PART_SIZE * 2 + 1])
async def test_write_blob_digest_mismatch_stores_nothing(storage: BlobStorage, size) -> None:
    data = payload(size)
    claimed = sha256(b"something else")
    with pytest.raises(DigestMismatch) as info:
        await storage.write_blob(claimed, Stream(data))
    assert info.value.expected == claimed
    assert info.value.actual == sha256(data)
    with pytest.raises(BlobNotFound):
        await storage.stat_blob(claimed)
    with pytest.raises(BlobNotFound):
        await storage.stat_blob(sha256(data))
    assert await listed_blobs(storage) == []
    assert await listed_uploads(storage) == {}


async def test_write_blob_already_present_drains_the_body(storage: BlobStorage) -> None:
    data = payload(2 * MIB)
    digest = sha256(data)
    await storage.write_blob(digest, Stream(data))
    again = Stream(data)
    assert await storage.write_blob(digest, again) == len(data)
    assert again.consumed == len(data)
    assert await read_all(storage, digest) == data
    with pytest.raises(DigestMismatch):
        await storage.write_blob(digest, Stream(b"not the content"))
    assert await read_all(storage, digest) == data


async def test_delete_is_idempotent(storage: BlobStorage) -> None:
    data = payload(100)
    digest = sha256(data)
    await storage.write_blob(digest, Stream(data))
    await storage.delete_blob(digest)
    await storage.delete_blob(digest)
    with pytest.raises(BlobNotFound):
        await storage.stat_blob(digest)
    assert await listed_blobs(storage) == []


async def test_list_blobs(storage: BlobStorage) -> None:
    blobs = [payload(n, seed=n) for n in (1, 2, 3, 300)]
    for data in blobs:
        await storage.write_blob(sha256(data), Stream(data))
    assert await listed_blobs(storage) == sorted(sha256(d) for d in blobs)


async def test_local_path_and_redirect(storage: BlobStorage) -> None:
    data = payload(1234)
    digest = sha256(data)
    await storage.write_blob(digest, Stream(data))
    path = storage.local_path(digest)
    url = await storage.redirect_url(digest, expires_in=60)
    if storage.driver_name == "filesystem":
        assert path is not None
        assert Path(path).is_absolute()
        assert Path(path).read_bytes() == data  # noqa: ASYNC240 - a test reading a small file
    else:
        assert path is None
    if storage.driver_name == "s3":
        assert url is not None
        async with httpx.AsyncClient() as client:
            resp = await client.get(url)
            assert resp.status_code == 200
            assert resp.content == data
            named = await storage.redirect_url(digest, filename="layer.tar.gz")
            assert named is not None
            resp = await client.get(named)
            assert resp.content == data
            assert resp.headers["content-disposition"] == 'attachment; filename="layer.tar.gz"'
    else:
        assert url is None


# -- resumable uploads --------------------------------------------------------------------

ODD_APPENDS = [0, 1, 4095, 3 * MIB + 7, S3_PART_SIZE + MIB + 3, S3_PART_SIZE, 0, 123, 2 * MIB]


async def test_chunked_upload_of_odd_sizes(storage: BlobStorage) -> None:
    pieces = [payload(n, seed=i) for i, n in enumerate(ODD_APPENDS)]
    data = b"".join(pieces)
    upload_id, state, total = await upload(storage, pieces)
    assert total == len(data)
    assert upload_id in await listed_uploads(storage)
    digest = sha256(data)
    assert await storage.commit_upload(upload_id, state, digest, verify=True) == len(data)
    assert await storage.stat_blob(digest) == len(data)
    assert await read_all(storage, digest) == data
    assert await listed_uploads(storage) == {}
    assert await listed_blobs(storage) == [digest]


@pytest.mark.parametrize(
    "pieces",
    [[], [0], [1], [S3_PART_SIZE - 1], [S3_PART_SIZE], [S3_PART_SIZE, 0], [MIB, MIB]],
    ids=[
        "no-append",
        "empty-append",
        "one-byte",
        "under-a-part",
        "one-part",
        "part-then-0",
        "2x1M",
    ],
)
@pytest.mark.parametrize("verify", [True, False])
async def test_small_and_boundary_uploads(storage: BlobStorage, pieces, verify) -> None:
    parts = [payload(n, seed=i) for i, n in enumerate(pieces)]
    data = b"".join(parts)
    upload_id, state, _ = await upload(storage, parts)
    digest = sha256(data)
    assert await storage.commit_upload(upload_id, state, digest, verify=verify) == len(data)
    assert await read_all(storage, digest) == data
    assert await listed_uploads(storage) == {}


@pytest.mark.parametrize("size", [10, 2 * S3_PART_SIZE + 1])
async def test_commit_verify_mismatch_stores_nothing(storage: BlobStorage, size: int) -> None:
    data = payload(size)
    upload_id, state, _ = await upload(storage, [data[: size // 2], data[size // 2 :]])
    claimed = sha256(b"a different blob")
    with pytest.raises(DigestMismatch) as info:
        await storage.commit_upload(upload_id, state, claimed, verify=True)
    assert info.value.expected == claimed
    assert info.value.actual == sha256(data)
    with pytest.raises(BlobNotFound):
        await storage.stat_blob(claimed)
    assert await listed_blobs(storage) == []
    assert await listed_uploads(storage) == {}


@pytest.mark.parametrize(
    ("acked", "fail_after"),
    [
        (0, 0),
        (0, 1000),
        (2 * MIB, 0),
        (2 * MIB, 3 * MIB + 5),
        (2 * MIB, S3_PART_SIZE + MIB),
        (S3_PART_SIZE + 7, 2 * S3_PART_SIZE + 1),
    ],
)
async def test_failed_append_leaves_old_state_usable(
    storage: BlobStorage, acked: int, fail_after: int
) -> None:
    first = payload(acked, seed=1)
    rest = payload(S3_PART_SIZE + 2 * MIB + 1, seed=2)
    upload_id, state, offset = await upload(storage, [first])
    junk = payload(fail_after + MIB, seed=3)

    with pytest.raises(ConnectionResetError):
        await storage.append_upload(upload_id, state, offset, Stream(junk, fail_after=fail_after))

    # The caller kept the old state and the client resumes from the old offset.
    new_state, total = await storage.append_upload(upload_id, state, offset, Stream(rest))
    assert total == acked + len(rest)
    digest = sha256(first + rest)
    size = await storage.commit_upload(upload_id, as_stored(new_state), digest, verify=True)
    assert size == total
    assert await read_all(storage, digest) == first + rest
    assert await listed_uploads(storage) == {}


async def test_append_at_wrong_offset_is_rejected(storage: BlobStorage) -> None:
    upload_id, state, total = await upload(storage, [b"abc"])
    with pytest.raises(ValueError, match="offset"):
        await storage.append_upload(upload_id, state, total + 1, Stream(b"x"))
    with pytest.raises(ValueError, match="offset"):
        await storage.append_upload(upload_id, state, 0, Stream(b"x"))
    # ...and the upload is still fine.
    new_state, _ = await storage.append_upload(upload_id, state, total, Stream(b"def"))
    await storage.commit_upload(upload_id, new_state, sha256(b"abcdef"), verify=True)
    assert await read_all(storage, sha256(b"abcdef")) == b"abcdef"


async def test_abort(storage: BlobStorage) -> None:
    upload_id, state, total = await upload(storage, [payload(S3_PART_SIZE + 10)])
    await storage.abort_upload(upload_id, state)
    assert await listed_uploads(storage) == {}
    await storage.abort_upload(upload_id, state)
    with pytest.raises(UploadNotFound) as info:
        await storage.append_upload(upload_id, state, total, Stream(b"more"))
    assert info.value.upload_id == upload_id
    with pytest.raises(UploadNotFound):
        await storage.commit_upload(upload_id, state, sha256(b""), verify=True)
    assert await listed_blobs(storage) == []


async def test_list_uploads(storage: BlobStorage) -> None:
    before = time.time()
    first, _, _ = await upload(storage, [b"one"])
    second, _, _ = await upload(storage, [])
    listed = await listed_uploads(storage)
    assert set(listed) == {first, second}
    for when in listed.values():
        # Generous: S3 servers report whole seconds and clocks may differ a little.
        assert before - 5 <= when <= time.time() + 5


async def test_identical_uploads_dedupe(storage: BlobStorage) -> None:
    data = payload(S3_PART_SIZE + 3)
    digest = sha256(data)
    one, state_one, _ = await upload(storage, [data[:100], data[100:]])
    two, state_two, _ = await upload(storage, [data])
    assert await storage.commit_upload(one, state_one, digest, verify=True) == len(data)
    assert await storage.commit_upload(two, state_two, digest, verify=True) == len(data)
    assert await listed_blobs(storage) == [digest]
    assert await listed_uploads(storage) == {}
    assert await read_all(storage, digest) == data


async def test_upload_then_write_blob_of_same_digest(storage: BlobStorage) -> None:
    data = payload(777)
    digest = sha256(data)
    upload_id, state, _ = await upload(storage, [data])
    assert await storage.write_blob(digest, Stream(data)) == 777
    assert await storage.commit_upload(upload_id, state, digest, verify=False) == 777
    assert await listed_blobs(storage) == [digest]
    assert await read_all(storage, digest) == data


async def test_transient_reads_copied_chunk_by_chunk(storage: BlobStorage) -> None:
    """A transient read may hand out the driver's own buffers, each valid until the next
    chunk is asked for: copied in time, they add up to the stored bytes, whole or ranged,
    with several reads interleaved."""
    data = payload(4 * MIB + 9)
    digest = sha256(data)
    await storage.write_blob(digest, Stream(data))
    assert await read_all(storage, digest, transient=True) == data
    ranged = await read_all(storage, digest, MIB + 1, 2 * MIB, transient=True)
    assert ranged == data[MIB + 1 : 3 * MIB + 1]
    assert await read_all(storage, digest, 4 * MIB, transient=True) == data[4 * MIB :]
    reads = (read_all(storage, digest, transient=True) for _ in range(4))
    results = await asyncio.gather(*reads)
    assert all(result == data for result in results)
