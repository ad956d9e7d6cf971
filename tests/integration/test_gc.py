"""Garbage collection, rule by rule, and exact size accounting, on both deployments.

Each test pushes over /v2 like a client, runs a real collection pass (the service behind
``berth gc`` and the scheduled job), and checks what a user or operator notices: what still
pulls, which rows are gone, which blobs storage still holds (files on disk, objects in
SeaweedFS), and that the incrementally kept sizes equal a from-scratch computation.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from typing import Any

import pytest
from sqlalchemy import text

from berth.gc.services import GarbageCollector, GcReport
from berth.gc.tasks import COLLECT_GARBAGE
from berth.jobs import NoPayload
from berth.registry import accounting
from berth.registry.errors import ManifestUnknown
from berth.registry.repositories import RepoName
from berth.repos.tasks import DeleteRepository, delete_repository
from tests.integration.conftest import (
    EMPTY_DIGEST,
    OCI_EMPTY,
    OCI_INDEX,
    OCI_MANIFEST,
    Berth,
    Client,
    Pushed,
    canonical,
    descriptor,
    digest_of,
    index_manifest,
    random_bytes,
)

HOUR = 3600


@pytest.fixture(autouse=True)
async def _no_background_pass(registry: Berth) -> None:
    """These tests count what their own passes report, so the in-process runner's scheduled
    pass (the first runs as the app starts) must not collect beside them: stop the runner,
    letting a pass in hand finish. ``test_workers_collect_on_a_schedule`` drives the runner
    itself (``run_once``)."""
    await registry.services.runner.stop()


# ------------------------------------------------------------------------------ helpers


async def collect(registry: Berth, grace_s: int = 0, **kw: Any) -> GcReport:
    report: GcReport = await registry.services.gc.collect(grace_s=grace_s, **kw)
    return report


async def sql(registry: Berth, query: str, **params: Any) -> list[Any]:
    async with registry.services.db.write() as s:
        result = await s.execute(text(query), params)
        return list(result.all()) if result.returns_rows else []


async def set_window(registry: Berth, namespace: str, seconds: int) -> None:
    """The namespace's time-machine window (what the user/org settings change)."""
    await sql(
        registry,
        "UPDATE namespaces SET tag_expiration_s = :s WHERE name = :n",
        s=seconds,
        n=namespace,
    )


async def stored_blobs(registry: Berth) -> set[str]:
    """Digests storage holds: files under the data dir, or objects in the S3 bucket."""
    storage = registry.services.storage
    found = {d async for d in storage.list_blobs()}
    if registry.deployment == "embedded":  # and the files really are (or are not) there
        for digest in found:
            path = storage.local_path(digest)
            assert path is not None
            assert await asyncio.to_thread(os.path.exists, path)
    return found


async def read_blob(registry: Berth, digest: str) -> bytes:
    data = b"".join([c async for c in registry.services.storage.read_blob(digest)])
    assert digest_of(data) == digest, f"stored bytes of {digest} hash to {digest_of(data)}"
    return data


async def referenced_blobs(registry: Berth) -> set[str]:
    """Digests some manifest or some repository link still references."""
    rows = await sql(
        registry,
        "SELECT digest FROM blobs WHERE id IN (SELECT blob_id FROM manifest_blobs) "
        "OR id IN (SELECT blob_id FROM repository_blobs)",
    )
    return {r[0] for r in rows}


async def assert_sizes_exact(registry: Berth) -> accounting.Usage:
    """The incrementally kept sizes equal a from-scratch computation; return them."""
    async with registry.services.db.read() as s:
        kept = await accounting.stored(s)
        fresh = await accounting.recompute(s)
    assert kept == fresh
    return kept


_REPO_ID = (
    "(SELECT r.id FROM repositories r JOIN namespaces n ON n.id = r.namespace_id "
    "WHERE n.name = :ns AND r.name = :repo)"
)


async def _repo_count(registry: Berth, query: str, repo: str, **params: Any) -> int:
    """One integer from ``query``, in which ``{repo_id}`` stands for the repository's id."""
    namespace, _, name = repo.partition("/")
    rows = await sql(registry, query.format(repo_id=_REPO_ID), ns=namespace, repo=name, **params)
    return int(rows[0][0])


async def repo_size(registry: Berth, repo: str) -> int:
    return await _repo_count(
        registry, "SELECT size_bytes FROM repositories WHERE id = {repo_id}", repo
    )


async def namespace_size(registry: Berth, namespace: str) -> int:
    rows = await sql(registry, "SELECT size_bytes FROM namespaces WHERE name = :n", n=namespace)
    return int(rows[0][0])


async def tag_rows(registry: Berth, repo: str, name: str) -> int:
    query = "SELECT count(*) FROM tags WHERE repository_id = {repo_id} AND name = :t"
    return await _repo_count(registry, query, repo, t=name)


async def manifest_rows(registry: Berth, digest: str) -> int:
    rows = await sql(registry, "SELECT count(*) FROM manifests WHERE digest = :d", d=digest)
    return int(rows[0][0])


async def tag_service(registry: Berth, repo: str) -> tuple[Any, Any]:
    """The tags service (what /api/v1 tag routes call) and the repository's row."""
    reg = registry.services.registry
    return reg.tags, await reg.repository(reg.name(repo))


async def delete_tag(client: Client, repo: str, tag: str) -> None:
    resp = await client.delete(f"/v2/{repo}/manifests/{tag}")
    assert resp.status_code == 202, resp.text


async def pull_status(client: Client, repo: str, reference: str) -> int:
    resp = await client.get(f"/v2/{repo}/manifests/{reference}", headers={"Accept": OCI_MANIFEST})
    return resp.status_code


async def assert_pullable(client: Client, image: Pushed, reference: str | None = None) -> None:
    """The manifest and every blob pull, and every byte hashes to its digest."""
    resp = await client.get(
        f"/v2/{image.repo}/manifests/{reference or image.digest}",
        headers={"Accept": image.media_type},
    )
    assert resp.status_code == 200, resp.text
    assert resp.content == image.manifest
    for blob in image.blobs:
        got = await client.get(f"/v2/{image.repo}/blobs/{digest_of(blob)}")
        assert got.status_code == 200, got.text
        assert hashlib.sha256(got.content).hexdigest() == digest_of(blob).split(":")[1]


def blob_digests(*images: Pushed) -> set[str]:
    return {digest_of(b) for image in images for b in image.blobs}


def referrer(subject_manifest: bytes, payload: bytes) -> bytes:
    """A signature-like artifact on an OCI image manifest, to push by digest."""
    return canonical(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": "application/vnd.example.signature",
            "config": {"mediaType": OCI_EMPTY, "digest": EMPTY_DIGEST, "size": 2},
            "layers": [descriptor("application/vnd.example.payload", payload)],
            "subject": descriptor(OCI_MANIFEST, subject_manifest),
        }
    )


# --------------------------------------------------------------------------- time machine


async def test_deleted_tag_inside_the_window_stays_restorable(
    registry: Berth, alice: Client
) -> None:
    image = await alice.push_image("alice/app", "v1")
    await delete_tag(alice, "alice/app", "v1")
    assert await pull_status(alice, "alice/app", "v1") == 404

    report = await collect(registry, grace_s=0)

    assert report.tags == report.manifests == report.blobs == 0
    assert await tag_rows(registry, "alice/app", "v1") == 1  # the history row, restorable
    assert await manifest_rows(registry, image.digest) == 1
    for digest in blob_digests(image):
        await read_blob(registry, digest)
    # The tags API's restore brings the whole image back ...
    tags, repo = await tag_service(registry, "alice/app")
    await tags.restore(repo, "v1", image.digest)
    await assert_pullable(alice, image, "v1")
    assert await assert_sizes_exact(registry)

    # ... until the window has passed: then the pass takes it, and restore has nothing left.
    await delete_tag(alice, "alice/app", "v1")
    await set_window(registry, "alice", 0)
    await collect(registry, grace_s=0)
    with pytest.raises(ManifestUnknown):
        await tags.restore(repo, "v1", image.digest)
    assert await stored_blobs(registry) == set()


async def test_tag_past_the_window_is_gone_and_its_storage_freed(
    registry: Berth, alice: Client
) -> None:
    kept = await alice.push_image("alice/app", "keep")
    doomed = await alice.push_image("alice/app", "old")
    size_before = await repo_size(registry, "alice/app")
    assert size_before == sum(len(b) for b in (*kept.blobs, *doomed.blobs)) + len(
        kept.manifest
    ) + len(doomed.manifest)
    await delete_tag(alice, "alice/app", "old")
    await set_window(registry, "alice", 0)

    report = await collect(registry, grace_s=HOUR)  # the links are fresh: blobs wait

    assert await tag_rows(registry, "alice/app", "old") == 0
    assert await manifest_rows(registry, doomed.digest) == 0
    assert (report.tags, report.manifests, report.blobs) == (1, 1, 0)
    assert await repo_size(registry, "alice/app") == sum(len(b) for b in kept.blobs) + len(
        kept.manifest
    )
    assert report.repositories[0].released == size_before - await repo_size(registry, "alice/app")
    assert blob_digests(doomed) <= await stored_blobs(registry)

    report = await collect(registry, grace_s=0)

    assert report.blobs == len(doomed.blobs)
    assert report.freed == sum(len(b) for b in doomed.blobs)
    assert report.repositories[0].repository == "alice/app"
    assert report.repositories[0].links == len(doomed.blobs)
    assert await stored_blobs(registry) == blob_digests(kept)
    await assert_pullable(alice, kept, "keep")
    assert await assert_sizes_exact(registry)


async def test_expired_tag_ages_out_of_the_window(registry: Berth, alice: Client) -> None:
    """A tag whose expiration passed is in the time machine for the window, then gone."""
    await alice.push_image("alice/app", "v1")
    await set_window(registry, "alice", 2)
    await sql(registry, "UPDATE tags SET end_ts = :t WHERE name = 'v1'", t=_now_ms() - 1000)
    await collect(registry, grace_s=0)
    assert await tag_rows(registry, "alice/app", "v1") == 1
    await sql(registry, "UPDATE tags SET end_ts = :t WHERE name = 'v1'", t=_now_ms() - 2500)
    await collect(registry, grace_s=0)
    assert await tag_rows(registry, "alice/app", "v1") == 0
    assert await stored_blobs(registry) == set()


def _now_ms() -> int:
    import time

    return int(time.time() * 1000)


# ------------------------------------------------------------------------ manifest graph


async def test_index_children_live_with_their_index(registry: Berth, alice: Client) -> None:
    repo = "alice/multi"
    amd = await alice.push_image(repo, None)
    arm = await alice.push_image(repo, None)
    body = index_manifest(
        [
            (OCI_MANIFEST, amd.manifest, {"platform": {"os": "linux", "architecture": "amd64"}}),
            (OCI_MANIFEST, arm.manifest, {"platform": {"os": "linux", "architecture": "arm64"}}),
        ]
    )
    await alice.push_manifest(repo, "latest", body, OCI_INDEX)
    await set_window(registry, "alice", 0)

    report = await collect(registry, grace_s=0)

    # The children's digest-push tags ended when the index arrived; the index keeps them.
    assert (report.manifests, report.blobs) == (0, 0)
    await assert_pullable(alice, amd)
    await assert_pullable(alice, arm)
    assert await stored_blobs(registry) == blob_digests(amd, arm)

    await delete_tag(alice, repo, "latest")
    report = await collect(registry, grace_s=0)

    assert report.manifests == 3  # the index, then its two children
    for digest in (digest_of(body), amd.digest, arm.digest):
        assert await manifest_rows(registry, digest) == 0
    assert await stored_blobs(registry) == set()
    assert await repo_size(registry, repo) == 0
    assert await assert_sizes_exact(registry)


async def test_referrers_live_and_die_with_their_subject(registry: Berth, alice: Client) -> None:
    repo = "alice/signed"
    subject = await alice.push_image(repo, "v1")
    payload = random_bytes(300)
    await alice.upload(repo, payload)
    sig = referrer(subject.manifest, payload)
    await alice.push_manifest(repo, digest_of(sig), sig, OCI_MANIFEST)

    await delete_tag(alice, repo, "v1")
    await collect(registry, grace_s=0)  # subject in the window: the signature stays
    listed = (await alice.get(f"/v2/{repo}/referrers/{subject.digest}")).json()["manifests"]
    assert [d["digest"] for d in listed] == [digest_of(sig)]

    await set_window(registry, "alice", 0)
    report = await collect(registry, grace_s=0)

    assert await manifest_rows(registry, subject.digest) == 0
    assert await manifest_rows(registry, digest_of(sig)) == 0
    assert report.manifests == 2
    assert await pull_status(alice, repo, digest_of(sig)) == 404
    stored = await stored_blobs(registry)
    assert not (blob_digests(subject) | {digest_of(payload)}) & stored
    assert await assert_sizes_exact(registry)


async def test_referrer_pushed_before_its_subject_is_kept(registry: Berth, alice: Client) -> None:
    """The spec allows a referrer first; its subject was never collected, so it stays."""
    repo = "alice/early"
    later = canonical({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": []})
    payload = random_bytes(100)
    await alice.upload(repo, payload)
    sig = referrer(later, payload)
    await alice.push_manifest(repo, digest_of(sig), sig, OCI_MANIFEST)
    await set_window(registry, "alice", 0)
    report = await collect(registry, grace_s=0)
    assert report.manifests == 0
    assert await pull_status(alice, repo, digest_of(sig)) == 200


# -------------------------------------------------------------------------------- blobs


async def test_blob_shared_with_another_repository_is_kept(registry: Berth, alice: Client) -> None:
    shared = random_bytes(5000)
    only_a = random_bytes(3000)
    a = await alice.push_image("alice/a", "v1", layers=[shared, only_a])
    b = await alice.push_image("alice/b", "v1", layers=[shared])
    sizes = await assert_sizes_exact(registry)
    ns_id = (await sql(registry, "SELECT id FROM namespaces WHERE name = 'alice'"))[0][0]
    assert sizes.namespaces[ns_id] == (
        len(shared)
        + len(only_a)
        + len(a.config)
        + len(b.config)
        + len(a.manifest)
        + len(b.manifest)
    )  # the shared layer counts once for the namespace ...
    assert await repo_size(registry, "alice/a") + await repo_size(
        registry, "alice/b"
    ) == sizes.namespaces[ns_id] + len(shared)  # ... and once in each repository

    await delete_tag(alice, "alice/a", "v1")
    await set_window(registry, "alice", 0)
    report = await collect(registry, grace_s=0)

    assert report.blobs == 2  # alice/a's config and its own layer
    assert await stored_blobs(registry) == blob_digests(b)
    await assert_pullable(alice, b, "v1")
    assert await namespace_size(registry, "alice") == await repo_size(registry, "alice/b")
    assert await assert_sizes_exact(registry)


async def test_deleted_repository_leaves_exact_sizes_and_its_blobs_to_collect(
    registry: Berth, alice: Client
) -> None:
    shared = random_bytes(6000)
    a = await alice.push_image("alice/a", "v1", layers=[shared, random_bytes(900)])
    b = await alice.push_image("alice/b", "v1", layers=[shared])
    svc = registry.services
    repo_id = (await svc.registry.repository(RepoName("alice", "a"))).id
    assert await svc.repos.delete(RepoName("alice", "a"))
    # the job the API enqueued
    await delete_repository(DeleteRepository(repo_id), svc.db, svc.storage)

    assert await namespace_size(registry, "alice") == await repo_size(registry, "alice/b")
    assert await assert_sizes_exact(registry)
    report = await collect(registry, grace_s=HOUR)  # its links went with it: no grace
    assert report.blobs == 2  # alice/a's config and own layer; the shared one stays
    assert await stored_blobs(registry) == blob_digests(b)
    assert blob_digests(a) - blob_digests(b) != set()
    await assert_pullable(alice, b, "v1")


async def test_fresh_upload_is_kept_for_the_grace_period(registry: Berth, alice: Client) -> None:
    data = random_bytes(4096)
    digest = await alice.upload("alice/app", data)

    report = await collect(registry, grace_s=HOUR)

    assert (report.blobs, report.links) == (0, 0)
    assert (await alice.head(f"/v2/alice/app/blobs/{digest}")).status_code == 200
    assert digest in await stored_blobs(registry)

    report = await collect(registry, grace_s=0)  # `berth gc --grace 0`: collect it now

    assert (report.links, report.blobs, report.freed) == (1, 1, len(data))
    assert (await alice.head(f"/v2/alice/app/blobs/{digest}")).status_code == 404
    assert await stored_blobs(registry) == set()


async def test_mount_renews_the_grace_period(registry: Berth, alice: Client) -> None:
    data = random_bytes(2048)
    digest = await alice.upload("alice/src", data)
    await sql(registry, "UPDATE repository_blobs SET linked_at = 0")  # uploaded long ago
    await alice.login("alice/dst", "pull", "push", extra_scopes=("repository:alice/src:pull",))
    resp = await alice.post(
        "/v2/alice/dst/blobs/uploads/", params={"mount": digest, "from": "alice/src"}
    )
    assert resp.status_code == 201, resp.text

    report = await collect(registry, grace_s=HOUR)

    assert (report.links, report.blobs) == (1, 0)  # alice/src's old link only
    assert (await alice.head(f"/v2/alice/src/blobs/{digest}")).status_code == 404
    assert (await alice.head(f"/v2/alice/dst/blobs/{digest}")).status_code == 200
    assert await read_blob(registry, digest) == data


async def test_upload_racing_the_collector_is_refused_not_corrupted(
    registry: Berth, alice: Client
) -> None:
    """The collector deletes a blob between an upload's storage write and its link.

    The second upload of the same bytes finds them stored (the driver skips the write);
    a pass with grace 0 then collects them; the upload must not link a blob whose bytes
    are gone: it answers BLOB_UPLOAD_INVALID, and uploading again works.
    """
    data = random_bytes(1500)
    digest = await alice.upload("alice/app", data)
    storage = registry.services.storage
    real_commit = storage.commit_upload

    async def commit_then_collect(*args: Any, **kw: Any) -> int:
        size = await real_commit(*args, **kw)
        await collect(registry, grace_s=0)
        return size

    storage.commit_upload = commit_then_collect  # type: ignore[method-assign]
    try:
        location = await alice.start_upload("alice/app")
        resp = await alice.put(location, params={"digest": digest}, content=data)
    finally:
        storage.commit_upload = real_commit  # type: ignore[method-assign]
    assert resp.status_code == 400, resp.text
    assert resp.json()["errors"][0]["code"] == "BLOB_UPLOAD_INVALID"
    assert (await alice.head(f"/v2/alice/app/blobs/{digest}")).status_code == 404

    await alice.upload("alice/app", data)
    got = await alice.get(f"/v2/alice/app/blobs/{digest}")
    assert (got.status_code, got.content) == (200, data)


# ------------------------------------------------------------------- uploads and reports


async def test_abandoned_upload_sessions_are_purged(registry: Berth, alice: Client) -> None:
    location = await alice.start_upload("alice/app")
    resp = await alice.patch(location, content=b"half of a layer")
    assert resp.status_code == 202
    # Idle for two minutes: stale for a one-minute expiry (not for the server's own 1d).
    await sql(registry, "UPDATE uploads SET updated_at = :t", t=_now_ms() - 120_000)
    svc = registry.services
    collector = GarbageCollector(svc.db, svc.storage, upload_expiry_s=60)

    dry = await collector.collect(grace_s=0, dry_run=True)
    assert dry.uploads == 1
    assert (await alice.get(location)).status_code == 204

    report = await collector.collect(grace_s=0)

    assert report.uploads == 1
    assert (await alice.get(location)).status_code == 404
    assert await sql(registry, "SELECT id FROM uploads") == []


async def test_dry_run_reports_what_a_pass_frees_and_changes_nothing(
    registry: Berth, alice: Client
) -> None:
    shared = random_bytes(4000)
    await alice.push_image("alice/a", "v1", layers=[shared, random_bytes(100)])
    await alice.push_image("alice/a", "v2", layers=[shared])
    await alice.push_image("alice/b", "v1", layers=[shared, random_bytes(700)])
    await alice.push_image("alice/c", "keep")
    await alice.upload("alice/c", random_bytes(900))  # uploaded, never referenced
    for repo, tag in (("alice/a", "v1"), ("alice/a", "v2"), ("alice/b", "v1")):
        await delete_tag(alice, repo, tag)
    await set_window(registry, "alice", 0)
    before = (await stored_blobs(registry), await assert_sizes_exact(registry))

    dry = await collect(registry, grace_s=0, dry_run=True)

    assert (await stored_blobs(registry), await assert_sizes_exact(registry)) == before
    assert await tag_rows(registry, "alice/a", "v1") == 1

    real = await collect(registry, grace_s=0)

    def per_repo(report: GcReport) -> dict[str, tuple[int, ...]]:
        return {
            r.repository: (r.tags, r.manifests, r.links, r.released, r.blobs, r.freed)
            for r in report.repositories
        }

    assert per_repo(dry) == per_repo(real)
    assert (dry.blobs, dry.freed, dry.manifests) == (real.blobs, real.freed, real.manifests)
    assert (real.manifests, real.blobs) == (3, 7)  # shared, 2 own layers, 3 configs, upload
    assert sorted(per_repo(real)) == ["alice/a", "alice/b", "alice/c"]
    assert before[0] - await stored_blobs(registry) == {
        d for d in before[0] if d not in await referenced_blobs(registry)
    }
    assert await assert_sizes_exact(registry)


async def test_sizes_stay_exact_through_pushes_and_collection(
    registry: Berth, alice: Client
) -> None:
    base = random_bytes(8000)
    images = [
        await alice.push_image(f"alice/r{i % 3}", f"t{i}", layers=[base, random_bytes(50 + i)])
        for i in range(9)
    ]
    # The same manifest in a second repository: one more manifest row, no new bytes.
    copy = images[0]
    for blob in copy.blobs:
        await alice.upload("alice/r1", blob)
    await alice.push_manifest("alice/r1", "copy", copy.manifest, OCI_MANIFEST)
    child = await alice.push_image("alice/r0", None, layers=[base])
    index = index_manifest([(OCI_MANIFEST, child.manifest, {})])
    await alice.push_manifest("alice/r0", "multi", index, OCI_INDEX)
    bobs = await registry.client("bob").push_image("bob/app", "v1", layers=[base])
    await assert_sizes_exact(registry)

    await set_window(registry, "alice", 0)
    for i in range(0, 9, 2):
        await delete_tag(alice, images[i].repo, f"t{i}")
    await collect(registry, grace_s=0)
    await assert_sizes_exact(registry)

    await delete_tag(alice, "alice/r0", "multi")
    await collect(registry, grace_s=0)
    await assert_sizes_exact(registry)

    alive = [images[i] for i in range(1, 9, 2)] + [copy]
    blobs = {digest_of(b): len(b) for image in alive for b in image.blobs}
    manifests = {image.digest: len(image.manifest) for image in alive}
    assert await namespace_size(registry, "alice") == sum(blobs.values()) + sum(manifests.values())
    r1 = [images[1], images[7], copy]
    assert await repo_size(registry, "alice/r1") == sum(
        {digest_of(b): len(b) for image in r1 for b in image.blobs}.values()
    ) + sum(len(image.manifest) for image in r1)
    assert await stored_blobs(registry) == set(blobs) | blob_digests(bobs)


async def test_workers_collect_on_a_schedule(registry: Berth, alice: Client) -> None:
    """The ``collect_garbage`` job is scheduled (BERTH_GC_INTERVAL) and does a real pass."""
    runner = registry.services.runner
    assert [s.every_s for s in runner.schedules if s.kind is COLLECT_GARBAGE] == [
        registry.settings.gc_interval_s
    ]
    image = await alice.push_image("alice/app", "v1")
    await delete_tag(alice, "alice/app", "v1")
    await set_window(registry, "alice", 0)

    await registry.services.jobs.enqueue(COLLECT_GARBAGE, NoPayload())
    deadline = asyncio.get_running_loop().time() + 30
    while await manifest_rows(registry, image.digest):
        assert asyncio.get_running_loop().time() < deadline, "the job never collected"
        await runner.run_once()
        await asyncio.sleep(0.05)
    assert await tag_rows(registry, "alice/app", "v1") == 0
    assert await assert_sizes_exact(registry)


async def test_a_pass_visits_only_repositories_with_work(registry: Berth, alice: Client) -> None:
    """Quiet repositories cost a pass nothing (no write transaction each): the progress a
    user of ``berth gc`` sees counts only the repositories with something to collect."""
    for n in range(6):
        await alice.push_image(f"alice/quiet{n}", "v1")
    doomed = await alice.push_image("alice/busy", "old")
    await delete_tag(alice, "alice/busy", "old")
    await set_window(registry, "alice", 0)
    seen: list[tuple[str, int, int]] = []

    report = await collect(
        registry,
        grace_s=HOUR,
        progress=lambda stage, done, total: seen.append((stage, done, total)),
    )

    assert [s for s in seen if s[0] == "repositories"] == [("repositories", 1, 1)]
    assert [r.repository for r in report.repositories] == ["alice/busy"]
    assert await manifest_rows(registry, doomed.digest) == 0
    # Links of the quiet repositories are past a zero grace period but all referenced:
    # still nothing to visit there; the busy one's unreferenced links are its only work.
    seen.clear()
    report = await collect(
        registry, grace_s=0, progress=lambda stage, done, total: seen.append((stage, done, total))
    )
    assert [s for s in seen if s[0] == "repositories"] == [("repositories", 1, 1)]
    assert report.repositories[0].links == len(doomed.blobs)
    for n in range(6):
        assert await pull_status(alice, f"alice/quiet{n}", "v1") == 200
    assert await assert_sizes_exact(registry)
