"""Rate limits (BERTH_RATE_LIMITS, off by default) on /v2 and /api/v1: a client over its
limit gets 429 TOO_MANY_REQUESTS with Retry-After in each surface's error format and
succeeds after waiting that long; per-namespace limits set by a superuser; counts shared by
two replicas through Redis."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from berth.config import load_settings
from berth.http.app import create_app
from berth.ratelimits.limiter import RedisCounter
from tests.conftest import distributed_config, write_config
from tests.integration.api.conftest import bearer, oauth_token
from tests.integration.conftest import BASE_URL, OCI_MANIFEST, Berth, Client, _clone_database

ACCEPT = {"Accept": OCI_MANIFEST}
LIMIT = 4
WINDOW = 2


async def until_limited(send: Any, limit: int) -> httpx.Response:
    """Requests until one is refused: at least ``limit`` pass first (fixed windows: a run
    that straddles a window boundary may pass up to twice that)."""
    for i in range(2 * limit + 1):
        r = await send()
        if r.status_code == 429:
            assert i >= limit, f"refused after {i} requests"
            return r
        assert r.status_code == 200, r.text
    raise AssertionError("never limited")


def assert_v2_429(r: httpx.Response) -> int:
    assert r.status_code == 429
    [error] = r.json()["errors"]
    assert error["code"] == "TOO_MANY_REQUESTS"
    retry = int(r.headers["Retry-After"])
    assert 1 <= retry <= WINDOW
    return retry


async def test_off_by_default(registry: Berth, alice: Client) -> None:
    await alice.push_image("alice/app", "v1")
    for _ in range(3 * LIMIT):
        r = await alice.get("/v2/alice/app/manifests/v1", headers=ACCEPT)
        assert r.status_code == 200


async def test_v2_and_api_limits_answer_429_and_pass_after_waiting(configured) -> None:  # type: ignore[no-untyped-def]
    limits = {
        "v2": {"caller": LIMIT, "window": WINDOW},
        "api": {"caller": LIMIT, "window": WINDOW},
    }
    async with configured(BERTH_RATE_LIMITS=limits, BERTH_RUN_WORKERS_IN_PROCESS=False) as b:
        alice = b.client("alice")
        await alice.push_image("alice/app", "v1")
        await asyncio.sleep(WINDOW)  # a fresh window for the count below
        r = await until_limited(
            lambda: alice.get("/v2/alice/app/manifests/v1", headers=ACCEPT), LIMIT
        )
        retry = assert_v2_429(r)
        # another caller (bob, anonymous) has its own count
        bob = b.client("bob")
        await b.set_public("alice/app")
        r = await bob.get("/v2/alice/app/manifests/v1", headers=ACCEPT)
        assert r.status_code == 200
        await asyncio.sleep(retry)
        r = await alice.get("/v2/alice/app/manifests/v1", headers=ACCEPT)
        assert r.status_code == 200, r.text

        h = bearer(await oauth_token(b, "alice"))  # /api/v1 counts apart from /v2
        r = await until_limited(lambda: b.http.get("/api/v1/user/", headers=h), LIMIT)
        assert r.json()["message"].startswith("Too many requests")
        assert r.json()["error_type"] == "TOO_MANY_REQUESTS"
        retry = int(r.headers["Retry-After"])
        await asyncio.sleep(retry)
        assert (await b.http.get("/api/v1/user/", headers=h)).status_code == 200


async def test_superusers_set_per_namespace_limits(configured) -> None:  # type: ignore[no-untyped-def]
    async with configured(BERTH_RATE_LIMITS={}, BERTH_RUN_WORKERS_IN_PROCESS=False) as b:
        alice = b.client("alice")
        await alice.push_image("alice/app", "v1")
        await b.client("bob").push_image("bob/app", "v1")
        root = bearer(await oauth_token(b, "root"))
        url = "/api/v1/superuser/ratelimits/alice"
        body = {"v2": {"namespace": LIMIT, "window": WINDOW}}
        r = await b.http.put(url, headers=root, json=body)
        assert r.status_code == 200, r.text
        assert r.json() == {
            "namespace": "alice",
            "v2": {"caller": None, "namespace": LIMIT, "window": WINDOW},
        }
        assert (await b.http.get("/api/v1/superuser/ratelimits/", headers=root)).json() == {
            "ratelimits": [r.json()]
        }
        # bad values and callers
        bad = await b.http.put(url, headers=root, json={"v2": {"namespace": 0}})
        assert bad.status_code == 400
        bad = await b.http.put(url, headers=root, json={"v3": {}})
        assert bad.status_code == 400
        alice_h = bearer(await oauth_token(b, "alice"))
        assert (await b.http.put(url, headers=alice_h, json=body)).status_code == 403
        assert (
            await b.http.get("/api/v1/superuser/ratelimits/nobody", headers=root)
        ).status_code == 404
        await b.services.limiter.overrides.reload()  # what each replica does every 5 s
        await asyncio.sleep(WINDOW)
        r = await until_limited(
            lambda: alice.get("/v2/alice/app/manifests/v1", headers=ACCEPT), LIMIT
        )
        assert_v2_429(r)
        bob = b.client("bob")
        for _ in range(2 * LIMIT):  # other namespaces are not limited
            assert (await bob.get("/v2/bob/app/manifests/v1", headers=ACCEPT)).status_code == 200
        assert (await b.http.delete(url, headers=root)).status_code == 204
        await b.services.limiter.overrides.reload()
        for _ in range(2 * LIMIT):
            r = await alice.get("/v2/alice/app/manifests/v1", headers=ACCEPT)
            assert r.status_code == 200


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.s3
async def test_two_replicas_share_the_count_through_redis(
    tmp_path: Path,
    postgres_url: str,
    s3_server: dict[str, str],
    redis_url: str,
    distributed_template: str,
) -> None:
    redis = urlsplit(redis_url)
    shared = distributed_config(
        tmp_path,
        postgres_url,
        s3_server,
        BERTH_REDIS={"host": redis.hostname, "port": redis.port},
        BERTH_RATE_LIMITS={"v2": {"caller": LIMIT, "window": WINDOW}},
        BERTH_RUN_WORKERS_IN_PROCESS=False,
    )
    await _clone_database(shared["DB_URI"], distributed_template)
    replicas: list[Berth] = []
    async with contextlib.AsyncExitStack() as stack:
        for name in "ab":
            config = {**shared, "BERTH_DATA_DIR": str(tmp_path / f"data-{name}")}
            settings = load_settings(write_config(tmp_path, config), env={})
            app = create_app(settings)
            assert isinstance(app.state.services.limiter.counter, RedisCounter)
            await stack.enter_async_context(app.router.lifespan_context(app))
            http = await stack.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL)
            )
            replicas.append(Berth(app, settings, http, "distributed"))
        a, b = (r.client("alice") for r in replicas)
        await a.push_image("alice/app", "v1")
        await asyncio.sleep(WINDOW)
        turn = iter(range(10**6))

        async def alternate() -> httpx.Response:
            client = a if next(turn) % 2 == 0 else b
            return await client.get("/v2/alice/app/manifests/v1", headers=ACCEPT)

        # LIMIT requests spread over both replicas use up the one shared count
        r = await until_limited(alternate, LIMIT)
        retry = assert_v2_429(r)
        for client in (a, b):  # both replicas refuse for the rest of the window
            other = await client.get("/v2/alice/app/manifests/v1", headers=ACCEPT)
            assert other.status_code == 429
        await asyncio.sleep(retry)
        assert (await a.get("/v2/alice/app/manifests/v1", headers=ACCEPT)).status_code == 200
