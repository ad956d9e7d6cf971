"""S3-only checks of blob reads (plain HTTP GETs on presigned URLs): chunking, abandoned
reads, and a backend that hangs or goes away."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import AsyncIterator

import anyio
import pytest

from berth.storage.base import READ_CHUNK_SIZE, BlobNotFound, StorageUnavailable
from berth.storage.s3 import S3BlobStorage
from devservers import Seaweed
from tests.contract.storage.conftest import MIB, S3_BUCKET
from tests.contract.storage.test_contract import Stream, payload, sha256
from tests.support.devservers import running
from tests.support.seaweed import ACCESS_KEY, SECRET_KEY

pytestmark = [pytest.mark.s3, pytest.mark.slow]

# Generous: a failing read takes about two read timeouts of 1 s plus one backoff.
FAIL_WITHIN = 20


def driver(server: dict[str, str], **kwargs) -> S3BlobStorage:
    return S3BlobStorage(
        bucket=S3_BUCKET,
        endpoint_url=server["endpoint_url"],
        access_key=server["access_key"],
        secret_key=server["secret_key"],
        prefix=f"reads/{uuid.uuid4().hex}",
        **kwargs,
    )


@pytest.fixture
async def s3(seaweed) -> AsyncIterator[S3BlobStorage]:
    storage = driver(seaweed)
    yield storage
    await storage.close()


async def stored(storage: S3BlobStorage, size: int, seed: int = 0) -> tuple[bytes, str]:
    data = payload(size, seed)
    digest = sha256(data)
    await storage.write_blob(digest, Stream(data))
    return data, digest


async def chunks_of(storage: S3BlobStorage, digest: str, offset=0, length=None) -> list[bytes]:
    return [chunk async for chunk in storage.read_blob(digest, offset, length)]


def assert_full_chunks(chunks: list[bytes]) -> None:
    """Every chunk but the last is READ_CHUNK_SIZE: the HTTP layer writes each one, so small
    pieces straight off the socket would cost a write each."""
    assert chunks
    assert [len(c) for c in chunks[:-1]] == [READ_CHUNK_SIZE] * (len(chunks) - 1)
    assert 0 < len(chunks[-1]) <= READ_CHUNK_SIZE


async def test_reads_yield_full_chunks_of_the_stored_bytes(s3: S3BlobStorage) -> None:
    data, digest = await stored(s3, 6 * MIB + 12_345)
    whole = await chunks_of(s3, digest)
    assert b"".join(whole) == data
    assert_full_chunks(whole)
    assert len(whole) == 7

    ranged = await chunks_of(s3, digest, 1_000, 4 * MIB + 3)
    assert b"".join(ranged) == data[1_000 : 1_000 + 4 * MIB + 3]
    assert_full_chunks(ranged)
    tail = await chunks_of(s3, digest, 2 * MIB + 1)
    assert b"".join(tail) == data[2 * MIB + 1 :]
    assert_full_chunks(tail)


async def test_missing_blob_with_a_range_is_not_found(s3: S3BlobStorage) -> None:
    digest = sha256(b"never stored")
    for offset, length in ((5, None), (0, 10), (10**9, None)):
        with pytest.raises(BlobNotFound):
            await chunks_of(s3, digest, offset, length)


async def test_abandoned_and_concurrent_reads(s3: S3BlobStorage) -> None:
    data, digest = await stored(s3, 5 * MIB + 7)
    # A client that goes away after the first chunk: its connection is dropped, not reused
    # with the rest of the body still in it.
    reads = [s3.read_blob(digest) for _ in range(3)]
    for read in reads:
        assert await anext(read) == data[:READ_CHUNK_SIZE]
    for read in reads:
        await read.aclose()
    results = await asyncio.gather(*(chunks_of(s3, digest) for _ in range(12)))
    assert all(b"".join(chunks) == data for chunks in results)


async def test_hung_or_stopped_backend_fails_reads_in_bounded_time(tmp_path) -> None:
    server = Seaweed(tmp_path, access_key=ACCESS_KEY, secret_key=SECRET_KEY, volume_size_mb=64)
    with running(server):
        assert server.proc is not None
        storage = driver(
            {"endpoint_url": server.endpoint, "access_key": ACCESS_KEY, "secret_key": SECRET_KEY},
            connect_timeout=1,
            read_timeout=1,
            max_attempts=2,
        )
        try:
            # More than loopback socket buffers and aiohttp's buffer hold, so a read that
            # is cut off midway has to wait for the server.
            data, digest = await stored(storage, 24 * MIB)
            assert b"".join(await chunks_of(storage, digest)) == data

            read = storage.read_blob(digest)
            assert await anext(read) == data[:READ_CHUNK_SIZE]
            os.killpg(server.proc.pid, signal.SIGSTOP)  # the backend hangs mid-body
            try:
                with anyio.fail_after(FAIL_WITHIN), pytest.raises(StorageUnavailable):
                    async for _ in read:
                        pass
                # A hung backend: the GET is sent and never answered.
                with anyio.fail_after(FAIL_WITHIN), pytest.raises(StorageUnavailable):
                    await chunks_of(storage, digest, 100)
            finally:
                os.killpg(server.proc.pid, signal.SIGCONT)
            assert b"".join(await chunks_of(storage, digest)) == data  # back to normal

            server.stop()  # gone: pooled connections close, new ones are refused
            with anyio.fail_after(FAIL_WITHIN), pytest.raises(StorageUnavailable) as info:
                await chunks_of(storage, digest)
            assert "S3 get" in str(info.value)
        finally:
            await storage.close()


def test_reads_on_uvloop_the_servers_loop(seaweed) -> None:
    """The server runs on uvloop, whose transports differ from asyncio's (connection_made
    comes a turn later, and they are not asyncio.Transport subclasses): reads, a ranged
    read and a reused keep-alive connection there."""
    import uvloop

    async def main() -> None:
        storage = driver(seaweed)
        try:
            data, digest = await stored(storage, 3 * MIB + 5, seed=7)
            kept = []
            for _ in range(2):  # the second GET reuses the first one's connection
                whole = await chunks_of(storage, digest)
                assert b"".join(whole) == data
                assert_full_chunks(whole)
                pool = storage._get_pool
                assert pool is not None
                kept.append([conn for idle in pool._idle.values() for conn in idle])
            assert len(kept[0]) == 1
            assert kept[1] == kept[0], "the kept-alive connection was used again"
            assert b"".join(await chunks_of(storage, digest, 10, MIB)) == data[10 : 10 + MIB]
            with pytest.raises(BlobNotFound):
                await chunks_of(storage, sha256(b"not there"))
        finally:
            await storage.close()

    uvloop.run(main())
