"""One download per blob, however many clients ask for it at once (single-flight).

The first request for a blob a proxy-cache repository lacks starts a ``BlobFlight``: a task
(not owned by the request: a client that hangs up does not stop it) that reads the
upstream's stream into a spool file while the stream's hash is checked, and, at the same
time, writes the spooled bytes to storage (``BlobStorage.write_blob`` checks the digest
again; its last bytes are held until the fetch's check passed), then links the blob into
every repository that asked. Every client, the first included, streams from the spool as it
grows: none waits for the whole blob, and the upstream is asked once.

A flight that fails (the upstream broke off, or its bytes do not hash to the digest) stores
nothing; clients reading it lose their connection before the end of the body (their own
digest check would refuse the bytes anyway), and the next request starts a new flight.

Scope: one process. Server processes on one machine, or replicas, each fetch a blob at most
once (``docs/proxy-cache.md``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

log = logging.getLogger("berth.proxycache")

CHUNK = 1 << 20


class FlightFailed(Exception):
    """The download a reader was following failed; nothing was stored."""


class BlobFlight:
    def __init__(self, digest: str, spool_dir: Path) -> None:
        self.digest = digest
        self.path = spool_dir / f"{digest.replace(':', '-')}.{uuid.uuid4().hex}"
        self.size: int | None = None
        self.written = 0
        self.done = False
        self.fetched = False  # every byte spooled, and they hash to the digest
        self.stored = False
        self.error: BaseException | None = None
        self.started = asyncio.Event()  # the upstream answered (size known) or it failed
        self._changed = asyncio.Condition()

    async def run(
        self,
        fetch: Callable[[BlobFlight], Awaitable[None]],
        store: Callable[[BlobFlight], Awaitable[None]],
    ) -> None:
        """``fetch`` calls ``begin`` then ``append`` per chunk; ``store`` writes the blob
        from ``follow`` while the fetch goes on (so the blob is stored soon after its last
        byte arrived, and the last bytes wait for the digest check: a refused blob is never
        committed)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            storing = asyncio.ensure_future(self._store_when_started(store))
            try:
                await self._fetch(fetch)
            except BaseException:
                storing.cancel()
                with contextlib.suppress(BaseException):
                    await storing
                raise
            await storing
            self.stored = True
        except asyncio.CancelledError:
            await self._fail(FlightFailed(f"blob {self.digest}: the download was cancelled"))
            raise
        except Exception as e:
            log.warning("proxy cache: fetching %s failed: %s", self.digest, e)
            await self._fail(e)
        finally:
            self.started.set()
            async with self._changed:
                self.done = True
                self._changed.notify_all()
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()  # open readers keep their file descriptor

    async def _fetch(self, fetch: Callable[[BlobFlight], Awaitable[None]]) -> None:
        try:
            await fetch(self)
        except BaseException as e:
            await self._fail(e)
            raise
        async with self._changed:
            self.fetched = True
            self._changed.notify_all()

    async def _fail(self, error: BaseException) -> None:
        async with self._changed:
            if self.error is None:
                self.error = error
            self._changed.notify_all()
        self.started.set()

    async def _store_when_started(self, store: Callable[[BlobFlight], Awaitable[None]]) -> None:
        await self.started.wait()
        if self.error is None:
            await store(self)

    def begin(self, size: int | None) -> int:
        """The upstream answered: open the spool (its descriptor)."""
        self.size = size
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self.started.set()
        return fd

    async def append(self, fd: int, chunk: bytes) -> None:
        view = memoryview(chunk)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        async with self._changed:
            self.written += len(chunk)
            self._changed.notify_all()

    async def follow(self, stored: Callable[[], AsyncIterator[bytes]]) -> AsyncIterator[bytes]:
        """The blob's bytes as they arrive; ``stored`` reads the stored blob (for a reader
        that starts after the spool is gone)."""
        try:
            f = self.path.open("rb")
        except FileNotFoundError:
            await self._wait_done()
            if self.error is not None or not self.stored:
                raise FlightFailed(f"blob {self.digest}: {self.error}") from self.error
            async for chunk in stored():
                yield chunk
            return
        with f:
            position = 0
            while True:
                if position < self.written:
                    data = f.read(min(self.written - position, CHUNK))
                    if not data:  # not yet visible through this descriptor
                        await asyncio.sleep(0)
                        continue
                    position += len(data)
                    if self.size is not None and position >= self.size:
                        # The last bytes wait for the digest check: with a Content-Length
                        # the client would take the body as complete once they are sent.
                        await self._wait_checked()
                    yield data
                    continue
                if self.fetched:
                    return
                if self.done or self.error is not None:
                    raise FlightFailed(f"blob {self.digest}: {self.error}") from self.error
                await self._wait_past(position)

    async def _wait_past(self, position: int) -> None:
        async with self._changed:
            await self._changed.wait_for(
                lambda: (
                    self.written > position or self.fetched or self.done or self.error is not None
                )
            )

    async def _wait_checked(self) -> None:
        async with self._changed:
            await self._changed.wait_for(
                lambda: self.fetched or self.done or self.error is not None
            )
        if not self.fetched:
            raise FlightFailed(f"blob {self.digest}: {self.error}") from self.error

    async def _wait_done(self) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self.done)
