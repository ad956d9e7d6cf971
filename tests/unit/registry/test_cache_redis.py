"""Generations in a real Redis: what one replica writes, another never serves stale once the
writer's response may start; reads cost no round trip inside a lease; Redis outages and
restarts never revive an old entry."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis

from berth.config import redis_options
from berth.registry.cache import (
    ReadCache,
    RedisGenerations,
    close_response_hold,
    open_response_hold,
)
from devservers import Redis, free_port

pytestmark = pytest.mark.slow

LEASE = 0.05  # long enough to observe on a busy machine


def _options(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    return {"host": parts.hostname, "port": parts.port}


@pytest.fixture
def replicas(redis_url: str) -> Iterator[tuple[RedisGenerations, RedisGenerations, redis.Redis]]:
    """Two replicas' generation stores and a plain client, on a freshly emptied Redis."""
    plain = redis.Redis(**_options(redis_url))
    plain.flushdb()
    a = RedisGenerations.from_options(_options(redis_url), lease_s=LEASE)
    b = RedisGenerations.from_options(_options(redis_url), lease_s=LEASE)
    yield a, b, plain
    a.close()
    b.close()
    plain.close()


def _cached(gens: RedisGenerations, value: str) -> ReadCache[str]:
    """A replica's cache holding ``value`` for ns/repo:latest, served from it."""
    cache: ReadCache[str] = ReadCache(gens)
    cache.put("ns/repo", "latest", value, cache.generation("ns/repo"))
    assert cache.get("ns/repo", "latest") == value
    return cache


def test_a_bump_on_one_replica_is_seen_by_another_before_the_writer_answers(
    replicas: tuple[RedisGenerations, RedisGenerations, redis.Redis],
) -> None:
    a, b, _ = replicas
    cache_b = _cached(b, "sha256:old")

    hold, token = open_response_hold()  # the writer's request, on replica A
    try:
        ReadCache(a).invalidate("ns/repo")
    finally:
        close_response_hold(token)
    assert hold.until >= time.monotonic() + LEASE * 0.9, "the writer's response is held"

    time.sleep(max(0.0, hold.until - time.monotonic()))  # the writer answers its client
    assert cache_b.get("ns/repo", "latest") is None


def test_inside_a_lease_a_read_costs_no_round_trip(
    replicas: tuple[RedisGenerations, RedisGenerations, redis.Redis],
) -> None:
    a, _, plain = replicas
    first = a.current("ns/repo")
    assert first is not None
    plain.set("berth:generation:ns/repo", 1)  # changed behind the lease's back
    assert a.current("ns/repo") == first  # served from the lease: Redis was not asked
    time.sleep(LEASE * 1.2)
    assert a.current("ns/repo") == 1


def test_the_writer_reads_its_own_bump_at_once(
    replicas: tuple[RedisGenerations, RedisGenerations, redis.Redis],
) -> None:
    a, b, plain = replicas
    before = a.current("ns/repo")
    a.bump("ns/repo")
    after = a.current("ns/repo")
    assert after != before
    assert int(plain.get("berth:generation:ns/repo") or 0) == after
    assert b.current("ns/repo") == after


def test_an_entry_read_before_a_write_committed_is_never_served(
    replicas: tuple[RedisGenerations, RedisGenerations, redis.Redis],
) -> None:
    a, b, _ = replicas
    cache_b: ReadCache[str] = ReadCache(b)
    gen = cache_b.generation("ns/repo")  # B reads the generation, then queries ...
    a.bump("ns/repo")  # ... A commits and bumps meanwhile ...
    cache_b.put("ns/repo", "latest", "old answer", gen)  # ... B stores its answer
    time.sleep(LEASE * 1.2)
    assert cache_b.get("ns/repo", "latest") is None


def test_a_redis_that_lost_its_keys_revives_no_entry(
    replicas: tuple[RedisGenerations, RedisGenerations, redis.Redis],
) -> None:
    _, b, plain = replicas
    cache_b = _cached(b, "sha256:1")
    plain.flushdb()  # a restart without persistence, or an eviction
    time.sleep(LEASE * 1.2)
    assert cache_b.get("ns/repo", "latest") is None


def test_without_redis_nothing_is_cached_and_missed_bumps_are_made_up(
    tmp_path: Path,
) -> None:
    server = Redis(tmp_path / "redis")
    server.start()
    port = server.port
    gens = RedisGenerations.from_options(server.options, lease_s=LEASE, retry_after_s=0.05)
    cache: ReadCache[str] = ReadCache(gens)
    try:
        cache.put("ns/repo", "latest", "sha256:1", cache.generation("ns/repo"))
        server.stop()
        time.sleep(LEASE * 1.2)

        assert cache.get("ns/repo", "latest") is None  # cannot check: a miss
        assert cache.generation("ns/repo") is None
        cache.put("ns/repo", "latest", "sha256:2", None)  # nothing stored under "unknown"
        cache.invalidate("ns/repo")  # a write while Redis is away

        server.start(port)
        plain = redis.Redis(port=port)
        try:
            plain.set("berth:generation:ns/repo", 7)  # what another replica last saw
            time.sleep(0.2)  # past the backoff
            gen = cache.generation("ns/repo")
            # The write made while Redis was away is announced before anything is read.
            assert gen is not None
            assert gen != 7
            assert int(plain.get("berth:generation:ns/repo") or 0) == gen
        finally:
            plain.close()
    finally:
        gens.close()
        server.stop()


def test_an_unreachable_redis_does_not_stall_each_read() -> None:
    gens = RedisGenerations.from_options({"host": "127.0.0.1", "port": free_port()}, lease_s=LEASE)
    try:
        assert gens.current("ns/repo") is None
        t0 = time.perf_counter()
        for _ in range(100):
            assert gens.current("ns/repo") is None
        assert time.perf_counter() - t0 < 0.05  # backing off: no connection attempts
    finally:
        gens.close()


def _raw(**keys: Any) -> SimpleNamespace:
    defaults = {"BERTH_REDIS": None, "USER_EVENTS_REDIS": None, "DATA_MODEL_CACHE_CONFIG": None}
    return SimpleNamespace(**{**defaults, **keys})


def test_which_config_key_turns_the_shared_cache_on() -> None:
    berth = {"host": "berth-redis", "port": 6380}
    model = {"engine": "redis", "redis_config": {"primary": {"host": "model", "ssl": True}}}
    events = {"host": "events", "password": "pw"}
    assert redis_options(_raw()) is None
    assert redis_options(_raw(USER_EVENTS_REDIS=events)) == events
    assert redis_options(_raw(USER_EVENTS_REDIS=events, DATA_MODEL_CACHE_CONFIG=model)) == {
        "host": "model",
        "ssl": True,
    }
    noop = {"engine": "noop"}
    assert redis_options(_raw(USER_EVENTS_REDIS=events, DATA_MODEL_CACHE_CONFIG=noop)) is None
    assert redis_options(_raw(BERTH_REDIS=berth, DATA_MODEL_CACHE_CONFIG=noop)) == berth
