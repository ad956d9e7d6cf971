"""Filesystem driver details the contract suite can't see: files on disk."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator

import pytest

from berth.storage.base import DigestMismatch, UploadNotFound
from berth.storage.filesystem import FilesystemBlobStorage


async def body(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def files_under(root) -> list[str]:
    return sorted(
        os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs
    )


def append_junk(path) -> None:
    with open(path, "ab") as f:
        f.write(b"junk from a dead process")


async def test_blob_lands_at_documented_path(tmp_path) -> None:
    storage = FilesystemBlobStorage(str(tmp_path))
    digest = sha256(b"hello")
    await storage.write_blob(digest, body(b"hel", b"lo"))
    hexpart = digest.split(":")[1]
    assert files_under(tmp_path) == [f"blobs/sha256/{hexpart[:2]}/{hexpart}"]
    assert storage.local_path(digest) == str(tmp_path / "blobs" / "sha256" / hexpart[:2] / hexpart)


async def test_mismatch_leaves_no_temp_file(tmp_path) -> None:
    storage = FilesystemBlobStorage(str(tmp_path))
    with pytest.raises(DigestMismatch):
        await storage.write_blob(sha256(b"x"), body(b"y"))
    assert files_under(tmp_path) == []


async def test_failing_body_leaves_no_temp_file(tmp_path) -> None:
    storage = FilesystemBlobStorage(str(tmp_path))

    async def broken() -> AsyncIterator[bytes]:
        yield b"partial"
        raise ConnectionResetError("gone")

    with pytest.raises(ConnectionResetError):
        await storage.write_blob(sha256(b"partial and more"), broken())
    assert files_under(tmp_path) == []


async def test_commit_publishes_only_acknowledged_bytes(tmp_path) -> None:
    storage = FilesystemBlobStorage(str(tmp_path))
    state = await storage.create_upload("u1")
    state, _ = await storage.append_upload("u1", state, 0, body(b"good"))
    # A crashed append left junk past the recorded size.
    append_junk(tmp_path / "uploads" / "u1" / "data")
    assert await storage.commit_upload("u1", state, sha256(b"good"), verify=False) == 4
    assert (tmp_path / "blobs" / "sha256").is_dir()
    assert files_under(tmp_path / "uploads") == []
    chunks = [c async for c in storage.read_blob(sha256(b"good"))]
    assert b"".join(chunks) == b"good"


async def test_staging_shorter_than_state_is_upload_not_found(tmp_path) -> None:
    storage = FilesystemBlobStorage(str(tmp_path))
    state = await storage.create_upload("u1")
    with pytest.raises(UploadNotFound):
        await storage.append_upload("u1", {"size": 10}, 10, body(b"x"))
    with pytest.raises(UploadNotFound):
        await storage.commit_upload("u1", {"size": 10}, sha256(b""), verify=True)
    assert state == {"size": 0}


async def test_existing_blob_collected_during_a_rewrite_is_not_an_error(tmp_path) -> None:
    """The collector may delete a blob while a client re-pushes it: the write reports the
    size it hashed and leaves detecting the loss to the link (which answers a retryable
    BLOB_UPLOAD_INVALID), instead of failing with a 500 on a stat of the vanished file."""
    storage = FilesystemBlobStorage(str(tmp_path))
    digest = sha256(b"shared layer")
    await storage.write_blob(digest, body(b"shared layer"))

    async def collected_midway() -> AsyncIterator[bytes]:
        yield b"shared "
        await storage.delete_blob(digest)
        yield b"layer"

    assert await storage.write_blob(digest, collected_midway()) == len(b"shared layer")


async def test_commit_onto_a_blob_collected_meanwhile_reports_its_size(
    tmp_path, monkeypatch
) -> None:
    storage = FilesystemBlobStorage(str(tmp_path))
    digest = sha256(b"good")
    await storage.write_blob(digest, body(b"good"))
    state = await storage.create_upload("u1")
    state, _ = await storage.append_upload("u1", state, 0, body(b"good"))
    target = storage.local_path(digest)
    real_exists = os.path.exists

    def exists_then_collected(path) -> bool:
        found = real_exists(path)
        if path == target and found:
            os.unlink(path)  # the collector, right after the existence check
        return found

    monkeypatch.setattr(os.path, "exists", exists_then_collected)
    assert await storage.commit_upload("u1", state, digest, verify=True) == 4
    monkeypatch.undo()
    assert files_under(tmp_path / "uploads") == []
