"""Registry events: pushes, pulls and deletes each leave a row in ``events``."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tests.integration.conftest import Berth, Client


async def wait_for_events(registry: Berth, count: int) -> list[dict[str, Any]]:
    """Events appear within ~1 s without anyone flushing (the recorder writes every 0.5 s)."""
    deadline = time.monotonic() + 1.5
    while True:
        rows = await registry.events()
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(0.05)


async def test_push_and_pull_are_recorded(registry: Berth, alice: Client) -> None:
    pushed = await alice.push_image("alice/app", "v1")
    rows = await wait_for_events(registry, 1)
    assert [r["kind"] for r in rows] == ["push_repo"]
    push = rows[0]
    assert (push["namespace"], push["repository"]) == ("alice", "app")
    assert push["actor"] == "alice"
    assert push["tag"] == "v1"
    assert push["digest"] == pushed.digest

    assert (await alice.get("/v2/alice/app/manifests/v1")).status_code == 200
    assert (await alice.get(f"/v2/alice/app/manifests/{pushed.digest}")).status_code == 200
    await registry.flush_events()
    rows = await registry.events()
    pulls = [r for r in rows if r["kind"] == "pull_repo"]
    assert len(pulls) == 2
    assert {(p["tag"], p["digest"]) for p in pulls} == {
        ("v1", pushed.digest),
        (None, pushed.digest),
    }
    assert all(p["actor"] == "alice" for p in pulls)
    assert all((p["namespace"], p["repository"]) == ("alice", "app") for p in pulls)


async def test_events_flush_on_demand(registry: Berth, alice: Client) -> None:
    await alice.push_image("alice/app", "v1")
    await alice.get("/v2/alice/app/manifests/v1")
    await registry.flush_events()
    kinds = [r["kind"] for r in await registry.events()]
    assert kinds == ["push_repo", "pull_repo"]


async def test_nested_repository_and_digest_push_events(registry: Berth, alice: Client) -> None:
    pushed = await alice.push_image("alice/team/app", None)
    await registry.flush_events()
    rows = await registry.events()
    assert len(rows) == 1
    assert (rows[0]["namespace"], rows[0]["repository"]) == ("alice", "team/app")
    assert rows[0]["tag"] is None
    assert rows[0]["digest"] == pushed.digest


async def test_deletes_are_recorded(registry: Berth, alice: Client) -> None:
    pushed = await alice.push_image("alice/app", "v1")
    await alice.push_manifest("alice/app", "v2", pushed.manifest, pushed.media_type)
    basic = registry.client("alice", basic=True)
    assert (await basic.delete("/v2/alice/app/manifests/v1")).status_code == 202
    assert (await basic.delete(f"/v2/alice/app/manifests/{pushed.digest}")).status_code == 202
    await registry.flush_events()
    kinds = [r["kind"] for r in await registry.events()]
    assert kinds[:2] == ["push_repo", "push_repo"]
    assert len(kinds) == 4
    assert all(k.startswith("delete") for k in kinds[2:])


async def test_failures_and_heads_record_nothing(
    registry: Berth, alice: Client, bob: Client
) -> None:
    await alice.push_image("alice/app", "v1")
    await registry.flush_events()
    before = len(await registry.events())
    assert (await bob.get("/v2/alice/app/manifests/v1")).status_code == 401
    assert (await alice.get("/v2/alice/app/manifests/nope")).status_code == 404
    assert (await alice.head("/v2/alice/app/manifests/v1")).status_code == 200
    await registry.flush_events()
    assert len(await registry.events()) == before
