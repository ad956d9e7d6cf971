"""Concurrent pushes, as CI fleets make them: many tags of one repository at once, one tag
from several jobs, one image under several tags. On PostgreSQL pushes to a repository run
side by side (only pushes of one tag take turns); every test runs on both deployments and
checks what a user notices: every push answered 201, one live row per tag, the tag pulls
one of the pushed manifests whole, and sizes equal a from-scratch computation."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from tests.integration.conftest import (
    OCI_MANIFEST,
    Berth,
    Client,
    digest_of,
    image_config,
    image_manifest,
    random_bytes,
)
from tests.integration.test_gc import assert_sizes_exact, delete_tag

PUSHES = 12


async def _rows(registry: Berth, query: str, **params: object) -> list[tuple[object, ...]]:
    async with registry.services.db.read() as s:
        return [tuple(r) for r in (await s.execute(text(query), params)).all()]


async def _live_tag_rows(registry: Berth, name: str) -> int:
    rows = await _rows(
        registry,
        "SELECT count(*) FROM tags WHERE name = :n AND hidden = :f AND end_ts IS NULL",
        n=name,
        f=False,
    )
    return int(rows[0][0])  # type: ignore[call-overload]


async def _base(alice: Client, repo: str) -> tuple[bytes, bytes]:
    layer = random_bytes(2048)
    config = image_config([layer])
    for blob in (config, layer):
        await alice.upload(repo, blob, single=True)
    return config, layer


async def _put_all(alice: Client, repo: str, pushes: list[tuple[str, bytes]]) -> None:
    answers = await asyncio.gather(
        *(alice.put_manifest(repo, ref, body, OCI_MANIFEST) for ref, body in pushes)
    )
    assert [a.status_code for a in answers] == [201] * len(pushes), [a.text for a in answers]


async def test_many_tags_of_one_repository_at_once(registry: Berth, alice: Client) -> None:
    config, layer = await _base(alice, "alice/fleet")
    bodies = [image_manifest(config, [layer], annotations={"job": str(i)}) for i in range(PUSHES)]
    await _put_all(alice, "alice/fleet", [(f"job-{i}", b) for i, b in enumerate(bodies)])

    for i, body in enumerate(bodies):
        got = await alice.get(
            f"/v2/alice/fleet/manifests/job-{i}", headers={"Accept": OCI_MANIFEST}
        )
        assert got.status_code == 200
        assert got.content == body
        assert await _live_tag_rows(registry, f"job-{i}") == 1
    sizes = await assert_sizes_exact(registry)
    # The shared blobs count once; every manifest's own bytes count.
    expected = len(config) + len(layer) + sum(len(b) for b in bodies)
    assert expected in sizes.repositories.values()


async def test_one_tag_from_many_jobs_keeps_one_live_row(registry: Berth, alice: Client) -> None:
    config, layer = await _base(alice, "alice/race")
    bodies = [image_manifest(config, [layer], annotations={"job": str(i)}) for i in range(PUSHES)]
    await _put_all(alice, "alice/race", [("latest", b) for b in bodies])

    assert await _live_tag_rows(registry, "latest") == 1
    history = await _rows(registry, "SELECT count(*) FROM tags WHERE name = 'latest'")
    assert history[0][0] == PUSHES  # each push is a row of the tag's history
    got = await alice.get("/v2/alice/race/manifests/latest", headers={"Accept": OCI_MANIFEST})
    assert got.status_code == 200
    assert got.content in bodies
    # The tag still moves and deletes like any other.
    await delete_tag(alice, "alice/race", "latest")
    assert await _live_tag_rows(registry, "latest") == 0
    await assert_sizes_exact(registry)


async def test_one_image_under_many_tags_at_once(registry: Berth, alice: Client) -> None:
    config, layer = await _base(alice, "alice/same")
    body = image_manifest(config, [layer])
    pushes = [(f"v{i}", body) for i in range(PUSHES)] + [(digest_of(body), body)] * 3
    await _put_all(alice, "alice/same", pushes)

    rows = await _rows(
        registry, "SELECT count(*) FROM manifests WHERE digest = :d", d=digest_of(body)
    )
    assert rows[0][0] == 1  # stored once
    for i in range(PUSHES):
        got = await alice.get(f"/v2/alice/same/manifests/v{i}", headers={"Accept": OCI_MANIFEST})
        assert got.content == body
    sizes = await assert_sizes_exact(registry)
    assert len(config) + len(layer) + len(body) in sizes.repositories.values()


async def test_pushes_across_repositories_of_one_namespace_count_shared_blobs_once(
    registry: Berth, alice: Client
) -> None:
    layer = random_bytes(4096)
    config = image_config([layer])
    repos = [f"alice/team{i}" for i in range(6)]
    for repo in repos:
        for blob in (config, layer):
            await alice.upload(repo, blob, single=True)
    bodies = {repo: image_manifest(config, [layer], annotations={"r": repo}) for repo in repos}
    answers = await asyncio.gather(
        *(alice.put_manifest(repo, "v1", bodies[repo], OCI_MANIFEST) for repo in repos)
    )
    assert {a.status_code for a in answers} == {201}
    sizes = await assert_sizes_exact(registry)
    namespace = await _rows(registry, "SELECT size_bytes FROM namespaces WHERE name = 'alice'")
    assert namespace[0][0] == len(config) + len(layer) + sum(len(b) for b in bodies.values())
    assert sizes.namespaces
