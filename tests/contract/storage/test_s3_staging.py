"""S3-only checks of how uploads are staged: part sizes, tails, and cleanup."""

from __future__ import annotations

import uuid

import aiobotocore.session
import pytest

from berth.storage.base import DigestMismatch
from berth.storage.s3 import MIN_PART_SIZE, S3BlobStorage
from tests.contract.storage.conftest import MIB, S3_BUCKET
from tests.contract.storage.test_contract import Stream, payload, sha256

pytestmark = [pytest.mark.s3, pytest.mark.slow]


@pytest.fixture
async def s3(seaweed):
    driver = S3BlobStorage(
        bucket=S3_BUCKET,
        endpoint_url=seaweed["endpoint_url"],
        access_key=seaweed["access_key"],
        secret_key=seaweed["secret_key"],
        prefix=f"staging/{uuid.uuid4().hex}",
        part_size=6 * MIB,
    )
    yield driver
    await driver.close()


@pytest.fixture
async def raw(seaweed):
    session = aiobotocore.session.get_session()
    async with session.create_client(
        "s3",
        endpoint_url=seaweed["endpoint_url"],
        aws_access_key_id=seaweed["access_key"],
        aws_secret_access_key=seaweed["secret_key"],
        region_name="us-east-1",
    ) as client:
        yield client


async def keys(raw, prefix: str) -> list[str]:
    resp = await raw.list_objects_v2(Bucket=S3_BUCKET, Prefix=prefix)
    return sorted(obj["Key"][len(prefix) :] for obj in resp.get("Contents", []))


async def test_parts_are_full_and_tail_is_small(s3: S3BlobStorage, raw) -> None:
    upload_id = "u-" + uuid.uuid4().hex
    state = await s3.create_upload(upload_id)
    sizes = [3 * MIB, 4 * MIB, 13 * MIB + 5, 1, 2 * MIB, MIB, 10]
    chunks = [payload(n, seed=i) for i, n in enumerate(sizes)]
    seen_tails = []
    for chunk in chunks:
        state, _ = await s3.append_upload(upload_id, state, state["size"], Stream(chunk))
        seen_tails.append(state["tail"])
        part_sizes = [size for _, _, size in state["parts"]]
        # Every part is a legal non-final S3 part; leftovers wait in a small tail object.
        assert all(size >= MIN_PART_SIZE for size in part_sizes)
        assert state["tail_size"] < MIN_PART_SIZE
        assert sum(part_sizes) + state["tail_size"] == state["size"]
    # 3 MiB tail; +4 -> a 6 MiB part, 1 MiB tail; +13 -> 2 parts, 2 MiB tail; +1 B; +2 MiB;
    # +1 MiB -> the 5 MiB + 6 B left over is a legal part, so it becomes one; +10 B tail.
    assert [size for _, _, size in state["parts"]] == [6 * MIB] * 3 + [5 * MIB + 6]
    assert state["tail_size"] == 10
    assert len(set(seen_tails)) == len(seen_tails)  # a new tail key for every append

    # Only the current tail and the one before it exist; older ones were cleaned up.
    staged = await keys(raw, s3.prefix + f"uploads/{upload_id}/")
    assert staged == sorted(t.rsplit("/", 1)[1] for t in seen_tails[-2:])

    data = b"".join(chunks)
    digest = sha256(data)
    assert await s3.commit_upload(upload_id, state, digest, verify=True) == len(data)
    assert await keys(raw, s3.prefix + "uploads/") == []
    resp = await raw.list_multipart_uploads(Bucket=S3_BUCKET, Prefix=s3.prefix)
    assert resp.get("Uploads", []) == []


async def test_failed_append_leftovers_are_removed_at_commit(s3: S3BlobStorage, raw) -> None:
    upload_id = "u-" + uuid.uuid4().hex
    state = await s3.create_upload(upload_id)
    junk = payload(8 * MIB)
    with pytest.raises(ConnectionResetError):
        # Fails after a part was uploaded to a multipart upload the state never saw.
        await s3.append_upload(upload_id, state, 0, Stream(junk, fail_after=7 * MIB))
    resp = await raw.list_multipart_uploads(Bucket=S3_BUCKET, Prefix=s3.prefix)
    assert len(resp.get("Uploads", [])) == 1
    data = payload(100)
    state, _ = await s3.append_upload(upload_id, state, 0, Stream(data))
    await s3.commit_upload(upload_id, state, sha256(data), verify=True)
    assert await keys(raw, s3.prefix + "uploads/") == []
    resp = await raw.list_multipart_uploads(Bucket=S3_BUCKET, Prefix=s3.prefix)
    assert resp.get("Uploads", []) == []


async def test_bucket_is_created_on_first_use(seaweed) -> None:
    bucket = "berth-new-" + uuid.uuid4().hex[:8]
    driver = S3BlobStorage(
        bucket=bucket,
        endpoint_url=seaweed["endpoint_url"],
        access_key=seaweed["access_key"],
        secret_key=seaweed["secret_key"],
    )
    try:
        await driver.open()
        await driver.write_blob(sha256(b"hi"), Stream(b"hi"))
        assert await driver.stat_blob(sha256(b"hi")) == 2
    finally:
        await driver.close()


async def test_write_blob_mismatch_aborts_its_multipart_upload(s3: S3BlobStorage, raw) -> None:
    data = payload(13 * MIB)
    with pytest.raises(DigestMismatch):
        await s3.write_blob(sha256(b"other"), Stream(data))
    resp = await raw.list_multipart_uploads(Bucket=S3_BUCKET, Prefix=s3.prefix)
    assert resp.get("Uploads", []) == []
    assert await keys(raw, s3.prefix) == []
