"""BERTH_OPEN_REGISTRY: a registry without authentication, as CNCF distribution runs bare."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from berth.config import load_settings
from berth.http.app import create_app
from tests.conftest import write_config
from tests.integration.conftest import BASE_URL, Berth, Client, random_bytes


@pytest.fixture
async def open_registry(registry_config: dict[str, Any], tmp_path: Path) -> AsyncIterator[Berth]:
    config = {**registry_config, "BERTH_OPEN_REGISTRY": True}
    settings = load_settings(write_config(tmp_path, config), env={})
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as http,
    ):
        yield Berth(app, settings, http, "open")


async def test_anonymous_push_pull_delete_without_credentials(open_registry: Berth) -> None:
    http = open_registry.http
    assert (await http.get("/v2/")).status_code == 200
    anon = Client(http, None)
    pushed = await anon.push_image("anyone/app", "v1")
    got = await http.get("/v2/anyone/app/manifests/v1")
    assert got.status_code == 200
    assert got.headers["docker-content-digest"] == pushed.digest
    blob = random_bytes(1000)
    digest = await anon.upload("anyone/app", blob)
    assert (await http.get(f"/v2/anyone/app/blobs/{digest}")).content == blob
    catalog = await http.get("/v2/_catalog")
    assert "anyone/app" in catalog.json()["repositories"]
    deleted = await http.delete(f"/v2/anyone/app/manifests/{pushed.digest}")
    assert deleted.status_code == 202
    assert (await http.get("/v2/anyone/app/manifests/v1")).status_code == 404


async def test_closed_registry_still_refuses_anonymous_pushes(registry: Berth) -> None:
    resp = await registry.http.post("/v2/anyone/app/blobs/uploads/")
    assert resp.status_code == 401
    assert resp.json()["errors"][0]["code"] == "UNAUTHORIZED"
