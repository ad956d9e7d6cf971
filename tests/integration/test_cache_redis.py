"""Two replicas on one PostgreSQL database with shared cache generations in Redis.

Each replica serves manifest reads from its own cache; what a client changes through one
replica is what the other serves from the moment the change was acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from berth.config import load_settings
from berth.http.app import create_app
from berth.registry.cache import RedisGenerations
from tests.conftest import distributed_config, write_config
from tests.integration.conftest import (
    BASE_URL,
    OCI_MANIFEST,
    Berth,
    _clone_database,
    assert_error,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.s3]

# Longer than the replicas' default (5 ms) so that, without the commit wait, a replica's
# lease taken just before a write would still be valid when the write is acknowledged.
LEASE = 0.3
ACCEPT = {"Accept": OCI_MANIFEST}


@pytest.fixture
def shared_config(
    tmp_path: Path,
    postgres_url: str,
    s3_server: dict[str, str],
    redis_url: str,
    distributed_template: str,
) -> dict[str, Any]:
    redis = urlsplit(redis_url)
    config = distributed_config(
        tmp_path, postgres_url, s3_server, BERTH_REDIS={"host": redis.hostname, "port": redis.port}
    )
    asyncio.run(_clone_database(config["DB_URI"], distributed_template))
    return config


@pytest.fixture
async def replicas(shared_config: dict[str, Any], tmp_path: Path) -> AsyncIterator[list[Berth]]:
    """Replicas A and B: one database, one bucket, one Redis, a data directory each."""
    out: list[Berth] = []
    async with contextlib.AsyncExitStack() as stack:
        for name in "ab":
            config = {**shared_config, "BERTH_DATA_DIR": str(tmp_path / f"data-{name}")}
            settings = load_settings(write_config(tmp_path, config), env={})
            app = create_app(settings)
            generations = app.state.services.read_cache.generations
            assert isinstance(generations, RedisGenerations)
            generations.lease_s = LEASE
            await stack.enter_async_context(app.router.lifespan_context(app))
            http = await stack.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL)
            )
            out.append(Berth(app, settings, http, "distributed"))
        yield out


async def _served_digest(client: Any, path: str) -> str:
    resp = await client.get(path, headers=ACCEPT)
    assert resp.status_code == 200, resp.text
    return str(resp.headers["docker-content-digest"])


async def test_a_tag_moved_on_one_replica_is_served_new_by_the_other_at_once(
    replicas: list[Berth],
) -> None:
    a, b = replicas
    on_a, on_b = a.client("alice"), b.client("alice")
    path = "/v2/alice/app/manifests/latest"
    first = await on_a.push_image("alice/app", "latest")

    assert await _served_digest(on_b, path) == first.digest
    hits = b.services.read_cache.hits
    assert await _served_digest(on_b, path) == first.digest
    assert b.services.read_cache.hits == hits + 1, "B serves the tag from its cache"

    second = await on_a.push_image("alice/app", "latest")  # the tag moves, through A
    resp = await on_b.get(path, headers=ACCEPT)
    assert resp.status_code == 200, resp.text
    assert resp.headers["docker-content-digest"] == second.digest
    assert resp.content == second.manifest

    assert (await on_a.delete(f"/v2/alice/app/manifests/{second.digest}")).status_code == 202
    assert_error(await on_b.get(path, headers=ACCEPT), 404, "MANIFEST_UNKNOWN")
    assert_error(
        await on_b.get(f"/v2/alice/app/manifests/{second.digest}", headers=ACCEPT),
        404,
        "MANIFEST_UNKNOWN",
    )


async def test_a_tag_list_follows_writes_on_the_other_replica(replicas: list[Berth]) -> None:
    a, b = replicas
    on_a, on_b = a.client("alice"), b.client("alice")
    await on_a.push_image("alice/lib", "v1")
    resp = await on_b.get("/v2/alice/lib/tags/list")
    assert resp.json()["tags"] == ["v1"]

    await on_a.push_image("alice/lib", "v2")
    resp = await on_b.get("/v2/alice/lib/tags/list")
    assert resp.json()["tags"] == ["v1", "v2"]

    assert (await on_a.delete("/v2/alice/lib/manifests/v1")).status_code == 202
    resp = await on_b.get("/v2/alice/lib/tags/list")
    assert resp.json()["tags"] == ["v2"]
