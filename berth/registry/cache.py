"""Manifest read cache with generation-based invalidation that works across processes.

Every repository has a generation number. Writers bump it *after* their transaction
commits; readers read it *before* they query and store what they found under that
generation. An entry is served only while its repository's generation is unchanged, so a
reader that raced a writer stores an entry that is already stale and never served.

Where the generations live decides who sees a bump:
- ``LocalGenerations``: this process only (tests, single-process servers).
- ``SharedFileGenerations``: a small memory-mapped file in the data directory, shared by
  every server process on the machine (the embedded default runs several).
- Deployments with several machines and no shared generation store run without a cache
  (``NoCache``): each read is one indexed query.
"""

from __future__ import annotations

import fcntl
import mmap
import os
import struct
import time
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Protocol, TypeVar

V = TypeVar("V")

_SLOTS = 1 << 16
_SLOT = struct.Struct("<Q")


class Generations(Protocol):
    def current(self, key: str) -> int: ...
    def bump(self, key: str) -> None: ...


class LocalGenerations:
    def __init__(self) -> None:
        self._gens: dict[str, int] = {}

    def current(self, key: str) -> int:
        return self._gens.get(key, 0)

    def bump(self, key: str) -> None:
        self._gens[key] = self._gens.get(key, 0) + 1


class SharedFileGenerations:
    """65,536 counters in a shared file; keys hash onto them (a collision only costs a miss).

    Reads are one aligned 8-byte load from the mapping; bumps take an exclusive file lock
    so no increment is lost between processes.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            size = _SLOTS * _SLOT.size
            if os.fstat(fd).st_size < size:
                fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    if os.fstat(fd).st_size < size:
                        os.ftruncate(fd, size)
                finally:
                    fcntl.flock(fd, fcntl.LOCK_UN)
            self._map = mmap.mmap(fd, size)
        finally:
            self._fd = fd

    @staticmethod
    def _offset(key: str) -> int:
        return (zlib.crc32(key.encode()) % _SLOTS) * _SLOT.size

    def current(self, key: str) -> int:
        return int(_SLOT.unpack_from(self._map, self._offset(key))[0])

    def bump(self, key: str) -> None:
        off = self._offset(key)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            _SLOT.pack_into(self._map, off, _SLOT.unpack_from(self._map, off)[0] + 1)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        self._map.close()
        os.close(self._fd)


@dataclass(slots=True)
class _Entry(Generic[V]):
    generation: int
    expires: float
    value: V


class ReadCache(Generic[V]):
    """An LRU of values per (repository key, item key), valid while the generation holds."""

    def __init__(
        self, generations: Generations, *, max_entries: int = 10_000, ttl_s: float = 300.0
    ) -> None:
        self.generations = generations
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self._items: OrderedDict[tuple[str, str], _Entry[V]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    @property
    def enabled(self) -> bool:
        return self.max_entries > 0

    def generation(self, repo_key: str) -> int:
        """Read before querying; pass the result to ``put``."""
        return self.generations.current(repo_key)

    def get(self, repo_key: str, item: str) -> V | None:
        entry = self._items.get((repo_key, item))
        if (
            entry is None
            or entry.expires < time.monotonic()
            or entry.generation != self.generations.current(repo_key)
        ):
            self.misses += 1
            return None
        self.hits += 1
        return entry.value

    def put(
        self, repo_key: str, item: str, value: V, generation: int, *, ttl_s: float | None = None
    ) -> None:
        ttl = self.ttl_s if ttl_s is None else min(ttl_s, self.ttl_s)
        if ttl <= 0:
            return
        self._items[(repo_key, item)] = _Entry(generation, time.monotonic() + ttl, value)
        self._items.move_to_end((repo_key, item))
        while len(self._items) > self.max_entries:
            self._items.popitem(last=False)

    def invalidate(self, repo_key: str) -> None:
        """Call after the writing transaction committed."""
        self.generations.bump(repo_key)


class NoCache(ReadCache[V]):
    def __init__(self) -> None:
        super().__init__(LocalGenerations(), max_entries=0, ttl_s=0)

    def get(self, repo_key: str, item: str) -> V | None:
        return None

    def invalidate(self, repo_key: str) -> None:
        return None
