"""Blobs and upload sessions.

Upload state machine: created -> receiving (each chunk must start at the current size,
else 416 and nothing changes) -> committed (digest verified, blob linked into the
repository) | cancelled | expired (purged by a job).

Bytes stream straight to the storage driver, hashed on the way; no database connection is
held while they flow. The running hash lives in this process keyed by (upload, size):
when the next chunk or the final PUT lands on another process or replica, the driver
re-reads the staged bytes to verify the digest instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from berth.db.base import now_ms
from berth.db.process import holder_alive, process_identity
from berth.db.session import Database
from berth.oci.digest import InvalidDigest, UnsupportedDigest, new_hasher, parse_digest
from berth.registry import sql
from berth.registry.cache import NoCache, ReadCache
from berth.registry.errors import (
    BlobBytesGone,
    BlobUnknown,
    BlobUploadInvalid,
    BlobUploadUnknown,
    DigestInvalid,
    NameUnknown,
    RangeInvalid,
    SizeInvalid,
    Unsupported,
)
from berth.registry.models import Blob, RepositoryBlob, Upload
from berth.registry.repositories import RepoName, RepoRow, find_repository
from berth.storage.base import (
    BlobNotFound,
    BlobStorage,
    DigestMismatch,
    UploadNotFound,
    UploadState,
)

LEASE_MS = 30_000  # renewed every LEASE_MS/3 while a request writes an upload
HOLDER = process_identity()


@dataclass(frozen=True, slots=True)
class BlobInfo:
    digest: str
    size: int


@dataclass(frozen=True, slots=True)
class BlobDownload:
    digest: str
    size: int
    local_path: str | None
    redirect_url: str | None


@dataclass(frozen=True, slots=True)
class UploadInfo:
    id: str
    size: int


def check_digest(value: str) -> str:
    try:
        return str(parse_digest(value))
    except UnsupportedDigest as e:
        raise Unsupported(f"unsupported digest algorithm: {value}", {"digest": value}) from e
    except InvalidDigest as e:
        raise DigestInvalid(f"invalid digest: {value}", {"digest": value}) from e


class _Hashing:
    """Feeds a hasher while passing chunks through; counts bytes."""

    def __init__(self, source: AsyncIterable[bytes], hasher: Any, limit: int | None) -> None:
        self.source = source
        self.hasher = hasher
        self.size = 0
        self.limit = limit

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.source:
            if not chunk:
                continue
            self.size += len(chunk)
            if self.limit is not None and self.size > self.limit:
                raise SizeInvalid("chunk is larger than the allowed maximum", {})
            self.hasher.update(chunk)
            yield chunk


class HasherCache:
    """In-process running hashes of uploads, keyed by upload id, valid at one size."""

    def __init__(self, max_entries: int = 256) -> None:
        self._items: OrderedDict[str, tuple[int, Any]] = OrderedDict()
        self._max = max_entries

    def take(self, upload_id: str, size: int) -> Any | None:
        item = self._items.pop(upload_id, None)
        if item is None:
            return new_hasher("sha256") if size == 0 else None
        return item[1] if item[0] == size else None

    def put(self, upload_id: str, size: int, hasher: Any) -> None:
        self._items[upload_id] = (size, hasher)
        while len(self._items) > self._max:
            self._items.popitem(last=False)

    def drop(self, upload_id: str) -> None:
        self._items.pop(upload_id, None)


class BlobService:
    def __init__(
        self,
        db: Database,
        storage: BlobStorage,
        *,
        cache: ReadCache[Any] | None = None,
    ) -> None:
        self.db = db
        self.storage = storage
        self.hashers = HasherCache()
        self.cache: ReadCache[Any] = cache if cache is not None else NoCache()

    # ---- reads -------------------------------------------------------------------------
    async def stat(self, repo: RepoName, digest: str) -> BlobInfo:
        """A cache hit, or one indexed query from the names to the blob's size."""
        digest = check_digest(digest)
        key = f"blob:{digest}"
        size = self.cache.get(repo.full, key)
        if size is None:
            generation = self.cache.generation(repo.full)
            async with self.db.read() as s:
                size = await sql.named_blob_size(s, repo.namespace, repo.name, digest)
                if size is None:
                    if await find_repository(s, repo) is None:
                        raise NameUnknown(
                            "repository name not known to registry", {"name": repo.full}
                        )
                    raise BlobUnknown("blob unknown to registry", {"digest": digest})
            self.cache.put(repo.full, key, size, generation)
        return BlobInfo(digest, size)

    async def download(self, repo: RepoName, digest: str) -> BlobDownload:
        info = await self.stat(repo, digest)
        # Drivers that presign (S3 with ``presigned_redirect``) answer with a URL; others None.
        url = await self.storage.redirect_url(info.digest)
        return BlobDownload(info.digest, info.size, self.storage.local_path(info.digest), url)

    def stream(
        self, digest: str, offset: int = 0, length: int | None = None, *, transient: bool = False
    ) -> AsyncIterator[bytes | bytearray]:
        """The blob's bytes for a download; ``transient``: chunks may be the storage driver's
        buffers, valid until the next one is asked for (see ``BlobStorage.read_blob``)."""
        return self.storage.read_blob(digest, offset, length, transient=transient)

    # ---- uploads -----------------------------------------------------------------------
    async def start_upload(self, repo: RepoRow) -> UploadInfo:
        upload_id = uuid.uuid4().hex
        state = await self.storage.create_upload(upload_id)
        async with self.db.write() as s:
            s.add(Upload(id=upload_id, repository_id=repo.id, size=0, storage_state=state))
        return UploadInfo(upload_id, 0)

    async def _load_upload(self, repo: RepoRow, upload_id: str) -> Upload:
        async with self.db.read() as s:
            row = await s.get(Upload, upload_id)
        if row is None or row.repository_id != repo.id:
            raise BlobUploadUnknown("blob upload unknown to registry", {"upload": upload_id})
        return row

    async def upload_status(self, repo: RepoRow, upload_id: str) -> UploadInfo:
        row = await self._load_upload(repo, upload_id)
        return UploadInfo(row.id, row.size)

    async def append(
        self,
        repo: RepoRow,
        upload_id: str,
        chunks: AsyncIterable[bytes],
        *,
        start: int | None = None,
        end: int | None = None,
        max_bytes: int | None = None,
    ) -> UploadInfo:
        row = await self._load_upload(repo, upload_id)
        if start is not None and start != row.size:
            raise RangeInvalid(
                f"chunk starts at {start} but the upload has {row.size} bytes", row.size
            )
        async with self._lease(upload_id, row.size):
            hasher = self.hashers.take(upload_id, row.size)
            feed = _Hashing(chunks, hasher if hasher is not None else _NullHasher(), max_bytes)
            try:
                state, new_size = await self.storage.append_upload(
                    upload_id, row.storage_state, row.size, feed
                )
            except UploadNotFound as e:
                raise BlobUploadUnknown(
                    "blob upload unknown to registry", {"upload": upload_id}
                ) from e
            if end is not None and start is not None and new_size != end + 1:
                # Content-Range promised other bytes than arrived: keep the old state.
                raise RangeInvalid(
                    f"Content-Range ends at {end} but {new_size - row.size} bytes arrived",
                    row.size,
                )
            async with self.db.write() as s:
                result = await s.execute(
                    update(Upload)
                    .where(Upload.id == upload_id, Upload.size == row.size)
                    .values(size=new_size, storage_state=state, updated_at=now_ms())
                )
            if result.rowcount != 1:  # type: ignore[attr-defined]  # rowcount: a DML result is a CursorResult
                raise RangeInvalid("the upload was changed while this chunk arrived", row.size)
        if hasher is not None:
            self.hashers.put(upload_id, new_size, hasher)
        return UploadInfo(upload_id, new_size)

    @contextlib.asynccontextmanager
    async def _lease(self, upload_id: str, size: int) -> AsyncIterator[None]:
        """Hold the session's write lease: two requests never write one upload at once.

        The lease is short and renewed while the work runs, so one left by a crashed
        replica runs out within LEASE_MS; one left by a dead process on this host is
        taken over at once (a restarted server resumes uploads immediately).
        """
        now = now_ms()
        free = or_(Upload.busy_until.is_(None), Upload.busy_until < now)
        async with self.db.write() as s:
            holder = (
                await s.execute(select(Upload.busy_by).where(Upload.id == upload_id))
            ).scalar()
            if holder is not None and holder != HOLDER and not holder_alive(holder):
                free = or_(free, Upload.busy_by == holder)
            result = await s.execute(
                update(Upload)
                .where(Upload.id == upload_id, Upload.size == size, free)
                .values(busy_until=now + LEASE_MS, busy_by=HOLDER)
            )
        if result.rowcount != 1:  # type: ignore[attr-defined]  # rowcount: a DML result is a CursorResult
            raise RangeInvalid("another request is writing this upload", size)

        async def renew() -> None:
            while True:
                await asyncio.sleep(LEASE_MS / 3000)
                async with self.db.write() as s:
                    await s.execute(
                        update(Upload)
                        .where(Upload.id == upload_id, Upload.busy_by == HOLDER)
                        .values(busy_until=now_ms() + LEASE_MS)
                    )

        renewer = asyncio.create_task(renew())
        try:
            yield
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
            async with self.db.write() as s:
                await s.execute(
                    update(Upload)
                    .where(Upload.id == upload_id, Upload.busy_by == HOLDER)
                    .values(busy_until=None, busy_by=None)
                )

    async def finish(
        self,
        repo: RepoRow,
        upload_id: str,
        digest: str,
        chunks: AsyncIterable[bytes] | None,
        *,
        start: int | None = None,
        end: int | None = None,
    ) -> BlobInfo:
        digest = check_digest(digest)
        if chunks is not None:
            await self.append(repo, upload_id, chunks, start=start, end=end)
        row = await self._load_upload(repo, upload_id)
        async with self._lease(upload_id, row.size):
            return await self._commit(repo, row, digest)

    async def _commit(self, repo: RepoRow, row: Upload, digest: str) -> BlobInfo:
        upload_id = row.id
        hasher = self.hashers.take(upload_id, row.size)
        self.hashers.drop(upload_id)
        verify = True
        if hasher is not None and digest.startswith("sha256:"):
            if f"sha256:{hasher.hexdigest()}" != digest:
                await self._discard(upload_id, row.storage_state)
                raise DigestInvalid(
                    "provided digest did not match uploaded content", {"digest": digest}
                )
            verify = False
        try:
            size = await self.storage.commit_upload(
                upload_id, row.storage_state, digest, verify=verify
            )
        except DigestMismatch as e:
            await self._discard(upload_id, row.storage_state)
            raise DigestInvalid(
                "provided digest did not match uploaded content", {"digest": digest}
            ) from e
        except UploadNotFound as e:
            raise BlobUploadUnknown("blob upload unknown to registry", {"upload": upload_id}) from e
        async with self.db.write() as s:
            await self._link(s, repo.id, digest, size)
            await s.execute(sql.delete_upload(upload_id))
        return BlobInfo(digest, size)

    async def _discard(self, upload_id: str, state: UploadState) -> None:
        await self.storage.abort_upload(upload_id, state)
        async with self.db.write() as s:
            await s.execute(sql.delete_upload(upload_id))

    async def cancel(self, repo: RepoRow, upload_id: str) -> None:
        row = await self._load_upload(repo, upload_id)
        self.hashers.drop(upload_id)
        await self._discard(upload_id, row.storage_state)

    async def put_monolithic(
        self, repo: RepoRow, digest: str, chunks: AsyncIterable[bytes]
    ) -> BlobInfo:
        digest = check_digest(digest)
        try:
            size = await self.storage.write_blob(digest, chunks)
        except DigestMismatch as e:
            raise DigestInvalid(
                "provided digest did not match uploaded content", {"digest": digest}
            ) from e
        async with self.db.write() as s:
            await self._link(s, repo.id, digest, size)
        return BlobInfo(digest, size)

    async def mount(self, repo: RepoRow, digest: str, source: RepoRow) -> BlobInfo | None:
        """Link a blob of ``source`` into ``repo``; None when the source lacks it."""
        digest = check_digest(digest)
        try:
            async with self.db.write() as s:
                size = await sql.linked_blob_size(s, source.id, digest)
                if size is None:
                    return None
                await self._link(s, repo.id, digest, size)
        except BlobBytesGone:
            return None  # collected under us: the client uploads it instead
        return BlobInfo(digest, size)

    async def delete(self, repo: RepoRow, digest: str) -> None:
        """Unlink a blob from a repository; storage is freed by garbage collection."""
        digest = check_digest(digest)
        async with self.db.write() as s:
            blob_id = await sql.linked_blob_id(s, repo.id, digest)
            if blob_id is None:
                raise BlobUnknown("blob unknown to registry", {"digest": digest})
            await s.execute(sql.unlink_blob(repo.id, blob_id))
        self.cache.invalidate(f"{repo.namespace}/{repo.name}")  # after commit

    async def link_stored(self, s: AsyncSession, repository_id: int, digest: str, size: int) -> int:
        """Link a blob whose bytes were just stored into a repository, in the caller's unit
        (a pull-through that fetched it); the blob row's id. See ``_link``."""
        return await self._link(s, repository_id, digest, size)

    async def _link(self, s: AsyncSession, repository_id: int, digest: str, size: int) -> int:
        """Link a blob whose bytes were just stored (or exist) into a repository.

        The blob row is claimed (``FOR KEY SHARE``) before the bytes are checked: garbage
        collection deletes bytes only while it holds the row, so bytes seen now stay until
        the link commits (berth.gc.services, "the protocol"). BlobBytesGone when the
        collector took them between our storage write and this transaction.
        """
        claim = (
            select(Blob.id).where(Blob.digest == digest).with_for_update(read=True, key_share=True)
        )
        blob_id = (await s.execute(claim)).scalar()
        if blob_id is None:
            await sql.insert_ignore(
                s, Blob, {"digest": digest, "size": size, "created_at": now_ms()}, ["digest"]
            )
            blob_id = (await s.execute(claim)).scalar_one()
        try:
            await self.storage.stat_blob(digest)
        except BlobNotFound as e:
            raise BlobBytesGone(
                "the blob was garbage-collected while this upload completed; upload it again",
                {"digest": digest},
            ) from e
        stamp = now_ms()
        await sql.upsert(
            s,
            RepositoryBlob,
            {"repository_id": repository_id, "blob_id": blob_id, "linked_at": stamp},
            ["repository_id", "blob_id"],
            {"linked_at": stamp},
        )
        return blob_id


class _NullHasher:
    def update(self, _data: bytes) -> None:
        return None


__all__ = [
    "BlobDownload",
    "BlobInfo",
    "BlobNotFound",
    "BlobService",
    "BlobUploadInvalid",
    "UploadInfo",
    "check_digest",
]
