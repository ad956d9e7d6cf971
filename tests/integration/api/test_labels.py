"""Manifests and their labels over /api/v1: labels read from the image config at push
(source ``manifest``), added and deleted through the API (source ``api``), and the manifest
view with its layers."""

from __future__ import annotations

from typing import Any

from berth.audit.services import list_logs
from tests.integration.api.conftest import bearer, oauth_token
from tests.integration.api.test_framework import NOT_FOUND_BODY, assert_problem
from tests.integration.conftest import (
    OCI_INDEX,
    OCI_MANIFEST,
    Berth,
    Client,
    digest_of,
    index_manifest,
)
from tests.integration.test_time_machine import push_labelled

REPO = "alice/lab"
BASE = f"/api/v1/repository/{REPO}/manifest"
IMAGE_LABELS = {
    "maintainer": "alice@example.com",
    "org.opencontainers.image.source": "https://example.com/src",
    "build.info": '{"commit": "abc123"}',
}
KEY_FORMAT = (
    "Label is of an invalid format or missing please use "
    "^[a-z0-9](([a-z0-9]|[-.](?![.-]))*[a-z0-9])?$ format for labels"
)


async def _alice(registry: Berth) -> dict[str, str]:
    return bearer(await oauth_token(registry, "alice"))


async def _labels(registry: Berth, digest: str, h: dict[str, str], **params: Any) -> list[Any]:
    r = await registry.http.get(f"{BASE}/{digest}/labels", params=params, headers=h)
    assert r.status_code == 200, r.text
    return r.json()["labels"]  # type: ignore[no-any-return]


async def test_labels_from_the_image_config(registry: Berth, alice: Client) -> None:
    h = await _alice(registry)
    pushed = await push_labelled(alice, REPO, "v1", IMAGE_LABELS)
    labels = await _labels(registry, pushed.digest, h)
    assert {(x["key"], x["value"], x["source_type"], x["media_type"]) for x in labels} == {
        ("maintainer", "alice@example.com", "manifest", "text/plain"),
        ("org.opencontainers.image.source", "https://example.com/src", "manifest", "text/plain"),
        ("build.info", '{"commit": "abc123"}', "manifest", "application/json"),
    }
    assert all(len(x["id"]) == 36 for x in labels)
    only = await _labels(registry, pushed.digest, h, filter="org.")
    assert [x["key"] for x in only] == ["org.opencontainers.image.source"]
    one = labels[0]
    r = await registry.http.get(f"{BASE}/{pushed.digest}/labels/{one['id']}", headers=h)
    assert (r.status_code, r.json()) == (200, one)
    # pushing the same image again (another tag) stores nothing twice
    await alice.push_manifest(REPO, "v2", pushed.manifest, OCI_MANIFEST)
    assert len(await _labels(registry, pushed.digest, h)) == 3


async def test_add_and_delete_an_api_label(registry: Berth, alice: Client) -> None:
    h = await _alice(registry)
    pushed = await push_labelled(alice, REPO, "v1", {"maintainer": "alice"})
    r = await registry.http.post(
        f"{BASE}/{pushed.digest}/labels",
        json={"key": "reviewed-by", "value": "bob", "media_type": None},
        headers=h,
    )
    assert r.status_code == 201, r.text
    label = r.json()["label"]
    assert {k: label[k] for k in ("key", "value", "source_type", "media_type")} == {
        "key": "reviewed-by",
        "value": "bob",
        "source_type": "api",
        "media_type": "text/plain",
    }
    location = r.headers["location"]
    assert location == f"{BASE}/{pushed.digest}/labels/{label['id']}"
    assert (await registry.http.get(location, headers=h)).json() == label
    (added,) = await _logs(registry, "manifest_label_add")
    assert added.repository == "lab"
    assert added.metadata["key"] == "reviewed-by"
    assert added.metadata["manifest_digest"] == pushed.digest
    r = await registry.http.delete(location, headers=h)
    assert r.status_code == 204
    r = await registry.http.get(location, headers=h)
    assert_problem(r, 404, "not_found", "Not Found")
    r = await registry.http.delete(location, headers=h)
    assert_problem(r, 404, "not_found", "Not Found")
    assert [x["key"] for x in await _labels(registry, pushed.digest, h)] == ["maintainer"]
    assert len(await _logs(registry, "manifest_label_delete")) == 1


async def _logs(registry: Berth, kind: str) -> list[Any]:
    async with registry.services.db.read() as s:
        return await list_logs(s, namespace="alice", kind=kind)


async def test_bad_labels_change_nothing(registry: Berth, alice: Client) -> None:
    h = await _alice(registry)
    pushed = await push_labelled(alice, REPO, "v1", {"maintainer": "alice"})
    labels = f"{BASE}/{pushed.digest}/labels"
    before = await _labels(registry, pushed.digest, h)
    (image_label,) = before
    r = await registry.http.delete(f"{labels}/{image_label['id']}", headers=h)
    assert (r.status_code, r.json()) == (400, {"message": "Cannot delete immutable label"})
    for key in ("quay.expires-after", "io.k8s.name", "com.docker.x", "internal.note"):
        r = await registry.http.post(
            labels, json={"key": key, "value": "1h", "media_type": None}, headers=h
        )
        assert (r.status_code, r.json()) == (400, {"message": "Label has a reserved prefix"})
    for key in ("Upper", "-dash", "a..b", "x" * 256, ""):
        r = await registry.http.post(
            labels, json={"key": key, "value": "v", "media_type": "text/plain"}, headers=h
        )
        assert (r.status_code, r.json()) == (400, {"message": KEY_FORMAT}), key
    r = await registry.http.post(
        labels, json={"key": "ok", "value": "v", "media_type": "image/png"}, headers=h
    )
    assert r.status_code == 400
    assert r.json()["error_type"] == "invalid_request"
    r = await registry.http.post(labels, json={"key": "ok", "value": "v"}, headers=h)
    assert r.status_code == 400  # media_type is required (null is fine)
    unknown = f"{BASE}/sha256:{'0' * 64}/labels"
    r = await registry.http.post(
        unknown, json={"key": "ok", "value": "v", "media_type": None}, headers=h
    )
    assert_problem(r, 404, "not_found", "Not Found")
    assert await _labels(registry, pushed.digest, h) == before
    assert await _logs(registry, "manifest_label_add") == []


async def test_label_permissions(registry: Berth, alice: Client) -> None:
    pushed = await push_labelled(alice, REPO, "v1", {"maintainer": "alice"})
    labels = f"{BASE}/{pushed.digest}/labels"
    r = await registry.http.get(labels)
    assert_problem(r, 401, "invalid_token", "Requires authentication")
    bob = bearer(await oauth_token(registry, "bob"))
    assert (await registry.http.get(labels, headers=bob)).status_code == 403
    await registry.set_public(REPO)
    assert (await registry.http.get(labels)).status_code == 200
    r = await registry.http.post(
        labels, json={"key": "k", "value": "v", "media_type": None}, headers=bob
    )
    assert_problem(r, 403, "insufficient_scope", "Unauthorized")


async def test_manifests_outside_the_time_machine_view_are_404(
    registry: Berth, alice: Client
) -> None:
    h = await _alice(registry)
    pushed = await push_labelled(alice, REPO, "v1", {"maintainer": "alice"})
    await registry.http.delete(f"/api/v1/repository/{REPO}/tag/v1", headers=h)
    for path in (f"{BASE}/{pushed.digest}", f"{BASE}/{pushed.digest}/labels"):
        r = await registry.http.get(path, headers=h)
        assert_problem(r, 404, "not_found", "Not Found")
    r = await registry.http.get(f"{BASE}/v1", headers=h)  # a tag is not a manifest reference
    assert (r.status_code, r.json()) == (404, NOT_FOUND_BODY)


async def test_manifest_view_with_layers_from_the_history(registry: Berth, alice: Client) -> None:
    h = await _alice(registry)
    history = [
        {"created": "2024-05-01T10:00:00Z", "created_by": "ADD rootfs.tar /", "author": "alice"},
        {"created": "2024-05-01T10:00:01Z", "created_by": "ENV A=1", "empty_layer": True},
        {"created": "2024-05-01T10:00:02.123456789Z", "created_by": "RUN make", "comment": "c"},
    ]
    pushed = await push_labelled(alice, REPO, "v1", {}, history=history, layers=2)
    r = await registry.http.get(f"{BASE}/{pushed.digest}", headers=h)
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["digest"] == pushed.digest
    assert view["is_manifest_list"] is False
    assert view["manifest_data"] == pushed.manifest.decode()
    assert view["config_media_type"] == "application/vnd.oci.image.config.v1+json"
    assert view["layers_compressed_size"] == sum(len(x) for x in pushed.layers)
    first, second = view["layers"]
    assert first == {
        "index": 0,
        "compressed_size": len(pushed.layers[0]),
        "is_remote": False,
        "urls": None,
        "command": ["ADD rootfs.tar /"],
        "comment": None,
        "author": "alice",
        "blob_digest": digest_of(pushed.layers[0]),
        "created_datetime": "Wed, 01 May 2024 10:00:00 -0000",
    }
    assert second["command"] == ["RUN make"]
    assert second["comment"] == "c"
    assert second["created_datetime"] == "Wed, 01 May 2024 10:00:02 -0000"


async def test_manifest_view_of_an_index(registry: Berth, alice: Client) -> None:
    h = await _alice(registry)
    child = await alice.push_image(REPO, None)
    index = index_manifest([(OCI_MANIFEST, child.manifest, {})])
    resp = await alice.push_manifest(REPO, "multi", index, OCI_INDEX)
    digest = resp.headers["docker-content-digest"]
    view = (await registry.http.get(f"{BASE}/{digest}", headers=h)).json()
    assert view["is_manifest_list"] is True
    assert view["layers"] is None
    assert view["layers_compressed_size"] is None
    assert view["config_media_type"] is None
    child_view = (await registry.http.get(f"{BASE}/{child.digest}", headers=h)).json()
    assert child_view["layers"][0]["command"] is None  # a config without history
