"""Blob storage in an S3-compatible bucket (AWS S3, SeaweedFS, Ceph RadosGW, MinIO...).

Keys are ``<prefix>`` + the layout in :mod:`berth.storage.paths`.

``read_blob`` is the hot path of every pull Berth serves itself, so it does not go through
botocore's request machinery: the client signs a GET URL locally (no I/O) and a small
HTTP/1.1 client (:mod:`berth.storage.s3_get`) fetches it, reading the socket straight into
1 MiB chunks. Errors are mapped as botocore's would be. Everything else uses the botocore
client.

Whole blobs (``write_blob``) are streamed: below one part they are a single PUT, above
it a multipart upload *at the blob key itself*, completed only once the streamed hash
matched, so nothing is ever visible under a digest before it was verified.

Resumable uploads are staged as an S3 multipart upload on ``uploads/<id>/data``. S3
needs every part but the last to be >= 5 MiB, while registry clients append chunks of
any size, so an append

1. reads the upload's current *tail* (bytes that did not fill a part, always < 5 MiB),
2. streams ``tail + body`` into parts of ``part_size`` bytes (numbered after the parts
   already recorded in the state; parts an earlier failed append uploaded past them are
   simply overwritten or left out of the final part list),
3. uploads what is left as one more part if it reaches 5 MiB, else as a new tail object
   under a *new* key ``uploads/<id>/tail-<end offset>-<token>``.

The state returned is ``{"size", "mpu", "parts": [[number, etag, size]...], "tail",
"tail_size", "prev_tail"}``. Nothing an older state references is modified by a later
append, so if an append fails (or the process dies) the caller's old state still
describes valid, complete data. (A part number re-used by a failed append is harmless:
CompleteMultipartUpload names each part by number *and* ETag, so S3 either uses the
recorded bytes (SeaweedFS keeps every version of a part) or rejects the completion,
never silently publishes other bytes.)

The tail an older state used is deleted by the *next* append (the caller handing us a
state proves the previous one is superseded); tails of failed appends and orphaned
multipart uploads are removed at commit/abort.

Commit uploads the tail as the final part, completes the multipart upload into
``uploads/<id>/data``, optionally reads it back to verify the digest, then copies it
server-side to the blob key. Uploads that never filled a part are a single PUT of the
tail. Orphaned multipart uploads from a process that died inside ``write_blob`` are
invisible to ``list_uploads``; give the bucket an AbortIncompleteMultipartUpload
lifecycle rule in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import os
import random
import re
import ssl
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import aiobotocore.session
import aiohttp
import anyio
import anyio.to_thread
import botocore.exceptions
from botocore.config import Config

from berth.oci.digest import parse_digest
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
    UPLOADS_DIR,
    blob_path,
    check_upload_id,
    digest_from_blob_path,
    normalize_prefix,
    upload_data_path,
    upload_dir,
)
from berth.storage.s3_get import GetPool, Response

MIB = 1024 * 1024
#: S3's minimum size of every multipart part except the last.
MIN_PART_SIZE = 5 * MIB
#: S3's maximum part size, number of parts and size of a single-request copy.
MAX_PART_SIZE = 5 * 1024 * MIB
MAX_PARTS = 10_000
MAX_COPY_SIZE = 5 * 1024 * MIB
# Staged data is read back for verification in batches this big before hashing in a thread.
VERIFY_BATCH_SIZE = 8 * MIB
#: Lifetime of the URL a blob GET signs for itself. It never leaves the process; a request
#: waiting for a pooled connection must not outlive it, so it matches the 15 minutes of
#: clock skew S3 allows a header-signed request.
GET_URL_EXPIRY = 900
#: Botocore's standard retry mode: up to 2**(attempt - 1) seconds of jittered backoff.
MAX_BACKOFF = 20.0

_NOT_FOUND_CODES = {"404", "NoSuchKey", "NotFound", "NoSuchUpload"}
_UNAVAILABLE_CODES = {
    "SlowDown",
    "ServiceUnavailable",
    "InternalError",
    "RequestTimeout",
    "RequestTimeTooSkewed",
    "503",
    "500",
}
_TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    botocore.exceptions.ConnectionError,
    botocore.exceptions.HTTPClientError,
    aiohttp.ClientError,
    asyncio.TimeoutError,
    # Also blob GETs (berth.storage.s3_get): refused, reset, cut short or garbled answers
    # (its ProtocolError is a ConnectionError), name resolution failures.
    OSError,
)


def _error_code(exc: botocore.exceptions.ClientError) -> tuple[str, int]:
    err = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return str(err.get("Code", "")), int(status or 0)


class _NotFound(Exception):
    """Internal: the key or multipart upload an operation addressed does not exist."""


@contextlib.contextmanager
def _s3_errors(op: str) -> Iterator[None]:
    """Map botocore/aiohttp failures of one S3 call to storage errors.

    Not-found answers become ``_NotFound`` so each caller can turn them into the right
    domain error (BlobNotFound, UploadNotFound, or nothing for idempotent deletes).
    Only wrap S3 calls with this: the caller's body iterator may raise anything, and
    that must propagate unchanged.
    """
    try:
        yield
    except Exception as exc:
        mapped = _mapped_error(op, exc)
        if mapped is None:
            raise
        raise mapped from exc


def _mapped_error(op: str, exc: Exception) -> Exception | None:
    """The storage error ``_s3_errors`` raises for ``exc``, or None to let it through."""
    if isinstance(exc, botocore.exceptions.ClientError):
        code, status = _error_code(exc)
        if code in _NOT_FOUND_CODES or status == 404:
            return _NotFound(code or str(status))
        if status >= 500 or code in _UNAVAILABLE_CODES:
            return StorageUnavailable(f"S3 {op}: {exc}", driver="s3")
        return StorageError(f"S3 {op} failed: {exc}")
    if isinstance(exc, _TRANSPORT_ERRORS):
        return StorageUnavailable(f"S3 {op}: {exc}", driver="s3")
    if isinstance(exc, botocore.exceptions.BotoCoreError):
        return StorageError(f"S3 {op} failed: {exc}")
    return None


def _xml_field(body: str, name: str) -> str:
    match = re.search(f"<{name}>([^<]*)</{name}>", body)
    return html.unescape(match.group(1)).strip() if match else ""


def _client_error(status: int, body: bytes) -> botocore.exceptions.ClientError:
    """An S3 error answer to a plain HTTP GET, as botocore would raise it (for `_s3_errors`).
    The body is S3's small ``<Error><Code>..</Code><Message>..</Message>`` document, if any."""
    text = body[:65536].decode("utf-8", "replace")
    response: Any = {
        "Error": {
            "Code": _xml_field(text, "Code") or str(status),
            "Message": _xml_field(text, "Message"),
        },
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return botocore.exceptions.ClientError(response, "GetObject")


def _is_invalid_range(exc: StorageError) -> bool:
    cause = exc.__cause__
    if not isinstance(cause, botocore.exceptions.ClientError):
        return False
    code, status = _error_code(cause)
    return code == "InvalidRange" or status == 416


def _backoff(attempt: int) -> float:
    return random.random() * min(2.0 ** (attempt - 1), MAX_BACKOFF)  # noqa: S311 - jitter


def _tls_context() -> ssl.SSLContext:
    """Verify S3's certificate against AWS_CA_BUNDLE when set (as botocore does), else the
    system's CAs. Reads files: call it in a thread."""
    return ssl.create_default_context(cafile=os.environ.get("AWS_CA_BUNDLE") or None)


async def _send_get(
    pool: GetPool, url: str, headers: dict[str, str], *, transient: bool = False
) -> Response:
    """One GET of a presigned URL; an answer other than 200/206 raises its ClientError."""
    resp = await pool.get(url, headers, transient=transient)
    if resp.status in (200, 206):
        return resp
    try:
        body = await resp.read()
    finally:
        resp.release()
    raise _client_error(resp.status, body)


@dataclass
class _UploadState:
    size: int
    tail: str
    tail_size: int
    mpu: str | None = None
    parts: list[tuple[int, str, int]] = field(default_factory=list)
    prev_tail: str | None = None

    @classmethod
    def load(cls, upload_id: str, state: UploadState) -> _UploadState:
        try:
            st = cls(
                size=int(state["size"]),
                tail=str(state["tail"]),
                tail_size=int(state["tail_size"]),
                mpu=state.get("mpu"),
                parts=[(int(n), str(e), int(s)) for n, e, s in state.get("parts", [])],
                prev_tail=state.get("prev_tail"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not an S3 upload state: {state!r}") from exc
        own = f"{upload_dir(upload_id)}/tail-"
        if not st.tail.startswith(own) or (st.prev_tail and not st.prev_tail.startswith(own)):
            raise ValueError(f"upload state does not belong to upload {upload_id}")
        if sum(p[2] for p in st.parts) + st.tail_size != st.size:
            raise ValueError(f"inconsistent S3 upload state: {state!r}")
        return st

    def dump(self) -> UploadState:
        return {
            "size": self.size,
            "mpu": self.mpu,
            "parts": [list(p) for p in self.parts],
            "tail": self.tail,
            "tail_size": self.tail_size,
            "prev_tail": self.prev_tail,
        }


def _content_disposition(filename: str) -> str:
    safe = "".join(c for c in filename if c.isprintable() and c not in '"\\')
    ascii_name = safe.encode("ascii", "replace").decode("ascii") or "blob"
    value = f'attachment; filename="{ascii_name}"'
    if ascii_name != safe:
        value += f"; filename*=UTF-8''{quote(safe)}"
    return value


class S3BlobStorage:
    driver_name = "s3"

    def __init__(
        self,
        *,
        bucket: str,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        prefix: str = "",
        presign: bool = False,
        part_size: int = 8 * MIB,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        max_attempts: int = 3,
    ) -> None:
        if not bucket:
            raise ValueError("bucket is required")
        if not MIN_PART_SIZE <= part_size <= MAX_PART_SIZE:
            raise ValueError(f"part_size must be between 5 MiB and 5 GiB, got {part_size}")
        self.bucket = bucket
        self.endpoint_url = endpoint_url
        self.region = region or "us-east-1"
        self.prefix = normalize_prefix(prefix)
        self.presign = presign
        self.part_size = part_size
        self._max_attempts = max_attempts
        self._access_key = access_key
        self._secret_key = secret_key
        self._config = Config(
            signature_version="s3v4",
            s3={"addressing_style": "path" if endpoint_url else "auto"},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"total_max_attempts": max_attempts, "mode": "standard"},
            # Many S3-compatible servers reject the newer default CRC trailers.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        self._stack: AsyncExitStack | None = None
        self._client: Any = None
        self._get_pool: GetPool | None = None
        self._bucket_ready = False
        self._open_lock = asyncio.Lock()

    # -- client lifecycle ----------------------------------------------------------------

    async def open(self) -> None:
        """Create the client and the bucket if it is missing. Called on first use."""
        await self._s3()

    async def _s3(self) -> Any:
        if self._bucket_ready:
            return self._client
        async with self._open_lock:
            if self._client is None:
                # Creating the client does no I/O; it is kept even if the bucket check
                # below fails, so an unreachable backend costs one request per call.
                stack = AsyncExitStack()
                self._client = await stack.enter_async_context(
                    aiobotocore.session.get_session().create_client(
                        "s3",
                        endpoint_url=self.endpoint_url,
                        region_name=self.region,
                        aws_access_key_id=self._access_key,
                        aws_secret_access_key=self._secret_key,
                        config=self._config,
                    )
                )
                self._stack = stack
            if not self._bucket_ready:
                await self._ensure_bucket(self._client)
                self._bucket_ready = True
            return self._client

    async def _ensure_bucket(self, client: Any) -> None:
        try:
            with _s3_errors(f"head bucket {self.bucket}"):
                await client.head_bucket(Bucket=self.bucket)
            return
        except _NotFound:
            pass
        kwargs: dict[str, Any] = {"Bucket": self.bucket}
        if self.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        try:
            with _s3_errors(f"create bucket {self.bucket}"):
                await client.create_bucket(**kwargs)
        except StorageError as exc:
            cause = exc.__cause__
            if isinstance(cause, botocore.exceptions.ClientError) and _error_code(cause)[0] in (
                "BucketAlreadyOwnedByYou",
                "BucketAlreadyExists",
            ):
                return
            raise

    async def _gets(self) -> GetPool:
        """The connections blob GETs use (plain HTTP/1.1 on presigned URLs)."""
        if self._get_pool is None:
            tls: ssl.SSLContext | None = None
            if not (self.endpoint_url or "").startswith("http://"):
                tls = await anyio.to_thread.run_sync(_tls_context)
            if self._get_pool is None:  # another task may have made it meanwhile
                self._get_pool = GetPool(
                    limit=self._config.max_pool_connections,
                    connect_timeout=self._config.connect_timeout,
                    read_timeout=self._config.read_timeout,
                    tls=tls,
                    chunk_size=READ_CHUNK_SIZE,
                )
        return self._get_pool

    async def close(self) -> None:
        stack, self._stack, self._client = self._stack, None, None
        gets, self._get_pool = self._get_pool, None
        self._bucket_ready = False
        try:
            if stack is not None:
                await stack.aclose()
        finally:
            if gets is not None:
                gets.close()

    # -- small helpers -------------------------------------------------------------------

    def _key(self, rel: str) -> str:
        return self.prefix + rel

    async def _head_size(self, rel: str) -> int | None:
        s3 = await self._s3()
        try:
            with _s3_errors(f"head {rel}"):
                resp = await s3.head_object(Bucket=self.bucket, Key=self._key(rel))
        except _NotFound:
            return None
        return int(resp["ContentLength"])

    async def _get_small(self, rel: str) -> bytes:
        """Whole content of a small object (tails are < 5 MiB). Raises _NotFound."""
        s3 = await self._s3()
        with _s3_errors(f"get {rel}"):
            resp = await s3.get_object(Bucket=self.bucket, Key=self._key(rel))
            async with resp["Body"] as body:
                data: bytes = await body.read()
                return data

    async def _put(self, rel: str, data: bytes) -> None:
        s3 = await self._s3()
        with _s3_errors(f"put {rel}"):
            await s3.put_object(Bucket=self.bucket, Key=self._key(rel), Body=data)

    async def _delete(self, rel: str) -> None:
        s3 = await self._s3()
        with contextlib.suppress(_NotFound), _s3_errors(f"delete {rel}"):
            await s3.delete_object(Bucket=self.bucket, Key=self._key(rel))

    async def _list(self, rel_prefix: str) -> AsyncIterator[dict[str, Any]]:
        s3 = await self._s3()
        paginator = s3.get_paginator("list_objects_v2")
        pages = aiter(paginator.paginate(Bucket=self.bucket, Prefix=self._key(rel_prefix)))
        while True:
            try:
                with _s3_errors(f"list {rel_prefix}"):
                    page = await anext(pages)
            except StopAsyncIteration:
                return
            except _NotFound:
                return
            for obj in page.get("Contents", []):
                yield obj

    async def _list_multipart(self, rel_prefix: str) -> list[dict[str, Any]]:
        s3 = await self._s3()
        found: list[dict[str, Any]] = []
        paginator = s3.get_paginator("list_multipart_uploads")
        pages = aiter(paginator.paginate(Bucket=self.bucket, Prefix=self._key(rel_prefix)))
        while True:
            try:
                with _s3_errors(f"list multipart uploads {rel_prefix}"):
                    page = await anext(pages)
            except (StopAsyncIteration, _NotFound):
                return found
            found.extend(page.get("Uploads", []))

    async def _create_mpu(self, rel: str) -> str:
        s3 = await self._s3()
        with _s3_errors(f"create multipart upload {rel}"):
            resp = await s3.create_multipart_upload(Bucket=self.bucket, Key=self._key(rel))
        return str(resp["UploadId"])

    async def _upload_part(self, rel: str, mpu: str, number: int, data: bytes) -> str:
        if number > MAX_PARTS:
            raise StorageError(
                f"upload exceeds {MAX_PARTS} parts of {self.part_size} bytes; raise part_size"
            )
        s3 = await self._s3()
        with _s3_errors(f"upload part {number} of {rel}"):
            resp = await s3.upload_part(
                Bucket=self.bucket, Key=self._key(rel), UploadId=mpu, PartNumber=number, Body=data
            )
        return str(resp["ETag"])

    async def _complete_mpu(self, rel: str, mpu: str, parts: list[tuple[int, str, int]]) -> None:
        s3 = await self._s3()
        with _s3_errors(f"complete multipart upload {rel}"):
            await s3.complete_multipart_upload(
                Bucket=self.bucket,
                Key=self._key(rel),
                UploadId=mpu,
                MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e, _ in parts]},
            )

    async def _abort_mpu(self, rel: str, mpu: str) -> None:
        s3 = await self._s3()
        with contextlib.suppress(_NotFound), _s3_errors(f"abort multipart upload {rel}"):
            await s3.abort_multipart_upload(Bucket=self.bucket, Key=self._key(rel), UploadId=mpu)

    async def _abort_quietly(self, rel: str, mpu: str) -> None:
        """Best-effort cleanup on an error path: never mask the original exception."""
        with anyio.CancelScope(shield=True), contextlib.suppress(StorageError):
            await self._abort_mpu(rel, mpu)

    # -- blobs ---------------------------------------------------------------------------

    async def stat_blob(self, digest: str) -> int:
        size = await self._head_size(blob_path(digest))
        if size is None:
            raise BlobNotFound(digest)
        return size

    async def read_blob(
        self, digest: str, offset: int = 0, length: int | None = None, *, transient: bool = False
    ) -> AsyncIterator[bytes | bytearray]:
        rel = blob_path(digest)
        resolve_range(0, offset, length)  # argument checks only
        if length == 0:
            await self.stat_blob(digest)
            return
        headers: dict[str, str] = {}
        if offset or length is not None:
            last = "" if length is None else str(offset + length - 1)
            headers["Range"] = f"bytes={offset}-{last}"
        try:
            resp = await self._open_get(rel, headers, transient=transient)
        except _NotFound:
            raise BlobNotFound(digest) from None
        except StorageError as exc:
            if _is_invalid_range(exc):
                await self.stat_blob(digest)  # offset at/after the end: no bytes, if it exists
                return
            raise
        try:
            while True:
                try:  # not _s3_errors: this runs once per chunk
                    chunk = await resp.next_chunk()
                except Exception as exc:
                    mapped = _mapped_error(f"read {rel}", exc)
                    if mapped is None:
                        raise
                    raise mapped from exc
                if chunk is None:
                    break
                yield chunk
        finally:
            resp.release()

    async def _open_get(
        self, rel: str, headers: dict[str, str], *, transient: bool = False
    ) -> Response:
        """Send a GET of ``rel`` on a URL the client signs locally: no botocore request
        building or response parsing per read. Transient failures are retried like the
        botocore client retries them. Raises _NotFound, or StorageError whose cause is the
        ClientError of an S3 error answer; the caller releases the response."""
        s3 = await self._s3()
        gets = await self._gets()
        with _s3_errors(f"presign {rel}"):
            url = await s3.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": self._key(rel)},
                ExpiresIn=GET_URL_EXPIRY,
            )
        attempt = 1
        while True:
            try:
                with _s3_errors(f"get {rel}"):
                    return await _send_get(gets, url, headers, transient=transient)
            except StorageUnavailable:
                if attempt >= self._max_attempts:
                    raise
            await asyncio.sleep(_backoff(attempt))
            attempt += 1

    def local_path(self, digest: str) -> str | None:
        return None

    async def redirect_url(
        self, digest: str, *, expires_in: int = 600, filename: str | None = None
    ) -> str | None:
        rel = blob_path(digest)
        if not self.presign:
            return None
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": self._key(rel)}
        if filename:
            params["ResponseContentDisposition"] = _content_disposition(filename)
        s3 = await self._s3()
        with _s3_errors(f"presign {rel}"):
            url = await s3.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in)
        return str(url)

    async def write_blob(self, digest: str, chunks: AsyncIterable[bytes]) -> int:
        rel = blob_path(digest)
        hasher = DigestHasher(digest)
        existing = await self._head_size(rel)
        if existing is not None:
            await drain_and_hash(chunks, hasher)
            if not hasher.matches():
                raise DigestMismatch(digest, hasher.actual)
            return existing

        buf = bytearray()
        mpu: str | None = None
        parts: list[tuple[int, str, int]] = []
        try:
            async for chunk in chunks:
                buf += chunk
                while len(buf) >= self.part_size:
                    part = bytes(buf[: self.part_size])
                    del buf[: self.part_size]
                    await anyio.to_thread.run_sync(hasher.update, part)
                    if mpu is None:
                        mpu = await self._create_mpu(rel)
                    etag = await self._upload_part(rel, mpu, len(parts) + 1, part)
                    parts.append((len(parts) + 1, etag, len(part)))
            last = bytes(buf)
            buf.clear()
            await anyio.to_thread.run_sync(hasher.update, last)
            if not hasher.matches():
                raise DigestMismatch(digest, hasher.actual)
            if mpu is None:
                await self._put(rel, last)
            else:
                if last:
                    etag = await self._upload_part(rel, mpu, len(parts) + 1, last)
                    parts.append((len(parts) + 1, etag, len(last)))
                await self._complete_mpu(rel, mpu, parts)
                mpu = None
        except BaseException:
            if mpu is not None:
                await self._abort_quietly(rel, mpu)
            raise
        return hasher.size

    async def delete_blob(self, digest: str) -> None:
        await self._delete(blob_path(digest))

    async def list_blobs(self) -> AsyncIterator[str]:
        async for obj in self._list(f"{BLOBS_DIR}/"):
            digest = digest_from_blob_path(obj["Key"][len(self.prefix) :])
            if digest is not None:
                yield digest

    # -- uploads -------------------------------------------------------------------------

    def _tail_key(self, upload_id: str, end: int) -> str:
        return f"{upload_dir(upload_id)}/tail-{end}-{uuid.uuid4().hex[:12]}"

    async def _read_tail(self, upload_id: str, st: _UploadState) -> bytes:
        try:
            tail = await self._get_small(st.tail)
        except _NotFound:
            raise UploadNotFound(upload_id, "staged tail is gone") from None
        if len(tail) != st.tail_size:
            raise UploadNotFound(
                upload_id, f"staged tail has {len(tail)} bytes, state says {st.tail_size}"
            )
        return tail

    async def create_upload(self, upload_id: str) -> UploadState:
        st = _UploadState(size=0, tail=self._tail_key(upload_id, 0), tail_size=0)
        await self._put(st.tail, b"")
        return st.dump()

    async def append_upload(
        self, upload_id: str, state: UploadState, offset: int, chunks: AsyncIterable[bytes]
    ) -> tuple[UploadState, int]:
        check_append_offset(state, offset)
        st = _UploadState.load(upload_id, state)
        data_rel = upload_data_path(upload_id)
        if st.prev_tail:
            # The caller hands us `state`, so the state before it is superseded.
            await self._delete(st.prev_tail)
        buf = bytearray(await self._read_tail(upload_id, st))
        mpu, parts = st.mpu, list(st.parts)

        async def flush(n: int) -> None:
            nonlocal mpu
            part = bytes(buf[:n])
            del buf[:n]
            if mpu is None:
                mpu = await self._create_mpu(data_rel)
            try:
                etag = await self._upload_part(data_rel, mpu, len(parts) + 1, part)
            except _NotFound:
                raise UploadNotFound(upload_id, "multipart upload is gone") from None
            parts.append((len(parts) + 1, etag, len(part)))

        appended = 0
        async for chunk in chunks:
            buf += chunk
            appended += len(chunk)
            while len(buf) >= self.part_size:
                await flush(self.part_size)
        if len(buf) >= MIN_PART_SIZE:
            await flush(len(buf))
        total = st.size + appended
        new = _UploadState(
            size=total,
            tail=self._tail_key(upload_id, total),
            tail_size=len(buf),
            mpu=mpu,
            parts=parts,
            prev_tail=st.tail,
        )
        await self._put(new.tail, bytes(buf))
        return new.dump(), total

    async def commit_upload(
        self, upload_id: str, state: UploadState, digest: str, *, verify: bool
    ) -> int:
        st = _UploadState.load(upload_id, state)
        parse_digest(digest)
        blob_rel = blob_path(digest)
        if st.mpu is None:
            size = await self._commit_small(upload_id, st, digest, blob_rel, verify=verify)
        else:
            size = await self._commit_multipart(upload_id, st, digest, blob_rel, verify=verify)
        await self._drop_staging(upload_id, st.mpu)
        return size

    async def _commit_small(
        self, upload_id: str, st: _UploadState, digest: str, blob_rel: str, *, verify: bool
    ) -> int:
        """Everything is in the tail (the upload never filled a part): one PUT."""
        data = await self._read_tail(upload_id, st)
        if verify:
            hasher = DigestHasher(digest)
            hasher.update(data)
            if not hasher.matches():
                await self._drop_staging(upload_id, None)
                raise DigestMismatch(digest, hasher.actual)
        existing = await self._head_size(blob_rel)
        if existing is not None:
            return existing
        await self._put(blob_rel, data)
        return len(data)

    async def _commit_multipart(
        self, upload_id: str, st: _UploadState, digest: str, blob_rel: str, *, verify: bool
    ) -> int:
        assert st.mpu is not None
        data_rel = upload_data_path(upload_id)
        parts = list(st.parts)
        try:
            if st.tail_size:
                tail = await self._read_tail(upload_id, st)
                etag = await self._upload_part(data_rel, st.mpu, len(parts) + 1, tail)
                parts.append((len(parts) + 1, etag, len(tail)))
            await self._complete_mpu(data_rel, st.mpu, parts)
        except (_NotFound, UploadNotFound):
            # A previous commit may have completed the multipart upload and died after.
            if await self._head_size(data_rel) != st.size:
                raise UploadNotFound(upload_id, "multipart upload is gone") from None
        if verify:
            hasher = DigestHasher(digest)
            await self._hash_object(upload_id, data_rel, hasher)
            if not hasher.matches():
                await self._drop_staging(upload_id, None)
                raise DigestMismatch(digest, hasher.actual)
        existing = await self._head_size(blob_rel)
        if existing is not None:
            return existing
        if st.size > MAX_COPY_SIZE:
            # A single CopyObject is limited to 5 GiB; blobs above that would need a
            # multipart copy (UploadPartCopy), which Berth does not implement yet.
            raise StorageError(f"blobs over 5 GiB are not supported on S3 (got {st.size} bytes)")
        s3 = await self._s3()
        try:
            with _s3_errors(f"copy {data_rel} to {blob_rel}"):
                await s3.copy_object(
                    Bucket=self.bucket,
                    Key=self._key(blob_rel),
                    CopySource={"Bucket": self.bucket, "Key": self._key(data_rel)},
                )
        except _NotFound:
            raise UploadNotFound(upload_id, "completed upload data is gone") from None
        return st.size

    async def _hash_object(self, upload_id: str, rel: str, hasher: DigestHasher) -> None:
        s3 = await self._s3()
        try:
            with _s3_errors(f"get {rel}"):
                resp = await s3.get_object(Bucket=self.bucket, Key=self._key(rel))
        except _NotFound:
            raise UploadNotFound(upload_id, "completed upload data is gone") from None
        body = resp["Body"]
        try:
            batch = bytearray()
            while True:
                with _s3_errors(f"read {rel}"):
                    data = await body.read(READ_CHUNK_SIZE)
                if data:
                    batch += data
                if len(batch) >= VERIFY_BATCH_SIZE or (not data and batch):
                    await anyio.to_thread.run_sync(hasher.update, bytes(batch))
                    batch.clear()
                if not data:
                    return
        finally:
            body.close()

    async def _drop_staging(self, upload_id: str, mpu: str | None) -> None:
        data_rel = upload_data_path(upload_id)
        if mpu is not None:
            await self._abort_mpu(data_rel, mpu)
        for upload in await self._list_multipart(f"{upload_dir(upload_id)}/"):
            rel = str(upload["Key"])[len(self.prefix) :]
            await self._abort_mpu(rel, str(upload["UploadId"]))
        keys = [str(obj["Key"]) async for obj in self._list(f"{upload_dir(upload_id)}/")]
        for key in keys:
            await self._delete(key[len(self.prefix) :])

    async def abort_upload(self, upload_id: str, state: UploadState) -> None:
        check_upload_id(upload_id)
        mpu = state.get("mpu") if isinstance(state, dict) else None
        await self._drop_staging(upload_id, mpu if isinstance(mpu, str) else None)

    async def list_uploads(self) -> AsyncIterator[tuple[str, float]]:
        latest: dict[str, float] = {}
        start = len(self.prefix) + len(UPLOADS_DIR) + 1
        async for obj in self._list(f"{UPLOADS_DIR}/"):
            upload_id = str(obj["Key"])[start:].split("/", 1)[0]
            when = obj["LastModified"].timestamp()
            latest[upload_id] = max(when, latest.get(upload_id, 0.0))
        # Multipart uploads whose objects are already gone (a commit that died mid-cleanup).
        for upload in await self._list_multipart(f"{UPLOADS_DIR}/"):
            upload_id = str(upload["Key"])[start:].split("/", 1)[0]
            if upload_id not in latest:
                latest[upload_id] = upload["Initiated"].timestamp()
        for upload_id, when in latest.items():
            try:
                check_upload_id(upload_id)
            except ValueError:
                continue
            yield upload_id, when
