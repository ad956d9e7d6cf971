"""Fixtures for the storage contract suite: one ``storage`` fixture per driver."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from berth.storage.base import BlobStorage
from tests.support.seaweed import seaweed_server

MIB = 1024 * 1024
# The smallest part S3 allows, so modest test data already spans several parts.
S3_PART_SIZE = 5 * MIB
S3_BUCKET = "berth-contract"


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    yield from seaweed_server(tmp_path_factory)


DRIVERS = [
    "filesystem",
    "memory",
    pytest.param("s3", marks=[pytest.mark.s3, pytest.mark.slow]),
]


@pytest.fixture(params=DRIVERS)
async def storage(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[BlobStorage]:
    driver: BlobStorage
    if request.param == "filesystem":
        from berth.storage.filesystem import FilesystemBlobStorage

        driver = FilesystemBlobStorage(str(tmp_path / "storage"))
    elif request.param == "memory":
        from berth.storage.memory import InMemoryBlobStorage

        driver = InMemoryBlobStorage()
    else:
        from berth.storage.s3 import S3BlobStorage

        server = request.getfixturevalue("seaweed")
        driver = S3BlobStorage(
            bucket=S3_BUCKET,
            endpoint_url=server["endpoint_url"],
            access_key=server["access_key"],
            secret_key=server["secret_key"],
            # A fresh prefix per test keeps list_blobs/list_uploads independent.
            prefix=f"/contract/{uuid.uuid4().hex}/",
            presign=True,
            part_size=S3_PART_SIZE,
        )
    try:
        yield driver
    finally:
        await driver.close()
