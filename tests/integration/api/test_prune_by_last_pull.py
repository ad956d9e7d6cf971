"""Auto-prune by last pull (Berth's ``last_pull_date`` method), on both deployments: the
tags not pulled (by tag, or their manifest by digest) for the duration are exactly the ones
deleted, a tag never pulled counts from its push, and ``berth prune --dry-run`` lists what
it would delete and why without deleting it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from berth.cli.main import main
from berth.policies.rules import prune_rule
from berth.policies.services import PRUNE, Scope
from tests.integration.conftest import OCI_MANIFEST, Berth, Client

DAY_MS = 86_400_000


async def age(registry: Berth, repo: str, days: int) -> None:
    """Make every push and pull of the repository ``days`` older (as if time had passed)."""
    shift = days * DAY_MS
    async with registry.services.db.write() as s:
        rid = (
            await s.execute(
                text(
                    "SELECT r.id FROM repositories r JOIN namespaces n ON n.id = r.namespace_id "
                    "WHERE n.name || '/' || r.name = :repo"
                ),
                {"repo": repo},
            )
        ).scalar_one()
        for table, column in (
            ("tags", "start_ts"),
            ("tag_pull_stats", "last_pull_at"),
            ("manifest_pull_stats", "last_pull_at"),
        ):
            await s.execute(
                text(f"UPDATE {table} SET {column} = {column} - :shift WHERE repository_id = :r"),  # noqa: S608
                {"shift": shift, "r": rid},
            )


async def pull(client: Client, repo: str, reference: str) -> None:
    r = await client.get(f"/v2/{repo}/manifests/{reference}", headers={"Accept": OCI_MANIFEST})
    assert r.status_code == 200, r.text


async def live_tags(client: Client, repo: str) -> list[str]:
    return sorted((await client.get(f"/v2/{repo}/tags/list")).json()["tags"])


@pytest.fixture
async def berth(configured) -> AsyncIterator[Berth]:  # type: ignore[no-untyped-def]
    async with configured(FEATURE_AUTO_PRUNE=True, BERTH_RUN_WORKERS_IN_PROCESS=False) as b:
        yield b


async def test_prune_removes_exactly_the_tags_not_pulled(berth: Berth) -> None:
    registry, alice = berth, berth.client("alice")
    repo = "alice/app"
    pushed = {t: await alice.push_image(repo, t) for t in ("old", "by-tag", "by-digest", "fresh")}
    await age(registry, repo, 40)  # everything pushed (and unpulled) 40 days ago
    await pull(alice, repo, "by-tag")
    await pull(alice, repo, pushed["by-digest"].digest)  # a digest pull keeps its tag
    await alice.push_image(repo, "new")  # pushed now, never pulled
    await registry.flush_pulls()
    await age(registry, repo, 5)  # the pulls 5 days ago, "new" pushed 5 days ago
    svc = registry.services
    await svc.policies.create(PRUNE, Scope("alice"), prune_rule("last_pull_date", "30d"))
    [target] = await svc.pruner.targets()
    planned = await svc.pruner.prune(target, dry_run=True)
    assert sorted(t.tag for t in planned) == ["fresh", "old"]
    assert all(t.reason.startswith("never pulled, pushed ") for t in planned)
    assert await live_tags(alice, repo) == ["by-digest", "by-tag", "fresh", "new", "old"]
    done = await svc.pruner.prune(target)
    assert sorted(t.tag for t in done) == ["fresh", "old"]
    assert await live_tags(alice, repo) == ["by-digest", "by-tag", "new"]


def test_cli_dry_run_says_what_and_why(tmp_path: Path) -> None:
    import asyncio

    from berth.config import load_settings
    from berth.schema.migrate import upgrade
    from berth.services import create_services

    data = tmp_path / "data"
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"BERTH_DATA_DIR: {data}\nBERTH_RUN_WORKERS_IN_PROCESS: false\n")

    async def seed() -> None:
        settings = load_settings(cfg, env={})
        data.mkdir(parents=True, exist_ok=True)
        await upgrade(settings.db_url)
        svc = create_services(settings)
        try:
            await svc.accounts.create_user("carol", "carol-password")
            reg = svc.registry
            row = await reg.repository_for_push(reg.name("carol/app"), create=True)
            import orjson

            from berth.oci.digest import digest_of

            config = b"{}"

            async def body():  # type: ignore[no-untyped-def]
                yield config

            await reg.blobs.put_monolithic(row, digest_of(config), body())
            manifest = orjson.dumps(
                {
                    "schemaVersion": 2,
                    "mediaType": OCI_MANIFEST,
                    "config": {
                        "mediaType": "application/vnd.oci.image.config.v1+json",
                        "digest": digest_of(config),
                        "size": len(config),
                    },
                    "layers": [],
                }
            )
            await reg.manifests.put(row, "stale", manifest, OCI_MANIFEST)
            async with svc.db.write() as s:
                await s.execute(text("UPDATE tags SET start_ts = start_ts - :d"), {"d": 9 * DAY_MS})
            await svc.policies.create(PRUNE, Scope("carol"), prune_rule("last_pull_date", "7d"))
        finally:
            await svc.close()

    asyncio.run(seed())
    result = CliRunner().invoke(main, ["prune", "--config", str(cfg), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "would delete carol/app:stale" in result.output
    assert "never pulled, pushed " in result.output
    assert "idle over 7d" in result.output
    assert "1 tag would be deleted in 1 repository" in result.output
