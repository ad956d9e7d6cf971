"""FEATURE_GENERAL_OCI_SUPPORT and ALLOWED_OCI_ARTIFACT_TYPES (Quay's user guide, chapter 13):
which artifacts a push may store. Images (zstd layers included) are always accepted."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from berth.config import load_settings
from berth.http.app import create_app
from tests.conftest import write_config
from tests.integration.conftest import (
    BASE_URL,
    EMPTY_DIGEST,
    OCI_EMPTY,
    OCI_MANIFEST,
    Berth,
    assert_error,
    canonical,
    descriptor,
    image_config,
    image_manifest,
    random_bytes,
)

HELM_CONFIG = "application/vnd.cncf.helm.config.v1+json"
HELM_CHART = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
COSIGN = "application/vnd.dev.cosign.simplesigning.v1+json"
ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
SIF_CONFIG = "application/vnd.sylabs.sif.config.v1+json"
SIF_LAYER = "application/vnd.sylabs.sif.layer.v1+tar"


@contextlib.asynccontextmanager
async def configured(
    registry_config: dict[str, Any], tmp: Path, **keys: Any
) -> AsyncIterator[Berth]:
    conf = tmp / "configured"
    conf.mkdir(exist_ok=True)
    settings = load_settings(write_config(conf, {**registry_config, **keys}), env={})
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
            yield Berth(app, settings, http, "configured")


async def push(reg: Berth, tag: str, config: bytes, config_type: str, layers: dict[bytes, str],
               **extra: Any) -> httpx.Response:  # fmt: skip
    alice = reg.client("alice")
    for blob in (config, *layers):
        await alice.upload("alice/things", blob)
    body = canonical(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor(config_type, config),
            "layers": [descriptor(t, blob) for blob, t in layers.items()],
            **extra,
        }
    )
    return await alice.put_manifest("alice/things", tag, body, OCI_MANIFEST)


async def push_image(reg: Berth, tag: str, layer_type: str | None = None) -> httpx.Response:
    alice = reg.client("alice")
    layers = [random_bytes(400)]
    config = image_config(layers)
    for blob in (config, *layers):
        await alice.upload("alice/things", blob)
    body = image_manifest(config, layers, layer_type=layer_type)
    return await alice.put_manifest("alice/things", tag, body, OCI_MANIFEST)


async def push_helm(reg: Berth) -> httpx.Response:
    return await push(reg, "chart", b'{"name":"c","version":"1"}', HELM_CONFIG,
                      {random_bytes(300): HELM_CHART})  # fmt: skip


async def push_cosign(reg: Berth) -> httpx.Response:
    return await push(reg, "sig", image_config([]), "application/vnd.oci.image.config.v1+json",
                      {random_bytes(200): COSIGN})  # fmt: skip


async def push_sif(reg: Berth) -> httpx.Response:
    return await push(reg, "sif", b'{"sif":1}', SIF_CONFIG, {random_bytes(300): SIF_LAYER})


async def push_oci11(reg: Berth, artifact_type: str) -> httpx.Response:
    alice = reg.client("alice")
    payload = random_bytes(300)
    await alice.upload("alice/things", payload)
    body = canonical(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": artifact_type,
            "config": {"mediaType": OCI_EMPTY, "digest": EMPTY_DIGEST, "size": 2},
            "layers": [descriptor("application/octet-stream", payload)],
        }
    )
    return await alice.put_manifest("alice/things", "oci11", body, OCI_MANIFEST)


async def test_default_accepts_images_and_every_artifact(
    registry_config: dict[str, Any], tmp_path: Path
) -> None:
    async with configured(registry_config, tmp_path) as reg:
        for resp in (
            await push_image(reg, "img"),
            await push_image(reg, "zstd", ZSTD),
            await push_helm(reg),
            await push_cosign(reg),
            await push_sif(reg),
            await push_oci11(reg, "application/vnd.example.thing"),
        ):
            assert resp.status_code == 201, resp.text


async def test_general_oci_support_off_refuses_artifacts(
    registry_config: dict[str, Any], tmp_path: Path
) -> None:
    async with configured(registry_config, tmp_path, FEATURE_GENERAL_OCI_SUPPORT=False) as reg:
        assert (await push_image(reg, "img")).status_code == 201
        assert (await push_image(reg, "zstd", ZSTD)).status_code == 201
        for resp in (
            await push_helm(reg),
            await push_cosign(reg),
            await push_sif(reg),
            await push_oci11(reg, "application/vnd.example.thing"),
        ):
            assert_error(resp, 400, "MANIFEST_INVALID")
            assert "FEATURE_GENERAL_OCI_SUPPORT" in resp.json()["errors"][0]["message"]
        tags = await reg.client("alice").get("/v2/alice/things/tags/list")
        assert sorted(tags.json()["tags"]) == ["img", "zstd"]  # nothing half-written


async def test_allowed_artifact_types_govern_other_artifacts(
    registry_config: dict[str, Any], tmp_path: Path
) -> None:
    allowed = {
        SIF_CONFIG: [SIF_LAYER],
        "application/vnd.example.thing": ["application/octet-stream"],
    }
    async with configured(registry_config, tmp_path, ALLOWED_OCI_ARTIFACT_TYPES=allowed) as reg:
        # listed, and built in (Helm, cosign, zstd images)
        for resp in (
            await push_sif(reg),
            await push_oci11(reg, "application/vnd.example.thing"),
            await push_helm(reg),
            await push_cosign(reg),
            await push_image(reg, "zstd", ZSTD),
        ):
            assert resp.status_code == 201, resp.text
        # a type not listed
        resp = await push_oci11(reg, "application/vnd.example.other")
        assert_error(resp, 400, "MANIFEST_INVALID")
        assert "application/vnd.example.other" in resp.json()["errors"][0]["message"]
        # a listed type with a layer type not allowed for it
        resp = await push(reg, "sif2", b'{"sif":2}', SIF_CONFIG, {random_bytes(30): "text/plain"})
        assert_error(resp, 400, "MANIFEST_INVALID")
        assert resp.json()["errors"][0]["detail"]["mediaType"] == "text/plain"
