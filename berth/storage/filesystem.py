"""Blob storage on a local (or mounted) filesystem.

All blocking I/O runs in worker threads (``anyio.to_thread``), in large batches so a
thread hop is paid per few MiB, not per request-body chunk. Files appear under their
final name only through ``rename`` after ``fsync``, and the directory is fsynced after
the rename, so a crash never leaves a half-written blob under a digest.

Upload staging is ``uploads/<id>/data``; the state is ``{"size": n}`` where ``n`` is
the size the caller recorded. Bytes past ``n`` (from an append that failed) are
ignored and overwritten by the next append, which is what keeps an old state valid.
"""

from __future__ import annotations

import errno
import os
import shutil
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator
from contextlib import contextmanager, suppress
from typing import BinaryIO

import anyio
import anyio.to_thread

from berth.storage.base import (
    READ_CHUNK_SIZE,
    BlobNotFound,
    DigestMismatch,
    StorageError,
    StorageUnavailable,
    UploadNotFound,
    UploadState,
    check_append_offset,
    resolve_range,
)
from berth.storage.hashing import DigestHasher, drain_and_hash
from berth.storage.paths import (
    BLOBS_DIR,
    TMP_DIR,
    UPLOADS_DIR,
    blob_path,
    check_upload_id,
    digest_from_blob_path,
    upload_data_path,
    upload_dir,
)

# Request bodies arrive in small chunks (often 64 KiB); they are gathered into
# batches of this size before one thread hop writes (and hashes) them.
WRITE_BATCH_SIZE = 8 * 1024 * 1024
# Reads used to hash staged data at commit time.
VERIFY_READ_SIZE = 8 * 1024 * 1024

_UNAVAILABLE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, errno.ESTALE}


@contextmanager
def _os_errors(what: str) -> Iterator[None]:
    """Turn OSErrors other than "not found" into storage errors."""
    try:
        yield
    except StorageError:
        raise
    except FileNotFoundError:
        raise
    except OSError as exc:
        if exc.errno in _UNAVAILABLE_ERRNOS:
            raise StorageUnavailable(f"{what}: {exc}", driver="filesystem") from exc
        raise StorageError(f"{what}: {exc}") from exc


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _makedirs_durable(path: str) -> None:
    """``os.makedirs`` that also fsyncs the parent of every directory it creates, so a
    renamed-in file is not lost with a directory entry after a power failure."""
    if os.path.isdir(path):
        return
    parent = os.path.dirname(path)
    if parent != path:
        _makedirs_durable(parent)
    try:
        os.mkdir(path)
    except FileExistsError:
        return
    _fsync_dir(parent)


async def _pump(chunks: AsyncIterable[bytes], sink: Callable[[bytes], object], what: str) -> int:
    """Feed ``chunks`` to ``sink`` (run in a thread) in batches; returns the byte count.

    Only the sink's OSErrors are translated: whatever the body iterator raises (a client
    disconnect is often an OSError too) propagates unchanged.
    """
    total = 0
    batch: list[bytes] = []
    batched = 0
    async for chunk in chunks:
        if not chunk:
            continue
        batch.append(chunk)
        batched += len(chunk)
        if batched >= WRITE_BATCH_SIZE:
            data = batch[0] if len(batch) == 1 else b"".join(batch)
            batch, batched = [], 0
            with _os_errors(what):
                await anyio.to_thread.run_sync(sink, data)
            total += len(data)
    if batch:
        data = b"".join(batch)
        with _os_errors(what):
            await anyio.to_thread.run_sync(sink, data)
        total += len(data)
    return total


class FilesystemBlobStorage:
    driver_name = "filesystem"

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)

    # -- paths -------------------------------------------------------------------------

    def _abs(self, rel: str) -> str:
        return os.path.join(self.root, *rel.split("/"))

    def local_path(self, digest: str) -> str | None:
        return self._abs(blob_path(digest))

    # -- blobs -------------------------------------------------------------------------

    async def stat_blob(self, digest: str) -> int:
        path = self._abs(blob_path(digest))
        try:
            with _os_errors(f"stat {digest}"):
                st = await anyio.to_thread.run_sync(os.stat, path)
        except FileNotFoundError:
            raise BlobNotFound(digest) from None
        return st.st_size

    async def read_blob(
        self, digest: str, offset: int = 0, length: int | None = None, *, transient: bool = False
    ) -> AsyncIterator[bytes]:
        path = self._abs(blob_path(digest))

        def _open() -> tuple[BinaryIO, int]:
            f = open(path, "rb", buffering=0)  # noqa: SIM115 - closed in the finally below
            return f, os.fstat(f.fileno()).st_size

        try:
            with _os_errors(f"open {digest}"):
                f, size = await anyio.to_thread.run_sync(_open)
        except FileNotFoundError:
            raise BlobNotFound(digest) from None
        try:
            start, end = resolve_range(size, offset, length)
            pos = start
            while pos < end:
                n = min(READ_CHUNK_SIZE, end - pos)
                with _os_errors(f"read {digest}"):
                    data = await anyio.to_thread.run_sync(os.pread, f.fileno(), n, pos)
                if not data:  # the file shrank under us; it never should
                    raise StorageError(f"blob {digest} is shorter than its recorded size")
                pos += len(data)
                yield data
        finally:
            f.close()

    async def redirect_url(
        self, digest: str, *, expires_in: int = 600, filename: str | None = None
    ) -> str | None:
        return None

    async def write_blob(self, digest: str, chunks: AsyncIterable[bytes]) -> int:
        target = self._abs(blob_path(digest))
        hasher = DigestHasher(digest)
        if await anyio.to_thread.run_sync(os.path.exists, target):
            await drain_and_hash(chunks, hasher)
            if not hasher.matches():
                raise DigestMismatch(digest, hasher.actual)
            # Not stat_blob: the collector may take the file meanwhile (the link detects it).
            return hasher.size

        tmp_dir = self._abs(TMP_DIR)
        tmp = os.path.join(tmp_dir, uuid.uuid4().hex)

        def _open() -> BinaryIO:
            os.makedirs(tmp_dir, exist_ok=True)
            return open(tmp, "xb", buffering=0)

        with _os_errors(f"write {digest}"):
            f = await anyio.to_thread.run_sync(_open)
        published = False
        try:

            def _sink(data: bytes) -> None:
                hasher.update(data)
                f.write(data)

            size = await _pump(chunks, _sink, f"write {digest}")
            if not hasher.matches():
                raise DigestMismatch(digest, hasher.actual)

            def _publish() -> None:
                os.fsync(f.fileno())
                f.close()
                _makedirs_durable(os.path.dirname(target))
                os.replace(tmp, target)
                _fsync_dir(os.path.dirname(target))

            with _os_errors(f"write {digest}"):
                await anyio.to_thread.run_sync(_publish)
            published = True
            return size
        finally:
            f.close()
            if not published:
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(_unlink_quietly, tmp)

    async def delete_blob(self, digest: str) -> None:
        path = self._abs(blob_path(digest))
        with _os_errors(f"delete {digest}"):
            await anyio.to_thread.run_sync(_unlink_quietly, path)

    async def list_blobs(self) -> AsyncIterator[str]:
        blobs = self._abs(BLOBS_DIR)
        for alg in await anyio.to_thread.run_sync(_listdir, blobs):
            for shard in await anyio.to_thread.run_sync(_listdir, os.path.join(blobs, alg)):
                names = await anyio.to_thread.run_sync(_listdir, os.path.join(blobs, alg, shard))
                for name in names:
                    digest = digest_from_blob_path(f"{BLOBS_DIR}/{alg}/{shard}/{name}")
                    if digest is not None:
                        yield digest

    # -- uploads -----------------------------------------------------------------------

    async def create_upload(self, upload_id: str) -> UploadState:
        directory = self._abs(upload_dir(upload_id))
        data = self._abs(upload_data_path(upload_id))

        def _create() -> None:
            _makedirs_durable(directory)
            with open(data, "wb"):
                pass
            _fsync_dir(directory)

        with _os_errors(f"create upload {upload_id}"):
            await anyio.to_thread.run_sync(_create)
        return {"size": 0}

    async def append_upload(
        self, upload_id: str, state: UploadState, offset: int, chunks: AsyncIterable[bytes]
    ) -> tuple[UploadState, int]:
        size = check_append_offset(state, offset)
        data_path = self._abs(upload_data_path(upload_id))

        def _open() -> BinaryIO:
            f = open(data_path, "r+b", buffering=0)  # noqa: SIM115 - closed below
            if os.fstat(f.fileno()).st_size < size:
                f.close()
                raise UploadNotFound(upload_id, f"staged data is shorter than recorded {size}")
            f.seek(size)
            return f

        try:
            with _os_errors(f"append to upload {upload_id}"):
                f = await anyio.to_thread.run_sync(_open)
        except FileNotFoundError:
            raise UploadNotFound(upload_id) from None
        try:
            written = await _pump(chunks, f.write, f"append to upload {upload_id}")
            total = size + written

            def _finish() -> None:
                # Drop bytes an earlier failed append left past the new end, then make
                # what we acknowledge durable.
                f.truncate(total)
                os.fsync(f.fileno())

            with _os_errors(f"append to upload {upload_id}"):
                await anyio.to_thread.run_sync(_finish)
        finally:
            f.close()
        return {"size": total}, total

    async def commit_upload(
        self, upload_id: str, state: UploadState, digest: str, *, verify: bool
    ) -> int:
        size = int(state["size"])
        target = self._abs(blob_path(digest))
        directory = self._abs(upload_dir(upload_id))
        data_path = self._abs(upload_data_path(upload_id))

        def _commit() -> int:
            with open(data_path, "r+b", buffering=0) as f:
                actual_size = os.fstat(f.fileno()).st_size
                if actual_size < size:
                    raise UploadNotFound(upload_id, f"staged data is shorter than recorded {size}")
                if actual_size > size:
                    f.truncate(size)
                if verify:
                    hasher = DigestHasher(digest)
                    while chunk := f.read(VERIFY_READ_SIZE):
                        hasher.update(chunk)
                    if not hasher.matches():
                        shutil.rmtree(directory, ignore_errors=True)
                        raise DigestMismatch(digest, hasher.actual)
                if os.path.exists(target):
                    # Same digest, same bytes: the size is ours. Not stat(target): the
                    # collector may remove it meanwhile, which the caller's link detects.
                    shutil.rmtree(directory, ignore_errors=True)
                    return size
                os.fsync(f.fileno())
            _makedirs_durable(os.path.dirname(target))
            os.replace(data_path, target)
            _fsync_dir(os.path.dirname(target))
            shutil.rmtree(directory, ignore_errors=True)
            return size

        try:
            with _os_errors(f"commit upload {upload_id}"):
                return await anyio.to_thread.run_sync(_commit)
        except FileNotFoundError:
            raise UploadNotFound(upload_id) from None

    async def abort_upload(self, upload_id: str, state: UploadState) -> None:
        directory = self._abs(upload_dir(upload_id))

        def _remove() -> None:
            with suppress(FileNotFoundError):
                shutil.rmtree(directory)

        with _os_errors(f"abort upload {upload_id}"):
            await anyio.to_thread.run_sync(_remove)

    async def list_uploads(self) -> AsyncIterator[tuple[str, float]]:
        uploads = self._abs(UPLOADS_DIR)

        def _scan() -> list[tuple[str, float]]:
            found = []
            for name in _listdir(uploads):
                try:
                    check_upload_id(name)
                except ValueError:
                    continue
                directory = os.path.join(uploads, name)
                try:
                    mtime = os.stat(os.path.join(directory, "data")).st_mtime
                except FileNotFoundError:
                    try:
                        mtime = os.stat(directory).st_mtime
                    except FileNotFoundError:
                        continue
                found.append((name, mtime))
            return found

        with _os_errors("list uploads"):
            found = await anyio.to_thread.run_sync(_scan)
        for item in found:
            yield item

    async def close(self) -> None:
        return None


def _unlink_quietly(path: str) -> None:
    with suppress(FileNotFoundError):
        os.unlink(path)


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except FileNotFoundError:
        return []
