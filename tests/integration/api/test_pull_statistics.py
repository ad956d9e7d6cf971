"""Pull statistics (FEATURE_IMAGE_PULL_STATS, Quay 3.16) over /api/v1 on both deployments:
N pulls by tag give a tag pull count of N; pulls by digest count for the manifest only;
counters are folded in at the pull log's flush; unknown tags and manifests are 404s."""

from __future__ import annotations

from collections.abc import AsyncIterator
from email.utils import parsedate_to_datetime

import pytest

from tests.integration.api.conftest import bearer, oauth_token
from tests.integration.conftest import OCI_MANIFEST, Berth

API = "/api/v1"


@pytest.fixture
async def berth(configured) -> AsyncIterator[Berth]:  # type: ignore[no-untyped-def]
    async with configured(FEATURE_IMAGE_PULL_STATS=True, BERTH_RUN_WORKERS_IN_PROCESS=False) as b:
        yield b


async def test_routes_absent_without_the_feature(registry: Berth) -> None:
    pushed = await registry.client("alice").push_image("alice/app", "v1")
    h = bearer(await oauth_token(registry, "alice"))
    for path in ("tag/v1/pull_statistics", f"manifest/{pushed.digest}/pull_statistics"):
        r = await registry.http.get(f"{API}/repository/alice/app/{path}", headers=h)
        assert r.status_code == 404, path


async def test_pulls_are_counted_per_tag_and_per_manifest(berth: Berth) -> None:
    alice = berth.client("alice")
    pushed = await alice.push_image("alice/app", "v1")
    await alice.push_image("alice/app", "other")
    h = bearer(await oauth_token(berth, "alice"))
    url = f"{API}/repository/alice/app/tag/v1/pull_statistics"
    assert (await berth.http.get(url, headers=h)).json() == {
        "tag_name": "v1",
        "tag_pull_count": 0,
        "last_tag_pull_date": None,
        "current_manifest_digest": pushed.digest,
        "manifest_pull_count": 0,
        "last_manifest_pull_date": None,
    }
    accept = {"Accept": OCI_MANIFEST}
    for _ in range(7):
        assert (await alice.get("/v2/alice/app/manifests/v1", headers=accept)).status_code == 200
    await berth.flush_pulls()  # what the flusher does every second
    for _ in range(3):
        r = await alice.get(f"/v2/alice/app/manifests/{pushed.digest}", headers=accept)
        assert r.status_code == 200
    assert (await alice.head("/v2/alice/app/manifests/v1", headers=accept)).status_code == 200
    await berth.flush_pulls()
    body = (await berth.http.get(url, headers=h)).json()
    assert body["tag_pull_count"] == 7  # HEAD requests are not pulls
    assert body["manifest_pull_count"] == 10  # by tag and by digest
    assert parsedate_to_datetime(body["last_tag_pull_date"]).year >= 2024
    assert parsedate_to_datetime(body["last_manifest_pull_date"]) >= parsedate_to_datetime(
        body["last_tag_pull_date"]
    )
    r = await berth.http.get(
        f"{API}/repository/alice/app/manifest/{pushed.digest}/pull_statistics", headers=h
    )
    assert r.json()["manifest_pull_count"] == 10
    assert r.json()["manifest_digest"] == pushed.digest
    other = (
        await berth.http.get(f"{API}/repository/alice/app/tag/other/pull_statistics", headers=h)
    ).json()
    assert other["tag_pull_count"] == 0
    # unknown tag or manifest; no read permission
    r = await berth.http.get(f"{API}/repository/alice/app/tag/nope/pull_statistics", headers=h)
    assert r.status_code == 404
    r = await berth.http.get(
        f"{API}/repository/alice/app/manifest/sha256:{'0' * 64}/pull_statistics", headers=h
    )
    assert r.status_code == 404
    bob = bearer(await oauth_token(berth, "bob"))
    r = await berth.http.get(url, headers=bob)
    assert r.status_code == 403
