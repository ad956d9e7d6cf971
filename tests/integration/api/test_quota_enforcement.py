"""Quotas at push, on both deployments: a manifest push that would take its namespace past a
Reject limit is refused with Quay's answer while other namespaces still take pushes;
concurrent pushes never jointly pass the limit; a Warning limit is reported once per
crossing and at most once per QUOTA_NOTIFICATION_COOLDOWN_SECONDS; time-machine content
counts until it is collected; QUOTA_BACKFILL's recount corrects the stored sizes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from berth.audit.services import list_logs
from berth.registry import accounting
from tests.integration.api.conftest import bearer, oauth_token
from tests.integration.conftest import (
    OCI_MANIFEST,
    Berth,
    Client,
    image_config,
    image_manifest,
    random_bytes,
)
from tests.integration.test_gc import assert_sizes_exact, collect, delete_tag, set_window, sql
from tests.support.receivers import async_wait_for, http_receiver, smtp_sink, text_of

API = "/api/v1"
FEATURES = {
    "FEATURE_QUOTA_MANAGEMENT": True,
    "FEATURE_SUPERUSERS_FULL_ACCESS": True,
    "BERTH_RUN_WORKERS_IN_PROCESS": False,
}
LAYER = 4000


@pytest.fixture
async def berth(configured) -> AsyncIterator[Berth]:  # type: ignore[no-untyped-def]
    async with configured(**FEATURES) as b:
        yield b


async def make_org(b: Berth, name: str) -> None:
    r = await b.http.post(
        f"{API}/organization/",
        headers=bearer(await oauth_token(b, "alice")),
        json={"name": name, "email": f"{name}@x.test"},
    )
    assert r.status_code == 201, r.text


async def set_quota(b: Berth, org: str, limit_bytes: int, **limits: int) -> int:
    root = bearer(await oauth_token(b, "root"))
    base = f"{API}/organization/{org}/quota"
    r = await b.http.post(base, headers=root, json={"limit_bytes": limit_bytes})
    assert r.status_code == 201, r.text
    qid = int((await b.http.get(base, headers=root)).json()[0]["id"])
    for kind, percent in limits.items():
        r = await b.http.post(
            f"{base}/{qid}/limit", headers=root, json={"type": kind, "threshold_percent": percent}
        )
        assert r.status_code == 201, r.text
    return qid


async def usage(b: Berth, org: str) -> int:
    r = await b.http.get(f"{API}/organization/{org}", headers=bearer(await oauth_token(b, "alice")))
    return int(r.json()["quota_report"]["quota_bytes"])


async def try_push(client: Client, repo: str, tag: str, size: int = LAYER) -> httpx.Response:
    """Blobs, then the manifest; the manifest PUT's answer."""
    layer = random_bytes(size)
    config = image_config([layer])
    for blob in (config, layer):
        await client.upload(repo, blob, single=True)
    return await client.put_manifest(repo, tag, image_manifest(config, [layer]), OCI_MANIFEST)


async def events(b: Berth, org: str) -> list[tuple[str, dict[str, Any]]]:
    async with b.services.db.read() as s:
        rows = await list_logs(s, namespace=org)
    return [(r.kind, r.metadata) for r in rows[::-1] if r.kind in ("quota_warning", "quota_error")]


def assert_refused(r: httpx.Response) -> None:
    assert r.status_code == 403, r.text
    assert r.json() == {
        "errors": [
            {"code": "DENIED", "message": "Quota has been exceeded on namespace", "detail": {}}
        ]
    }


async def test_pushes_stop_at_the_reject_limit_and_other_orgs_still_push(berth: Berth) -> None:
    await make_org(berth, "acme")
    await make_org(berth, "other")
    limit = 4 * LAYER
    await set_quota(berth, "acme", limit, Reject=100)
    await set_quota(berth, "other", limit, Reject=100)
    alice = berth.client("alice")
    accepted = 0
    while True:
        before = await usage(berth, "acme")
        r = await try_push(alice, "acme/app", f"v{accepted}")
        if r.status_code != 201:
            break
        accepted += 1
    assert accepted == 3  # each push adds a bit more than LAYER bytes
    assert_refused(r)
    after = await usage(berth, "acme")
    assert after == before <= limit
    assert before + LAYER > limit
    resp = await alice.get(f"/v2/acme/app/manifests/v{accepted}", headers={"Accept": OCI_MANIFEST})
    assert resp.status_code == 404  # the refused push left no tag
    # another organization under its own quota still takes pushes
    r = await try_push(alice, "other/app", "v0")
    assert r.status_code == 201, r.text
    # a push that fits in what is left still passes: the limit is on the total
    r = await try_push(alice, "acme/app", "small", size=10)
    assert r.status_code == 201, r.text
    assert await usage(berth, "acme") <= limit
    tags = await alice.get("/v2/acme/app/tags/list")
    assert sorted(tags.json()["tags"]) == ["small", "v0", "v1", "v2"]
    # re-pushing content the namespace already holds adds nothing and passes
    manifest = await alice.get("/v2/acme/app/manifests/v0", headers={"Accept": OCI_MANIFEST})
    r = await alice.put_manifest("acme/app", "again", manifest.content, OCI_MANIFEST)
    assert r.status_code == 201, r.text
    # the refusal is reported once (cooldown), as quota_error
    assert [(k, m["refused"]) for k, m in await events(berth, "acme")] == [("quota_error", True)]
    await assert_sizes_exact(berth)


async def test_concurrent_pushes_never_pass_the_limit_together(berth: Berth) -> None:
    await make_org(berth, "fleet")
    alice = berth.client("alice")
    # blobs first (they do not count), then every manifest at once
    bodies, sizes = [], []
    for _ in range(10):
        layer = random_bytes(LAYER)
        config = image_config([layer])
        for blob in (config, layer):
            await alice.upload("fleet/app", blob, single=True)
        bodies.append(image_manifest(config, [layer]))
        sizes.append(len(layer) + len(config) + len(bodies[-1]))
    limit = 5 * max(sizes) + min(sizes) // 2  # room for five of the ten, not six
    await set_quota(berth, "fleet", limit, Reject=100)
    answers = await asyncio.gather(
        *(alice.put_manifest("fleet/app", f"t{i}", b, OCI_MANIFEST) for i, b in enumerate(bodies))
    )
    codes = sorted(a.status_code for a in answers)
    assert codes.count(201) == 5, codes
    assert codes.count(403) == 5, codes
    used = await usage(berth, "fleet")
    assert used <= limit
    kept = await assert_sizes_exact(berth)
    async with berth.services.db.read() as s:
        fresh = await accounting.recompute(s)
    assert kept == fresh


async def test_warning_reported_once_per_crossing_with_the_cooldown(berth: Berth) -> None:
    await make_org(berth, "warn")
    qid = await set_quota(berth, "warn", 10 * LAYER, Warning=30, Reject=100)
    alice = berth.client("alice")
    assert (await try_push(alice, "warn/app", "a")).status_code == 201  # ~10%
    assert await events(berth, "warn") == []
    assert (await try_push(alice, "warn/app", "b")).status_code == 201  # ~20%
    assert (await try_push(alice, "warn/app", "c")).status_code == 201  # ~30%: crosses
    assert (await try_push(alice, "warn/app", "d")).status_code == 201  # above: no repeat
    found = await events(berth, "warn")
    assert [(k, m["threshold_percent"], m["refused"]) for k, m in found] == [
        ("quota_warning", 30, False)
    ]
    assert found[0][1]["limit_bytes"] == 10 * LAYER
    # a larger quota puts usage below the warning again; the next crossing falls in the
    # cooldown (QUOTA_NOTIFICATION_COOLDOWN_SECONDS, a day by default): not reported
    root = bearer(await oauth_token(berth, "root"))
    r = await berth.http.put(
        f"{API}/organization/warn/quota/{qid}", headers=root, json={"limit_bytes": 20 * LAYER}
    )
    assert r.status_code == 200
    assert (await try_push(alice, "warn/app", "e")).status_code == 201  # ~25%
    assert (await try_push(alice, "warn/app", "f")).status_code == 201  # ~30%: crosses again
    assert len(await events(berth, "warn")) == 1


async def test_each_crossing_reported_without_a_cooldown(configured) -> None:  # type: ignore[no-untyped-def]
    async with configured(**FEATURES, QUOTA_NOTIFICATION_COOLDOWN_SECONDS=0) as b:
        await make_org(b, "warn")
        qid = await set_quota(b, "warn", 4 * LAYER, Warning=50)
        alice = b.client("alice")
        for tag in ("a", "b", "c"):
            assert (await try_push(alice, "warn/app", tag)).status_code == 201
        assert len(await events(b, "warn")) == 1
        root = bearer(await oauth_token(b, "root"))
        r = await b.http.put(
            f"{API}/organization/warn/quota/{qid}", headers=root, json={"limit_bytes": 8 * LAYER}
        )
        assert r.status_code == 200
        assert (await try_push(alice, "warn/app", "d")).status_code == 201  # ~50% again
        assert [k for k, _ in await events(b, "warn")] == ["quota_warning"] * 2


async def test_time_machine_content_counts_until_collected(berth: Berth) -> None:
    await make_org(berth, "tm")
    alice = berth.client("alice")
    assert (await try_push(alice, "tm/app", "old")).status_code == 201
    held = await usage(berth, "tm")
    await delete_tag(alice, "tm/app", "old")
    assert await usage(berth, "tm") == held  # still restorable: still stored
    await set_window(berth, "tm", 0)
    await collect(berth)
    assert await usage(berth, "tm") == 0


async def test_backfill_computes_what_a_recount_gives(berth: Berth) -> None:
    await make_org(berth, "old")
    alice = berth.client("alice")
    for tag in ("a", "b"):
        assert (await try_push(alice, "old/app", tag)).status_code == 201
    await try_push(alice, "alice/own", "x")
    truth = await assert_sizes_exact(berth)
    # sizes of a registry that kept none (an upgrade from before accounting, or surgery)
    await sql(berth, "UPDATE repositories SET size_bytes = 0")
    await sql(berth, "UPDATE namespaces SET size_bytes = 7")
    done = await berth.services.quotas.backfill()
    assert done.namespaces >= 2
    assert await assert_sizes_exact(berth) == truth
    again = await berth.services.quotas.backfill()
    assert (again.repositories, again.namespaces) == (0, 0)


async def test_a_crossing_reaches_the_namespace_notifications(configured) -> None:  # type: ignore[no-untyped-def]
    """quota_warning and quota_error go to the organization's notifications: a webhook and
    an e-mail (real receivers), once per crossing."""
    with http_receiver() as hooks, smtp_sink() as mail:
        async with configured(
            **{**FEATURES, "BERTH_RUN_WORKERS_IN_PROCESS": True},
            FEATURE_QUOTA_NOTIFICATIONS=True,
            SSRF_ALLOWED_HOSTS=["127.0.0.1"],
            **mail.config(),
        ) as b:
            await make_org(b, "lab")
            await set_quota(b, "lab", 10 * LAYER, Warning=30, Reject=50)
            alice = bearer(await oauth_token(b, "alice"))
            base = f"{API}/organization/lab/notifications"
            for event, path in (("quota_warning", "/warn"), ("quota_error", "/error")):
                r = await b.http.post(
                    base,
                    headers=alice,
                    json={
                        "event": event,
                        "method": "webhook",
                        "config": {"url": hooks.url(path)},
                        "eventConfig": {},
                    },
                )
                assert r.status_code == 201, r.text
            r = await b.http.post(
                base,
                headers=alice,
                json={
                    "event": "quota_warning",
                    "method": "email",
                    "config": {"email": "lab@x.test"},
                    "eventConfig": {},
                },
            )
            assert r.status_code == 201, r.text
            client = b.client("alice")
            for tag in ("a", "b", "c", "d"):  # ~10, 20, 30 (warning), 40 %
                assert (await try_push(client, "lab/app", tag)).status_code == 201
            (warn,) = await async_wait_for(lambda: hooks.on("/warn"), what="quota_warning")
            body = warn.json()
            assert (body["namespace"], body["limit_type"], body["threshold_percent"]) == (
                "lab", "Warning", 30,
            )  # fmt: skip
            assert body["quota_bytes"] == 10 * LAYER
            (msg,) = await async_wait_for(lambda: mail.to("lab@x.test"), what="the e-mail")
            assert "lab" in text_of(msg)
            assert_refused(await try_push(client, "lab/app", "e"))  # past the Reject limit
            (error,) = await async_wait_for(lambda: hooks.on("/error"), what="quota_error")
            assert error.json()["limit_type"] == "Reject"
            assert len(hooks.on("/warn")) == 1  # once per crossing
