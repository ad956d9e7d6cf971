"""In-memory blob storage for unit tests: the full contract, nothing survives the process."""

from __future__ import annotations

import time
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass, field

from berth.oci.digest import parse_digest
from berth.storage.base import (
    READ_CHUNK_SIZE,
    BlobNotFound,
    DigestMismatch,
    UploadNotFound,
    UploadState,
    check_append_offset,
    resolve_range,
)
from berth.storage.hashing import DigestHasher
from berth.storage.paths import check_upload_id


@dataclass
class _Upload:
    data: bytearray = field(default_factory=bytearray)
    modified: float = field(default_factory=time.time)


class InMemoryBlobStorage:
    driver_name = "memory"

    def __init__(self) -> None:
        self._blobs: dict[str, bytes] = {}
        self._uploads: dict[str, _Upload] = {}

    def _blob(self, digest: str) -> bytes:
        parse_digest(digest)
        try:
            return self._blobs[digest]
        except KeyError:
            raise BlobNotFound(digest) from None

    def _upload(self, upload_id: str) -> _Upload:
        check_upload_id(upload_id)
        try:
            return self._uploads[upload_id]
        except KeyError:
            raise UploadNotFound(upload_id) from None

    async def stat_blob(self, digest: str) -> int:
        return len(self._blob(digest))

    async def read_blob(
        self, digest: str, offset: int = 0, length: int | None = None, *, transient: bool = False
    ) -> AsyncIterator[bytes]:
        data = self._blob(digest)
        start, end = resolve_range(len(data), offset, length)
        view = memoryview(data)
        for pos in range(start, end, READ_CHUNK_SIZE):
            yield bytes(view[pos : min(end, pos + READ_CHUNK_SIZE)])

    def local_path(self, digest: str) -> str | None:
        return None

    async def redirect_url(
        self, digest: str, *, expires_in: int = 600, filename: str | None = None
    ) -> str | None:
        return None

    async def write_blob(self, digest: str, chunks: AsyncIterable[bytes]) -> int:
        hasher = DigestHasher(digest)
        buf = bytearray()
        existing = self._blobs.get(digest)
        async for chunk in chunks:
            hasher.update(chunk)
            if existing is None:
                buf += chunk
        if not hasher.matches():
            raise DigestMismatch(digest, hasher.actual)
        if existing is not None:
            return len(existing)
        return len(self._blobs.setdefault(digest, bytes(buf)))

    async def delete_blob(self, digest: str) -> None:
        parse_digest(digest)
        self._blobs.pop(digest, None)

    async def list_blobs(self) -> AsyncIterator[str]:
        for digest in list(self._blobs):
            yield digest

    async def create_upload(self, upload_id: str) -> UploadState:
        check_upload_id(upload_id)
        self._uploads[upload_id] = _Upload()
        return {"size": 0}

    async def append_upload(
        self, upload_id: str, state: UploadState, offset: int, chunks: AsyncIterable[bytes]
    ) -> tuple[UploadState, int]:
        size = check_append_offset(state, offset)
        upload = self._upload(upload_id)
        if len(upload.data) < size:
            raise UploadNotFound(upload_id, f"staged data is shorter than recorded size {size}")
        del upload.data[size:]  # bytes left by an earlier append that failed
        async for chunk in chunks:
            upload.data += chunk
            upload.modified = time.time()
        total = len(upload.data)
        return {"size": total}, total

    async def commit_upload(
        self, upload_id: str, state: UploadState, digest: str, *, verify: bool
    ) -> int:
        parse_digest(digest)
        upload = self._upload(upload_id)
        size = int(state["size"])
        if len(upload.data) < size:
            raise UploadNotFound(upload_id, f"staged data is shorter than recorded size {size}")
        content = bytes(upload.data[:size])
        if verify:
            hasher = DigestHasher(digest)
            hasher.update(content)
            if not hasher.matches():
                self._uploads.pop(upload_id, None)
                raise DigestMismatch(digest, hasher.actual)
        stored = self._blobs.setdefault(digest, content)
        self._uploads.pop(upload_id, None)
        return len(stored)

    async def abort_upload(self, upload_id: str, state: UploadState) -> None:
        check_upload_id(upload_id)
        self._uploads.pop(upload_id, None)

    async def list_uploads(self) -> AsyncIterator[tuple[str, float]]:
        for upload_id, upload in list(self._uploads.items()):
            yield upload_id, upload.modified

    async def close(self) -> None:
        return None
