"""The time machine through /v2: a manifest no live tag (or tagged index) references is not
served, and is served again once a tag is restored; tags pushed with a ``quay.expires-after``
label (image config or manifest annotation) end on time; ``quay.immutable`` pins a tag."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import httpx

from tests.integration.api.conftest import bearer, configured, oauth_token
from tests.integration.conftest import (
    OCI_INDEX,
    OCI_MANIFEST,
    Berth,
    Client,
    Pushed,
    assert_error,
    canonical,
    digest_of,
    image_manifest,
    index_manifest,
    random_bytes,
)

REPO = "alice/tm"
__all__ = ["configured"]  # the fixture of tests/integration/api, used here too
ACCEPT = {"Accept": f"{OCI_MANIFEST}, {OCI_INDEX}"}


def labelled_config(
    layers: list[bytes], labels: dict[str, str], history: list[dict[str, Any]] | None = None
) -> bytes:
    """An image config with ``config.Labels`` (and ``history``), unique per call."""
    return canonical(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Labels": labels, "Env": [f"N={os.urandom(6).hex()}"]},
            "rootfs": {"type": "layers", "diff_ids": [digest_of(x) for x in layers]},
            "history": history or [],
        }
    )


async def push_labelled(
    client: Client,
    repo: str,
    tag: str,
    labels: dict[str, str],
    *,
    annotations: dict[str, str] | None = None,
    history: list[dict[str, Any]] | None = None,
    layers: int = 1,
) -> Pushed:
    """Push an image whose config carries ``labels`` (and the manifest ``annotations``)."""
    blobs = [random_bytes(1500 + i) for i in range(layers)]
    config = labelled_config(blobs, labels, history)
    for blob in (config, *blobs):
        await client.upload(repo, blob, single=True)
    extra = {"annotations": annotations} if annotations else {}
    manifest = image_manifest(config, blobs, **extra)
    await client.push_manifest(repo, tag, manifest, OCI_MANIFEST)
    return Pushed(repo, tag, manifest, OCI_MANIFEST, config, blobs)


async def live_tag(registry: Berth, repo: str, tag: str) -> dict[str, Any] | None:
    """The tag's live entry in the tags API (as alice), or None."""
    token = await oauth_token(registry, "alice")
    r = await registry.http.get(
        f"/api/v1/repository/{repo}/tag/",
        params={"specificTag": tag, "onlyActiveTags": "true"},
        headers=bearer(token),
    )
    assert r.status_code == 200, r.text
    tags = r.json()["tags"]
    return tags[0] if tags else None


async def _get(client: Client, ref: str, repo: str = REPO) -> httpx.Response:
    return await client.get(f"/v2/{repo}/manifests/{ref}", headers=ACCEPT)


async def _restore(registry: Berth, tag: str, digest: str) -> None:
    token = await oauth_token(registry, "alice")
    r = await registry.http.post(
        f"/api/v1/repository/{REPO}/tag/{tag}/restore",
        json={"manifest_digest": digest},
        headers=bearer(token),
    )
    assert (r.status_code, r.json()) == (200, {})


# ------------------------------------------------------------------------- time machine


async def test_deleted_tag_hides_its_manifest_until_restored(
    registry: Berth, alice: Client
) -> None:
    pushed = await alice.push_image(REPO, "v1")
    assert (await alice.delete(f"/v2/{REPO}/manifests/v1")).status_code == 202
    assert_error(await _get(alice, "v1"), 404, "MANIFEST_UNKNOWN")
    assert_error(await _get(alice, pushed.digest), 404, "MANIFEST_UNKNOWN")
    head = await alice.head(f"/v2/{REPO}/manifests/{pushed.digest}", headers=ACCEPT)
    assert head.status_code == 404
    assert "v1" not in ((await alice.get(f"/v2/{REPO}/tags/list")).json()["tags"] or [])
    await _restore(registry, "v1", pushed.digest)
    for ref in ("v1", pushed.digest):
        r = await _get(alice, ref)
        assert r.status_code == 200
        assert r.content == pushed.manifest
    for blob in pushed.blobs:
        r = await alice.get(f"/v2/{REPO}/blobs/{digest_of(blob)}", follow_redirects=True)
        assert r.content == blob
    assert (await alice.get(f"/v2/{REPO}/tags/list")).json()["tags"] == ["v1"]


async def test_delete_by_digest_ends_every_tag_and_restore_brings_one_back(
    registry: Berth, alice: Client
) -> None:
    pushed = await alice.push_image(REPO, "a")
    await alice.push_manifest(REPO, "b", pushed.manifest, OCI_MANIFEST)
    assert (await alice.delete(f"/v2/{REPO}/manifests/{pushed.digest}")).status_code == 202
    for ref in ("a", "b", pushed.digest):
        assert_error(await _get(alice, ref), 404, "MANIFEST_UNKNOWN")
    await _restore(registry, "b", pushed.digest)
    assert (await _get(alice, pushed.digest)).content == pushed.manifest
    assert (await _get(alice, "b")).status_code == 200
    assert_error(await _get(alice, "a"), 404, "MANIFEST_UNKNOWN")


async def test_index_children_live_and_die_with_their_index(registry: Berth, alice: Client) -> None:
    amd = await alice.push_image(REPO, None)
    arm = await alice.push_image(REPO, None)
    index = index_manifest(
        [
            (OCI_MANIFEST, amd.manifest, {"platform": {"os": "linux", "architecture": "amd64"}}),
            (OCI_MANIFEST, arm.manifest, {"platform": {"os": "linux", "architecture": "arm64"}}),
        ]
    )
    await alice.push_manifest(REPO, "multi", index, OCI_INDEX)
    assert (await _get(alice, amd.digest)).status_code == 200
    assert (await alice.delete(f"/v2/{REPO}/manifests/multi")).status_code == 202
    for ref in (amd.digest, arm.digest, digest_of(index)):
        assert_error(await _get(alice, ref), 404, "MANIFEST_UNKNOWN")
    await _restore(registry, "multi", digest_of(index))
    assert (await _get(alice, "multi")).content == index
    assert (await _get(alice, arm.digest)).content == arm.manifest
    entry = await live_tag(registry, REPO, "multi")
    assert entry is not None
    assert entry["is_manifest_list"] is True
    assert entry["size"] is None
    assert entry["reversion"] is True


# --------------------------------------------------------------------------- expiration


async def test_expires_after_label_sets_the_end_of_each_pushed_tag(
    registry: Berth, alice: Client
) -> None:
    pushed = await push_labelled(alice, REPO, "nightly", {"quay.expires-after": "2d"})
    entry = await live_tag(registry, REPO, "nightly")
    assert entry is not None
    assert entry["end_ts"] - entry["start_ts"] == 2 * 86400
    assert entry["expiration"].endswith("-0000")
    assert (await _get(alice, "nightly")).content == pushed.manifest
    # the same image under a second tag expires too, counted from that push
    await alice.push_manifest(REPO, "again", pushed.manifest, OCI_MANIFEST)
    again = await live_tag(registry, REPO, "again")
    assert again is not None
    assert again["end_ts"] - again["start_ts"] == 2 * 86400
    await alice.push_image(REPO, "plain")
    plain = await live_tag(registry, REPO, "plain")
    assert plain is not None
    assert "end_ts" not in plain


async def test_expires_after_label_ends_the_tag_on_time(registry: Berth, alice: Client) -> None:
    pushed = await push_labelled(alice, REPO, "short", {"quay.expires-after": "3s"})
    assert (await _get(alice, "short")).status_code == 200  # cached until the expiry
    entry = await live_tag(registry, REPO, "short")
    assert entry is not None
    assert entry["end_ts"] - entry["start_ts"] == 3
    await asyncio.sleep(entry["end_ts"] + 1 - time.time())  # end_ts is rounded down
    assert_error(await _get(alice, "short"), 404, "MANIFEST_UNKNOWN")
    assert_error(await _get(alice, pushed.digest), 404, "MANIFEST_UNKNOWN")
    assert await live_tag(registry, REPO, "short") is None
    assert (await alice.get(f"/v2/{REPO}/tags/list")).json()["tags"] in ([], None)
    # still in the time machine: it can be brought back
    await _restore(registry, "short", pushed.digest)
    assert (await _get(alice, "short")).content == pushed.manifest


async def test_expires_after_annotation_of_an_oci_manifest(registry: Berth, alice: Client) -> None:
    await push_labelled(alice, REPO, "annotated", {}, annotations={"quay.expires-after": "3w"})
    entry = await live_tag(registry, REPO, "annotated")
    assert entry is not None
    assert entry["end_ts"] - entry["start_ts"] == 3 * 7 * 86400


async def test_unreadable_expires_after_is_ignored(registry: Berth, alice: Client) -> None:
    for i, value in enumerate(("soon", "5x", "", "-1d", "2 days")):
        tag = f"odd{i}"
        await push_labelled(alice, REPO, tag, {"quay.expires-after": value})
        entry = await live_tag(registry, REPO, tag)
        assert entry is not None, value
        assert "end_ts" not in entry, value


# ------------------------------------------------------------------------- immutability


async def test_immutable_label_pins_the_tag(configured: Any) -> None:
    async with configured(FEATURE_IMMUTABLE_TAGS=True) as reg:
        alice = reg.client("alice")
        pinned = await push_labelled(
            alice, REPO, "pinned", {"quay.immutable": "TRUE", "quay.expires-after": "1d"}
        )
        entry = await live_tag(reg, REPO, "pinned")
        assert entry is not None
        assert entry["immutable"] is True
        assert "end_ts" not in entry  # immutable tags cannot expire (by default)
        other = await alice.push_image(REPO, "other")
        r = await alice.put_manifest(REPO, "pinned", other.manifest, OCI_MANIFEST)
        assert_error(r, 403, "DENIED")
        assert (await _get(alice, "pinned")).content == pinned.manifest


async def test_immutable_label_without_the_feature_does_nothing(
    registry: Berth, alice: Client
) -> None:
    await push_labelled(alice, REPO, "loose", {"quay.immutable": "true"})
    other = await alice.push_image(REPO, "other")
    await alice.push_manifest(REPO, "loose", other.manifest, OCI_MANIFEST)
    assert (await _get(alice, "loose")).content == other.manifest
