"""S3 driver behaviour that needs no server: an unreachable endpoint is StorageUnavailable."""

from __future__ import annotations

import socket

import pytest

from berth.storage.base import StorageUnavailable
from berth.storage.s3 import S3BlobStorage

DIGEST = "sha256:" + "0" * 64


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def unreachable():
    storage = S3BlobStorage(
        bucket="berth",
        endpoint_url=f"http://127.0.0.1:{closed_port()}",
        access_key="AK",
        secret_key="SK",
        connect_timeout=1,
        max_attempts=1,
    )
    yield storage
    await storage.close()


async def test_unreachable_endpoint_is_unavailable(unreachable: S3BlobStorage) -> None:
    with pytest.raises(StorageUnavailable):
        await unreachable.stat_blob(DIGEST)
    with pytest.raises(StorageUnavailable):
        async for _ in unreachable.read_blob(DIGEST):
            pass
    with pytest.raises(StorageUnavailable):
        await unreachable.create_upload("u1")


def test_part_size_must_be_legal() -> None:
    with pytest.raises(ValueError, match="part_size"):
        S3BlobStorage(bucket="b", part_size=1024 * 1024)


async def test_presign_disabled_returns_none(unreachable: S3BlobStorage) -> None:
    assert await unreachable.redirect_url(DIGEST) is None
    assert unreachable.local_path(DIGEST) is None
