"""Quay's ``/health/instance`` and ``/health/endtoend``, and ``/metrics`` (Prometheus text)."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from berth.config import load_settings
from berth.http.app import create_app
from devservers import Redis
from tests.conftest import write_config
from tests.integration.conftest import (
    BASE_URL,
    OCI_MANIFEST,
    Berth,
    Client,
    image_config,
    image_manifest,
    random_bytes,
)


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the exposition ``text`` (0 when absent)."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        if all(got.get(k) == v for k, v in labels.items()):
            total += float(m.group(3))
    return total


async def scrape(registry: Berth) -> str:
    r = await registry.http.get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return r.text


async def test_health_endpoints_have_quays_shape(registry: Berth) -> None:
    r = await registry.http.get("/health/instance")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "data": {"services": {"database": True, "disk_space": True, "service_key": True}},
        "status_code": 200,
    }
    r = await registry.http.get("/health/endtoend")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "data": {"services": {"database": True, "storage": True, "auth": True}},
        "status_code": 200,
    }
    # Quay's older names for the two
    assert (await registry.http.get("/health")).json()["data"]["services"]["service_key"]
    assert (await registry.http.get("/status")).json()["data"]["services"]["storage"]


async def push_image(client: Client, repo: str, tag: str) -> int:
    layers = [random_bytes(20_000)]
    config = image_config(layers)
    for blob in (config, *layers):
        await client.upload(repo, blob)
    body = image_manifest(config, layers)
    resp = await client.put_manifest(repo, tag, body, OCI_MANIFEST)
    assert resp.status_code == 201, resp.text
    return len(config) + len(layers[0]) + len(body)


async def test_metrics_count_a_push_and_a_pull(registry: Berth, alice: Client) -> None:
    before = await scrape(registry)
    pushed = await push_image(alice, "alice/app", "v1")
    pull = await alice.get("/v2/alice/app/manifests/v1")
    assert pull.status_code == 200
    text = await scrape(registry)
    assert metric(text, "berth_bytes_pushed_total") - metric(
        before, "berth_bytes_pushed_total"
    ) == pytest.approx(pushed)
    assert metric(text, "berth_bytes_pulled_total") >= len(pull.content)
    assert (
        metric(text, "berth_http_requests_total", kind="manifest", method="PUT", status="201") == 1
    )
    assert (
        metric(text, "berth_http_requests_total", kind="manifest", method="GET", status="200") == 1
    )
    assert (
        metric(text, "berth_http_request_duration_seconds_count", kind="manifest", status="201")
        == 1
    )
    assert metric(text, "berth_http_requests_total", kind="upload") >= 2
    # gauges computed at scrape time, and the database pool of this process
    assert metric(text, "berth_uploads_in_flight") == 0
    for lane in ("quick", "long"):
        assert f'berth_jobs_queued{{lane="{lane}"}}' in text
        assert f'berth_jobs_oldest_age_seconds{{lane="{lane}"}}' in text
    assert 'berth_db_pool_connections{state="idle"}' in text
    assert "berth_cache_requests_total" in text or "berth_cache_requests_created" in text
    for name in ("berth_gc_passes_total", "berth_gc_bytes_freed_total"):
        assert name in text


async def test_metrics_uploads_in_flight_and_gc(registry: Berth, alice: Client) -> None:
    start = await alice.post("/v2/alice/app/blobs/uploads/")
    assert start.status_code == 202
    text = await scrape(registry)
    assert metric(text, "berth_uploads_in_flight") == 1
    await registry.services.runner.stop()  # (its scheduled pass at start is counted too)
    before = await scrape(registry)
    report = await registry.services.gc.collect(grace_s=0)
    text = await scrape(registry)
    passes = metric(text, "berth_gc_passes_total") - metric(before, "berth_gc_passes_total")
    freed = metric(text, "berth_gc_bytes_freed_total") - metric(
        before, "berth_gc_bytes_freed_total"
    )
    assert (passes, freed) == (1, report.freed)


# ---- outages: a database behind a proxy we can cut, a Redis we stop and start -------------


class Cuttable:
    """A TCP proxy in front of a server; ``cut()`` closes it and every connection through it
    (the server looks stopped), ``restore()`` listens again on the same port."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self.writers |= {writer, up_writer}

        async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, ConnectionError):
                while data := await r.read(65536):
                    w.write(data)
                    await w.drain()
            w.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for w in self.writers:
            w.close()
        self.writers.clear()
        await self.server.wait_closed()

    async def restore(self) -> None:
        await self.start()


@contextlib.asynccontextmanager
async def served(config: dict[str, Any], tmp: Path) -> AsyncIterator[Berth]:
    settings = load_settings(write_config(tmp, config), env={})
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
            yield Berth(app, settings, http, "distributed")


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.s3
async def test_endtoend_follows_postgres_and_redis_outages(
    registry_config: dict[str, Any], tmp_path: Path
) -> None:
    if "DB_URI" not in registry_config:
        pytest.skip("the outage test runs on the distributed deployment")
    db = urlsplit(registry_config["DB_URI"])
    proxy = Cuttable(db.hostname or "127.0.0.1", db.port or 5432)
    await proxy.start()
    redis = Redis(tmp_path / "redis")
    redis.start()
    try:
        netloc = db.netloc.replace(f"{db.hostname}:{db.port}", f"127.0.0.1:{proxy.port}")
        config = {
            **registry_config,
            "DB_URI": urlunsplit(db._replace(netloc=netloc)),
            "BERTH_REDIS": redis.options,
        }
        async with served(config, tmp_path) as reg:
            ok = {"database": True, "storage": True, "auth": True, "redis": True}
            r = await reg.http.get("/health/endtoend")
            assert (r.status_code, r.json()["data"]["services"]) == (200, ok)

            await proxy.cut()
            r = await reg.http.get("/health/endtoend")
            assert r.status_code == 503
            assert r.json()["status_code"] == 503
            services = r.json()["data"]["services"]
            assert (services["database"], services["auth"]) == (False, False)
            assert (services["storage"], services["redis"]) == (True, True)
            assert (await reg.http.get("/health/instance")).status_code == 503

            await proxy.restore()
            r = await reg.http.get("/health/endtoend")
            assert (r.status_code, r.json()["data"]["services"]) == (200, ok)

            port = redis.port
            redis.stop()
            r = await reg.http.get("/health/endtoend")
            assert r.status_code == 503
            assert r.json()["data"]["services"]["redis"] is False
            redis.start(port)
            r = await reg.http.get("/health/endtoend")
            assert r.status_code == 200, r.json()
    finally:
        redis.stop()
        with contextlib.suppress(Exception):
            await proxy.cut()
