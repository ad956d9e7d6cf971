"""Content hashing for drivers (hashlib; berth.oci is not a dependency of this layer)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterable
from typing import Protocol

import anyio.to_thread

from berth.oci.digest import parse_digest

HASH_BATCH_SIZE = 8 * 1024 * 1024


class Hasher(Protocol):
    def update(self, data: bytes | bytearray | memoryview, /) -> None: ...
    def hexdigest(self) -> str: ...


class DigestHasher:
    """Hashes bytes with the algorithm of an expected digest and compares the result."""

    def __init__(self, expected: str) -> None:
        parsed = parse_digest(expected)
        self.expected = str(parsed)
        self.algorithm = parsed.algorithm
        self._h: Hasher = hashlib.new(parsed.algorithm)
        self.size = 0

    def update(self, data: bytes | bytearray | memoryview) -> None:
        # hashlib releases the GIL for buffers over 2 KiB, so this is fine in a worker thread.
        self._h.update(data)
        self.size += len(data)

    @property
    def actual(self) -> str:
        return f"{self.algorithm}:{self._h.hexdigest()}"

    def matches(self) -> bool:
        return self.actual == self.expected


async def drain_and_hash(chunks: AsyncIterable[bytes], hasher: DigestHasher) -> None:
    """Consume a body only to hash it, a few MiB per worker-thread hop."""
    batch: list[bytes] = []
    batched = 0
    async for chunk in chunks:
        batch.append(chunk)
        batched += len(chunk)
        if batched >= HASH_BATCH_SIZE:
            await anyio.to_thread.run_sync(hasher.update, b"".join(batch))
            batch, batched = [], 0
    if batch:
        await anyio.to_thread.run_sync(hasher.update, b"".join(batch))
