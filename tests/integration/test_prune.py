"""Auto-prune end to end: policies made over /api/v1, tags pushed over /v2, pruned by the
worker's jobs, by ``berth prune`` and by the pruner, and checked over /v2 and in the rows.

Tag ages: tags are pushed now, then ``pushed_ago`` moves their ``start_ts`` (the push time
Berth stores, epoch ms) into the past with one UPDATE; nothing else reads the clock.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text

from berth.audit.services import list_logs
from berth.config import ConfigError, load_settings
from tests.conftest import write_config
from tests.integration.api.conftest import bearer, configured, oauth_token
from tests.integration.conftest import Berth, Pushed, assert_error, digest_of

FEATURES = {
    "FEATURE_AUTO_PRUNE": True,
    "FEATURE_IMMUTABLE_TAGS": True,
    "BERTH_RUN_WORKERS_IN_PROCESS": False,
}
DAY_MS = 86_400_000
REPO_ID = (
    "(SELECT r.id FROM repositories r JOIN namespaces n ON n.id = r.namespace_id "
    "WHERE n.name = :ns AND r.name = :name)"
)
SET_PUSHED = (
    "UPDATE tags SET start_ts = :ts WHERE name = :tag AND end_ts IS NULL AND repository_id = "
)


__all__ = ["configured"]  # the fixture, shared with the /api/v1 tests


@pytest.fixture
async def berth(configured) -> AsyncIterator[Berth]:  # type: ignore[no-untyped-def]
    async with configured(**FEATURES) as b:
        yield b


async def push_tags(
    b: Berth, repo: str, tags: list[str], user: str | None = None
) -> dict[str, Pushed]:
    client = b.client(user or repo.split("/")[0])
    return {tag: await client.push_image(repo, tag) for tag in tags}


async def pushed_ago(b: Berth, repo: str, days: dict[str, float]) -> None:
    """Pretend each tag was pushed ``days`` ago."""
    ns, name = repo.split("/", 1)
    now = int(time.time() * 1000)
    async with b.services.db.write() as s:
        for tag, ago in days.items():
            r = await s.execute(
                text(SET_PUSHED + REPO_ID),
                {"ts": now - int(ago * DAY_MS), "tag": tag, "ns": ns, "name": name},
            )
            assert r.rowcount == 1, tag


async def add_policy(b: Berth, user: str, path: str, body: dict[str, Any]) -> str:
    r = await b.http.post(f"/api/v1/{path}", json=body, headers=bearer(await oauth_token(b, user)))
    assert r.status_code == 201, r.text
    return str(r.json()["uuid"])


async def live_tags(b: Berth, repo: str) -> list[str]:
    r = await b.client("root").get(f"/v2/{repo}/tags/list")
    assert r.status_code == 200, r.text
    return sorted(r.json()["tags"])


async def prune_logs(b: Berth, namespace: str) -> list[tuple[str | None, dict[str, Any]]]:
    """(repository column, metadata) of each autoprune_tag_delete log, by tag name."""
    async with b.services.db.read() as s:
        rows = await list_logs(s, namespace=namespace, kind="autoprune_tag_delete")
    return sorted(((r.repository, r.metadata) for r in rows), key=lambda e: e[1]["tag"])


async def prune_now(b: Berth, *, dry_run: bool = False) -> list[tuple[str, str]]:
    """One pass of the pruner itself: (repository, tag) of what it deleted."""
    pruner = b.services.pruner
    done = [
        t for target in await pruner.targets() for t in await pruner.prune(target, dry_run=dry_run)
    ]
    return [(f"{t.namespace}/{t.repository}", t.tag) for t in done]


async def run_pass(b: Berth) -> None:
    """Run every due job (the schedule enqueues the sweep, the sweep one job per namespace)."""
    runner = b.services.runner
    for _ in range(50):
        if not await runner.run_once():
            return
    raise AssertionError("jobs kept coming")


async def test_keep_newest_n_among_matching_tags(berth: Berth) -> None:
    await push_tags(berth, "alice/app", ["pr-1", "pr-2", "pr-3", "pr-4", "latest", "v1"])
    await pushed_ago(
        berth, "alice/app", {"pr-1": 9, "pr-2": 8, "pr-3": 7, "pr-4": 6, "latest": 30, "v1": 40}
    )
    uuid = await add_policy(
        berth,
        "alice",
        "repository/alice/app/autoprunepolicy/",
        {"method": "number_of_tags", "value": 2, "tagPattern": "^pr-"},
    )
    await run_pass(berth)
    assert await live_tags(berth, "alice/app") == ["latest", "pr-3", "pr-4", "v1"]
    assert await prune_logs(berth, "alice") == [
        (
            "app",
            {
                "performer": "autoprune worker",
                "namespace": "alice",
                "repo": "app",
                "tag": tag,
                "policy_uuid": uuid,
            },
        )
        for tag in ("pr-1", "pr-2")
    ]
    assert await prune_now(berth) == []  # a second pass finds nothing more
    assert len(await prune_logs(berth, "alice")) == 2


async def test_older_than_with_an_excluding_pattern(berth: Berth) -> None:
    """A namespace policy: delete what is older than 7 days, except latest and stable."""
    await push_tags(berth, "alice/app", ["old-1", "new-1", "latest", "stable"])
    await push_tags(berth, "alice/lib", ["old-2", "stable-2"])
    await pushed_ago(berth, "alice/app", {"old-1": 10, "new-1": 1, "latest": 30, "stable": 30})
    await pushed_ago(berth, "alice/lib", {"old-2": 8, "stable-2": 8})
    await add_policy(
        berth,
        "alice",
        "user/autoprunepolicy/",
        {
            "method": "creation_date",
            "value": "7d",
            "tagPattern": "^(latest|stable)$",
            "tagPatternMatches": False,
        },
    )
    # bob's repository is outside alice's namespace: untouched.
    await push_tags(berth, "bob/app", ["ancient"])
    await pushed_ago(berth, "bob/app", {"ancient": 100})

    assert sorted(await prune_now(berth, dry_run=True)) == [
        ("alice/app", "old-1"),
        ("alice/lib", "old-2"),
        ("alice/lib", "stable-2"),
    ]
    assert await live_tags(berth, "alice/app") == ["latest", "new-1", "old-1", "stable"]
    assert await prune_logs(berth, "alice") == []

    assert sorted(await prune_now(berth)) == [
        ("alice/app", "old-1"),
        ("alice/lib", "old-2"),
        ("alice/lib", "stable-2"),
    ]
    assert await live_tags(berth, "alice/app") == ["latest", "new-1", "stable"]
    assert await live_tags(berth, "alice/lib") == []
    assert await live_tags(berth, "bob/app") == ["ancient"]


async def repo_id(b: Berth, repo: str) -> int:
    ns, name = repo.split("/", 1)
    async with b.services.db.read() as s:
        found = await s.execute(text(REPO_ID.strip("()")), {"ns": ns, "name": name})
        return int(found.scalar_one())


async def test_immutable_tags_are_never_pruned(berth: Berth) -> None:
    await berth.services.orgs.create("acme", creator="alice")
    await push_tags(
        berth, "acme/app", ["v1", "v2", "pinned", "dev-1", "dev-2", "release-1"], user="alice"
    )
    await pushed_ago(
        berth,
        "acme/app",
        {"v1": 50, "v2": 40, "pinned": 30, "dev-1": 20, "release-1": 15, "dev-2": 10},
    )
    # Immutable three ways: a repository rule, a namespace rule selecting the names that do
    # not match, and the tag's own flag (set here in the row: the tags API is elsewhere).
    await add_policy(
        berth, "alice", "repository/acme/app/immutabilitypolicy/", {"tagPattern": "^v"}
    )
    await add_policy(
        berth,
        "alice",
        "organization/acme/immutabilitypolicy/",
        {"tagPattern": "^(v|pinned|dev-|release-)", "tagPatternMatches": False},
    )
    await add_policy(
        berth, "alice", "organization/acme/immutabilitypolicy/", {"tagPattern": "release-"}
    )
    rid = await repo_id(berth, "acme/app")
    async with berth.services.db.write() as s:
        await s.execute(
            text("UPDATE tags SET immutable = :yes WHERE repository_id = :rid AND name = 'pinned'"),
            {"yes": True, "rid": rid},
        )
    async with berth.services.db.read() as s:
        found = await berth.services.registry.manifests.guard.immutable_names(
            s,
            rid,
            ["v1", "v2", "pinned", "dev-1", "dev-2", "release-1", "nosuch"],
            int(time.time() * 1000),
        )
    assert found == {"v1", "v2", "pinned", "release-1"}

    # Keep the newest one: every older tag is selected, only dev-1 may go.
    await add_policy(
        berth,
        "alice",
        "organization/acme/autoprunepolicy/",
        {"method": "number_of_tags", "value": 1},
    )
    assert await prune_now(berth) == [("acme/app", "dev-1")]
    assert await live_tags(berth, "acme/app") == ["dev-2", "pinned", "release-1", "v1", "v2"]
    assert await prune_now(berth) == []

    # The same rules guard /v2: deleting a policy-immutable tag is refused, others go.
    alice = berth.client("alice")
    for tag in ("v1", "release-1", "pinned"):
        r = await alice.delete(f"/v2/acme/app/manifests/{tag}")
        assert_error(r, 403, "DENIED")
    assert (await alice.delete("/v2/acme/app/manifests/dev-2")).status_code == 202
    assert await live_tags(berth, "acme/app") == ["pinned", "release-1", "v1", "v2"]

    # The tags API shows what the rules decide: a live tag immutable by a policy says so.
    r = await berth.http.get(
        "/api/v1/repository/acme/app/tag/?onlyActiveTags=true",
        headers=bearer(await oauth_token(berth, "alice")),
    )
    assert {t["name"]: t["immutable"] for t in r.json()["tags"]} == {
        "pinned": True,
        "release-1": True,
        "v1": True,
        "v2": True,
    }


async def test_a_tag_moved_after_planning_is_not_pruned(berth: Berth) -> None:
    await push_tags(berth, "alice/app", ["old", "new"])
    await pushed_ago(berth, "alice/app", {"old": 30, "new": 1})
    await add_policy(
        berth, "alice", "user/autoprunepolicy/", {"method": "creation_date", "value": "7d"}
    )
    pruner = berth.services.pruner
    (target,) = [t for t in await pruner.targets() if t.repository.name == "app"]
    assert [t.tag for t in await pruner.plan(target)] == ["old"]
    await berth.client("alice").push_image("alice/app", "old")  # moved: pushed again now
    assert await pruner.prune(target) == []
    assert await live_tags(berth, "alice/app") == ["new", "old"]


async def test_expires_after_label_yields_to_an_immutability_policy(berth: Berth) -> None:
    await berth.services.orgs.create("acme", creator="alice")
    await add_policy(
        berth, "alice", "organization/acme/immutabilitypolicy/", {"tagPattern": "^release"}
    )
    alice = berth.client("alice")
    labels = {"quay.expires-after": "1h"}
    await alice.push_image("acme/app", "release-1", annotations=labels)
    await alice.push_image("acme/app", "dev-1", annotations=labels)
    r = await berth.http.get(
        "/api/v1/repository/acme/app/tag/?onlyActiveTags=true",
        headers=bearer(await oauth_token(berth, "alice")),
    )
    ends = {t["name"]: t.get("end_ts") for t in r.json()["tags"]}
    assert ends["release-1"] is None  # immutable by policy: the label can't expire it
    assert ends["dev-1"] is not None


async def test_pruned_tags_stay_restorable_within_the_window(berth: Berth) -> None:
    pushed = await push_tags(berth, "alice/app", ["old", "new"])
    await pushed_ago(berth, "alice/app", {"old": 3, "new": 0})
    await add_policy(
        berth, "alice", "user/autoprunepolicy/", {"method": "creation_date", "value": "2d"}
    )
    before = int(time.time() * 1000)
    assert await prune_now(berth) == [("alice/app", "old")]
    after = int(time.time() * 1000)

    # The tag row is ended like a user's delete, inside alice's time-machine window.
    async with berth.services.db.read() as s:
        rows = (
            await s.execute(
                text(
                    "SELECT t.end_ts, n.tag_expiration_s FROM tags t "
                    "JOIN repositories r ON r.id = t.repository_id "
                    "JOIN namespaces n ON n.id = r.namespace_id "
                    "WHERE n.name = 'alice' AND r.name = 'app' AND t.name = 'old'"
                )
            )
        ).all()
    assert len(rows) == 1
    end_ts, window_s = rows[0]
    assert before <= end_ts <= after
    assert end_ts + window_s * 1000 > after  # still restorable

    old = pushed["old"]
    alice = berth.client("alice")
    r = await alice.get(f"/v2/alice/app/manifests/{old.digest}")
    assert r.status_code == 404  # no live tag points at it any more (Quay's behaviour)
    r = await alice.get(f"/v2/alice/app/blobs/{digest_of(old.config)}")
    assert r.status_code == 200  # content is kept for the window

    # Restore it through the tags API (the time machine): served by digest again.
    r = await berth.http.post(
        "/api/v1/repository/alice/app/tag/old/restore",
        json={"manifest_digest": old.digest},
        headers=bearer(await oauth_token(berth, "alice")),
    )
    assert r.status_code == 200, r.text
    r = await alice.get(f"/v2/alice/app/manifests/{old.digest}", headers={"Accept": old.media_type})
    assert r.status_code == 200
    assert r.content == old.manifest
    assert await live_tags(berth, "alice/app") == ["new", "old"]


async def test_worker_applies_the_default_policy_to_namespaces_without_policies(
    configured,  # type: ignore[no-untyped-def]
) -> None:
    default = {"method": "number_of_tags", "value": 1}
    async with configured(**FEATURES, DEFAULT_NAMESPACE_AUTOPRUNE_POLICY=default) as b:
        await push_tags(b, "bob/app", ["one", "two", "three"])
        await push_tags(b, "alice/app", ["one", "two", "three"])
        for repo in ("bob/app", "alice/app"):
            await pushed_ago(b, repo, {"one": 3, "two": 2, "three": 1})
        # alice's own namespace policy replaces the default for her namespace.
        await add_policy(
            b, "alice", "user/autoprunepolicy/", {"method": "number_of_tags", "value": 2}
        )
        await run_pass(b)
        assert await live_tags(b, "bob/app") == ["three"]
        assert await live_tags(b, "alice/app") == ["three", "two"]
        assert [m["policy_uuid"] for _, m in await prune_logs(b, "bob")] == ["default", "default"]


async def run_cli(b: Berth, *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "berth",
        "prune",
        "--config",
        str(b.settings.config_path),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def test_berth_prune_command(berth: Berth) -> None:
    await push_tags(berth, "alice/app", ["a", "b", "c"])
    await pushed_ago(berth, "alice/app", {"a": 3, "b": 2, "c": 1})
    uuid = await add_policy(
        berth,
        "alice",
        "repository/alice/app/autoprunepolicy/",
        {"method": "number_of_tags", "value": 1},
    )
    out = await run_cli(berth, "--dry-run")
    lines = out.splitlines()
    assert lines[0].startswith("would delete alice/app:a  (pushed ")
    assert lines[0].endswith(f", policy {uuid}: not among the newest 1 tags)")
    assert lines[1].startswith("would delete alice/app:b  (pushed ")
    assert lines[-1] == "2 tags would be deleted in 1 repository (1 checked)"
    assert await live_tags(berth, "alice/app") == ["a", "b", "c"]

    out = await run_cli(berth)
    assert out.splitlines()[-1] == "2 tags deleted in 1 repository (1 checked)"
    assert await live_tags(berth, "alice/app") == ["c"]
    assert [m["tag"] for _, m in await prune_logs(berth, "alice")] == ["a", "b"]
    out = await run_cli(berth)
    assert out.splitlines() == ["0 tags deleted in 0 repositories (1 checked)"]


def test_default_policy_is_validated_with_the_config(tmp_path) -> None:  # type: ignore[no-untyped-def]
    for bad, problem in (
        ({"method": "newest", "value": 3}, "Invalid method provided"),
        ({"method": "creation_date", "value": "soon"}, "Invalid value given for method type"),
        ({"method": "number_of_tags", "value": 3, "tagPattern": "(x"}, "Invalid regex pattern"),
    ):
        path = write_config(tmp_path, {"DEFAULT_NAMESPACE_AUTOPRUNE_POLICY": bad})
        with pytest.raises(ConfigError) as e:
            load_settings(path, env={}, persist_secrets=False)
        assert len(e.value.problems) == 1
        assert e.value.problems[0].startswith("DEFAULT_NAMESPACE_AUTOPRUNE_POLICY: ")
        assert problem in e.value.problems[0]
    path = write_config(tmp_path, {"BERTH_AUTOPRUNE_INTERVAL": "often"})
    with pytest.raises(ConfigError) as e:
        load_settings(path, env={}, persist_secrets=False)
    assert e.value.problems[0].startswith("BERTH_AUTOPRUNE_INTERVAL: ")
