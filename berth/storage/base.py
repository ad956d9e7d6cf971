"""The blob storage contract every driver implements, and its errors.

Drivers only store bytes: they know nothing about repositories, manifests or
the database. The registry services keep upload ``state`` dicts (opaque,
JSON-serialisable, driver-specific) in their own tables and hand them back.

Conventions shared by all drivers:

* digests are ``"<alg>:<hex>"`` with alg ``sha256`` or ``sha512``; a malformed
  digest or upload id is a programming error and raises ``ValueError``;
* ``read_blob`` with an ``offset`` at or past the end yields no bytes;
* every backend failure that is not one of the errors below is wrapped in
  :class:`StorageUnavailable` (connection refused, timeouts, 5xx) or
  :class:`StorageError`.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Sequence
from typing import Any, Protocol, runtime_checkable

#: A driver's upload state: opaque, JSON-serialisable, kept by the registry in its own table.
UploadState = dict[str, Any]

#: Size of the chunks ``read_blob`` yields (the last one may be shorter).
READ_CHUNK_SIZE = 1024 * 1024


class StorageError(Exception):
    """Base class of every storage error."""


class BlobNotFound(StorageError):
    def __init__(self, digest: str) -> None:
        super().__init__(f"blob {digest} not found")
        self.digest = digest


class UploadNotFound(StorageError):
    def __init__(self, upload_id: str, detail: str = "") -> None:
        msg = f"upload {upload_id} not found"
        super().__init__(f"{msg}: {detail}" if detail else msg)
        self.upload_id = upload_id


class DigestMismatch(StorageError):
    """The bytes hash to ``actual``, not ``expected``; nothing was stored under ``expected``."""

    def __init__(self, expected: str, actual: str) -> None:
        super().__init__(f"content digest is {actual}, expected {expected}")
        self.expected = expected
        self.actual = actual


class StorageUnavailable(StorageError):
    """The backend could not be reached or did not answer in time (HTTP maps this to 503)."""

    def __init__(self, message: str, *, driver: str = "") -> None:
        super().__init__(message)
        self.driver = driver


class UnknownStorageDriver(StorageError):
    def __init__(self, driver: str, known: Sequence[str]) -> None:
        super().__init__(
            f"unknown storage driver {driver!r}; known drivers: {', '.join(sorted(known))}"
        )
        self.driver = driver
        self.known = tuple(sorted(known))


class StorageConfigError(StorageError):
    """A driver's arguments are missing or invalid; ``key`` names the first offending one."""

    def __init__(self, driver: str, key: str, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.driver = driver
        self.key = key
        self.problems = tuple(problems)


@runtime_checkable
class BlobStorage(Protocol):
    driver_name: str

    async def stat_blob(self, digest: str) -> int:
        """Size in bytes, or raise BlobNotFound."""
        ...

    def read_blob(
        self, digest: str, offset: int = 0, length: int | None = None, *, transient: bool = False
    ) -> AsyncIterator[bytes | bytearray]:
        """Async generator of ~1 MiB chunks; BlobNotFound on the first iteration at the latest.

        With ``transient`` a driver may yield its own buffers (bytearrays), each valid only
        until the next chunk is asked for (the HTTP server copies a chunk as it sends it, so
        the download path saves a copy). Without it, chunks are bytes the caller may keep.
        """
        ...

    def local_path(self, digest: str) -> str | None:
        """Filesystem: absolute path for zero-copy sends (no I/O, may not exist). Others: None."""
        ...

    async def redirect_url(
        self, digest: str, *, expires_in: int = 600, filename: str | None = None
    ) -> str | None:
        """A URL clients may download the blob from directly (presigned S3 GET), or None."""
        ...

    async def write_blob(self, digest: str, chunks: AsyncIterable[bytes]) -> int:
        """Store a whole blob atomically, hashing while writing; returns its size.

        DigestMismatch leaves nothing stored. If the blob already exists the stream is
        drained (and still checked) and the existing size returned.
        """
        ...

    async def delete_blob(self, digest: str) -> None:
        """Remove a blob; deleting a missing blob is not an error."""
        ...

    def list_blobs(self) -> AsyncIterator[str]:
        """Digests of every stored blob, in no particular order."""
        ...

    async def create_upload(self, upload_id: str) -> UploadState:
        """Start a resumable upload; returns its initial state (size 0)."""
        ...

    async def append_upload(
        self, upload_id: str, state: UploadState, offset: int, chunks: AsyncIterable[bytes]
    ) -> tuple[UploadState, int]:
        """Write ``chunks`` at ``offset`` (must equal the size in ``state``).

        Returns ``(new_state, new_total_size)``. If this raises, or the process dies,
        ``state`` stays valid: the caller keeps it and may append again from ``offset``.
        """
        ...

    async def commit_upload(
        self, upload_id: str, state: UploadState, digest: str, *, verify: bool
    ) -> int:
        """Publish the staged bytes as blob ``digest`` atomically and drop the staging.

        ``verify=True`` hashes the staged bytes first; on mismatch the staging is deleted
        and DigestMismatch raised. Returns the blob size.
        """
        ...

    async def abort_upload(self, upload_id: str, state: UploadState) -> None:
        """Drop an upload's staging; idempotent."""
        ...

    def list_uploads(self) -> AsyncIterator[tuple[str, float]]:
        """``(upload_id, last modified unix time)`` for every upload with staging data."""
        ...

    async def close(self) -> None: ...


def resolve_range(size: int, offset: int, length: int | None) -> tuple[int, int]:
    """``(start, end)`` byte positions (end exclusive) of a read, clamped to the blob."""
    if offset < 0:
        raise ValueError(f"offset must be >= 0, got {offset}")
    if length is not None and length < 0:
        raise ValueError(f"length must be >= 0, got {length}")
    start = min(offset, size)
    end = size if length is None else min(size, offset + length)
    return start, max(start, end)


def check_append_offset(state: UploadState, offset: int) -> int:
    """The size recorded in ``state``; ValueError if ``offset`` is not exactly that."""
    size = int(state["size"])
    if offset != size:
        raise ValueError(f"append offset {offset} does not match the upload's size {size}")
    return size
