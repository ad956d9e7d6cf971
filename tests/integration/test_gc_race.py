"""The collector racing a busy registry: nothing live is ever lost, nothing dead is kept.

Several clients push images that share layers (skipping blobs a HEAD says are there, as
docker and podman do), move tags, push signatures and multi-arch indexes, and delete tags,
while garbage collection loops with grace 0 and a time-machine window of 0 (so it deletes
as early as it ever may). Clients retry what the collector legitimately refuses
(MANIFEST_BLOB_UNKNOWN after a stale upload was collected, BLOB_UPLOAD_INVALID when the
bytes went between an upload's write and its link); any other failure fails the test.
Afterwards every live tag pulls completely with every byte hashing to its digest, storage
holds exactly the blobs manifests still reference, and the sizes are exact.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import pytest

from tests.integration.conftest import (
    EMPTY_DIGEST,
    OCI_INDEX,
    OCI_MANIFEST,
    Berth,
    Client,
    digest_of,
    image_config,
    image_manifest,
    index_manifest,
)
from tests.integration.test_gc import (
    assert_sizes_exact,
    collect,
    read_blob,
    referrer,
    set_window,
    sql,
    stored_blobs,
)

pytestmark = pytest.mark.slow

REPOS = ("alice/web", "alice/api", "alice/base")
TAGS = ("latest", "v1", "v2", "stable")
WORKERS = 5
ROUNDS = 10
RETRIES = 25
SHARED = [random.Random(i).randbytes(2000 + 700 * i) for i in range(8)]


class Refused(Exception):
    """The registry refused something the collector may legitimately cause; retry."""


def _check(resp: Any, *ok: int, retry: tuple[str, ...] = ()) -> None:
    if resp.status_code in ok:
        return
    codes = []
    if resp.headers.get("content-type", "").startswith("application/json"):
        codes = [e.get("code") for e in resp.json().get("errors", [])]
    if set(codes) & set(retry):
        raise Refused(codes)
    raise AssertionError(
        f"{resp.request.method} {resp.request.url} -> {resp.status_code} {resp.text[:300]}"
    )


async def _ensure_blob(client: Client, repo: str, data: bytes) -> None:
    digest = digest_of(data)
    if (await client.head(f"/v2/{repo}/blobs/{digest}")).status_code == 200:
        return  # like docker: trust the HEAD (the collector may still take it: retried)
    resp = await client.post(
        f"/v2/{repo}/blobs/uploads/",
        params={"digest": digest},
        content=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    _check(resp, 201, retry=("BLOB_UPLOAD_INVALID",))


async def _push(
    client: Client,
    repo: str,
    ref: str,
    body: bytes,
    media_type: str,
    blobs: list[bytes],
    stats: dict[str, int],
) -> str:
    """Blobs then the manifest, retried from the blobs when the collector interfered."""
    for _ in range(RETRIES):
        try:
            for blob in blobs:
                await _ensure_blob(client, repo, blob)
            resp = await client.put_manifest(repo, ref, body, media_type)
            _check(resp, 201, retry=("MANIFEST_BLOB_UNKNOWN",))
            return digest_of(body)
        except Refused:
            stats["refused"] += 1
    raise AssertionError(f"{repo}:{ref} could not be pushed in {RETRIES} tries")


def _image(rng: random.Random) -> tuple[bytes, list[bytes]]:
    """A manifest sharing some layers with others, and the blobs it needs."""
    layers = [*rng.sample(SHARED, rng.randint(1, 3)), rng.randbytes(rng.randint(100, 3000))]
    config = image_config(layers)
    return image_manifest(config, layers), [config, *layers]


async def _worker(client: Client, seed: int, stats: dict[str, int]) -> None:
    rng = random.Random(seed)
    for _ in range(ROUNDS):
        repo, tag = rng.choice(REPOS), rng.choice(TAGS)
        roll = rng.random()
        if roll < 0.2:
            resp = await client.delete(f"/v2/{repo}/manifests/{tag}")
            _check(resp, 202, 404)
            stats["deletes"] += 1
        elif roll < 0.35:  # a two-platform index: children by digest, then the index
            children = [_image(rng) for _ in range(2)]
            for body, blobs in children:
                await _push(client, repo, digest_of(body), body, OCI_MANIFEST, blobs, stats)
            index = index_manifest([(OCI_MANIFEST, body, {}) for body, _ in children])
            await _push(client, repo, tag, index, OCI_INDEX, [], stats)
            stats["indexes"] += 1
        else:
            body, blobs = _image(rng)
            await _push(client, repo, tag, body, OCI_MANIFEST, blobs, stats)
            stats["pushes"] += 1
            if rng.random() < 0.3:  # a signature on it, pushed by digest
                payload = rng.randbytes(200)
                sig = referrer(body, payload)
                await _push(client, repo, digest_of(sig), sig, OCI_MANIFEST, [payload], stats)
                stats["signatures"] += 1


async def _gc_loop(registry: Berth, stop: asyncio.Event, stats: dict[str, int]) -> None:
    while not stop.is_set():
        report = await collect(registry, grace_s=0)
        stats["gc_passes"] += 1
        stats["gc_manifests"] += report.manifests
        stats["gc_blobs"] += report.blobs
        # Passes back to back would starve pushes (grace 0 unlinks every blob uploaded but
        # not yet in a manifest); a short random pause lets pushes through between bites.
        await asyncio.sleep(random.uniform(0.3, 1.2))


async def _pull_tree(client: Client, repo: str, ref: str, media_types: str) -> None:
    resp = await client.get(f"/v2/{repo}/manifests/{ref}", headers={"Accept": media_types})
    assert resp.status_code == 200, f"{repo}:{ref} -> {resp.status_code} {resp.text[:200]}"
    assert digest_of(resp.content) == resp.headers["docker-content-digest"]
    doc = resp.json()
    for child in doc.get("manifests", []):
        await _pull_tree(client, repo, child["digest"], media_types)
    for desc in [doc["config"], *doc["layers"]] if "config" in doc else []:
        blob = await client.get(f"/v2/{repo}/blobs/{desc['digest']}")
        assert blob.status_code == 200, f"{repo}@{desc['digest']} -> {blob.status_code}"
        assert digest_of(blob.content) == desc["digest"]


async def test_gc_racing_pushes_tag_moves_and_deletes(registry: Berth) -> None:
    for repo in REPOS:
        await registry.client("alice").push_image(repo, "seed")
    await set_window(registry, "alice", 0)
    stats: dict[str, int] = dict.fromkeys(
        (
            "pushes",
            "indexes",
            "signatures",
            "deletes",
            "refused",
            "gc_passes",
            "gc_manifests",
            "gc_blobs",
        ),
        0,
    )
    stop = asyncio.Event()
    started = time.monotonic()
    collector = asyncio.create_task(_gc_loop(registry, stop, stats))
    try:
        await asyncio.gather(
            *(_worker(registry.client("alice", basic=True), seed, stats) for seed in range(WORKERS))
        )
    finally:
        stop.set()
        await collector
    await collect(registry, grace_s=0)  # quiet now: everything unreferenced goes
    elapsed = time.monotonic() - started
    print(f"\n{registry.deployment}: {stats} in {elapsed:.1f}s")
    assert stats["gc_passes"] >= 3
    assert stats["gc_blobs"] > 0  # the collector really did bite while pushes went on

    alice = registry.client("alice")
    accept = f"{OCI_MANIFEST}, {OCI_INDEX}"
    live = 0
    for repo in REPOS:
        resp = await alice.get(f"/v2/{repo}/tags/list")
        assert resp.status_code == 200, resp.text
        for tag in resp.json()["tags"] or []:
            await _pull_tree(alice, repo, tag, accept)
            live += 1
    assert live > 0

    referenced = {
        r[0]
        for r in await sql(
            registry,
            "SELECT digest FROM blobs WHERE id IN (SELECT blob_id FROM manifest_blobs)",
        )
    }
    rows = {r[0] for r in await sql(registry, "SELECT digest FROM blobs")}
    stored = await stored_blobs(registry)
    # No row outlives its last reference (the 2-byte empty JSON blob is kept by design) ...
    assert rows - {EMPTY_DIGEST} == referenced - {EMPTY_DIGEST}
    assert stored == rows  # ... and storage holds exactly the rows: no lost or orphan bytes
    for digest in stored:
        await read_blob(registry, digest)
    await assert_sizes_exact(registry)
