"""The manifest read cache: generations shared across processes, stale entries never served."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

from berth.registry.cache import LocalGenerations, NoCache, ReadCache, SharedFileGenerations


def test_hit_until_the_repository_changes() -> None:
    cache: ReadCache[str] = ReadCache(LocalGenerations())
    gen = cache.generation("a/b")
    cache.put("a/b", "latest", "sha256:1", gen)
    assert cache.get("a/b", "latest") == "sha256:1"
    cache.invalidate("a/b")
    assert cache.get("a/b", "latest") is None
    assert cache.get("a/c", "latest") is None


def test_an_entry_read_before_a_write_committed_is_never_served() -> None:
    cache: ReadCache[str] = ReadCache(LocalGenerations())
    gen = cache.generation("a/b")  # reader reads the generation, then queries ...
    cache.invalidate("a/b")  # ... a writer commits and bumps meanwhile ...
    cache.put("a/b", "latest", "old answer", gen)  # ... the reader stores its answer
    assert cache.get("a/b", "latest") is None


def test_entries_expire_with_the_tag() -> None:
    cache: ReadCache[str] = ReadCache(LocalGenerations())
    cache.put("a/b", "soon", "x", cache.generation("a/b"), ttl_s=0.05)
    cache.put("a/b", "past", "x", cache.generation("a/b"), ttl_s=-1)
    assert cache.get("a/b", "soon") == "x"
    assert cache.get("a/b", "past") is None
    time.sleep(0.06)
    assert cache.get("a/b", "soon") is None


def test_lru_bound() -> None:
    cache: ReadCache[int] = ReadCache(LocalGenerations(), max_entries=2)
    for i in range(3):
        cache.put("r/x", str(i), i, 0)
    assert cache.get("r/x", "0") is None
    assert cache.get("r/x", "2") == 2


def _bump_many(path: str, n: int) -> None:
    gens = SharedFileGenerations(Path(path))
    for _ in range(n):
        gens.bump("ns/repo")
    gens.close()


def test_shared_generations_are_seen_by_other_processes_and_lose_no_bump(tmp_path: Path) -> None:
    path = tmp_path / "generations"
    gens = SharedFileGenerations(path)
    cache: ReadCache[str] = ReadCache(gens)
    cache.put("ns/repo", "v1", "sha256:1", cache.generation("ns/repo"))
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_bump_many, args=(str(path), 200)) for _ in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
        assert w.exitcode == 0
    assert gens.current("ns/repo") == 600
    assert cache.get("ns/repo", "v1") is None
    gens.close()


def test_no_cache_never_hits() -> None:
    cache: NoCache[str] = NoCache()
    cache.put("a/b", "t", "x", 0)
    assert cache.get("a/b", "t") is None
