"""Tags over /api/v1: history, create/move, expiration, delete, restore, immutability, and the
tag flows of the RDO pruner and python-quay-tool (quay-api.md 6.1, 6.2, 8.7, 8.9, 8.17, 8.18,
scenarios 5 and 6)."""

from __future__ import annotations

import time
from typing import Any

import httpx
from sqlalchemy import text

from berth.audit.services import list_logs
from berth.registry.repositories import RepoName
from tests.integration.api.conftest import bearer, oauth_token
from tests.integration.api.test_framework import CSRF_BODY, assert_problem
from tests.integration.conftest import (
    OCI_MANIFEST,
    Berth,
    Client,
    Pushed,
    assert_error,
)

REPO = "alice/app"
TAGS = f"/api/v1/repository/{REPO}/tag"
HOUR = 3600
WEEK = 7 * 86400


async def _alice(registry: Berth) -> dict[str, str]:
    return bearer(await oauth_token(registry, "alice"))


async def _tags(registry: Berth, headers: dict[str, str] | None = None, **params: Any) -> Any:
    r = await registry.http.get(f"{TAGS}/", params=params, headers=headers or {})
    assert r.status_code == 200, r.text
    return r.json()


async def _live(registry: Berth, name: str, headers: dict[str, str]) -> dict[str, Any]:
    (entry,) = (await _tags(registry, headers, specificTag=name, onlyActiveTags="true"))["tags"]
    return entry  # type: ignore[no-any-return]


async def _logs(registry: Berth, kind: str) -> list[Any]:
    async with registry.services.db.read() as s:
        return await list_logs(s, namespace="alice", kind=kind)


async def _pull(client: Client, ref: str) -> httpx.Response:
    return await client.get(f"/v2/{REPO}/manifests/{ref}", headers={"Accept": OCI_MANIFEST})


async def _set_state(registry: Berth, state: str) -> None:
    async with registry.services.db.write() as s:
        await s.execute(
            text("UPDATE repositories SET state = :s WHERE full_name = :n"), {"s": state, "n": REPO}
        )


# ------------------------------------------------------------------------------ listing


async def test_history_newest_first_with_quay_fields(registry: Berth, alice: Client) -> None:
    h = await _alice(registry)
    first = await alice.push_image(REPO, "latest")
    await alice.push_image(REPO, "v1")
    second = await alice.push_image(REPO, "latest")  # moves latest: the first row ends
    body = await _tags(registry, h)
    assert body["page"] == 1
    assert body["has_additional"] is False
    names = [(t["name"], t["manifest_digest"]) for t in body["tags"]]
    assert names[0] == ("latest", second.digest)
    assert ("latest", first.digest) in names
    assert len(names) == 3
    live, ended = body["tags"][0], next(t for t in body["tags"] if "end_ts" in t)
    assert set(live) == {
        "name", "reversion", "start_ts", "manifest_digest", "is_manifest_list", "size",
        "last_modified",
    }  # fmt: skip
    assert live["reversion"] is False
    assert live["is_manifest_list"] is False
    assert live["size"] == sum(len(layer) for layer in second.layers)
    assert abs(live["start_ts"] - time.time()) < 60
    assert live["last_modified"].endswith("-0000")
    assert ended["manifest_digest"] == first.digest
    assert ended["end_ts"] >= ended["start_ts"]
    assert ended["expiration"].endswith("-0000")
    # the pruner's view: only live tags
    active = await _tags(registry, h, onlyActiveTags="true")
    assert sorted(t["name"] for t in active["tags"]) == ["latest", "v1"]
    assert all("end_ts" not in t for t in active["tags"])


async def test_paging_filters_and_limit_cap(registry: Berth, alice: Client) -> None:
    h = await _alice(registry)
    pushed = await alice.push_image(REPO, "t000")
    for i in range(1, 103):
        r = await registry.http.put(
            f"{TAGS}/t{i:03d}", json={"manifest_digest": pushed.digest}, headers=h
        )
        assert r.status_code == 201, r.text
    page1 = await _tags(registry, h, limit=2)
    page2 = await _tags(registry, h, limit=2, page=2)
    assert [t["name"] for t in page1["tags"]] == ["t102", "t101"]
    assert [t["name"] for t in page2["tags"]] == ["t100", "t099"]
    assert page1["has_additional"] is True
    capped = await _tags(registry, h, limit=1000)
    assert len(capped["tags"]) == 100
    assert capped["has_additional"] is True
    last = await _tags(registry, h, limit=100, page=2)
    assert len(last["tags"]) == 3
    assert last["has_additional"] is False
    assert [t["name"] for t in (await _tags(registry, h, specificTag="t007"))["tags"]] == ["t007"]
    assert len((await _tags(registry, h, filter_tag_name="like:t10", limit=100))["tags"]) == 3
    assert [t["name"] for t in (await _tags(registry, h, filter_tag_name="eq:t042"))["tags"]] == [
        "t042"
    ]
    assert (await _tags(registry, h, page=0))["page"] == 1
    r = await registry.http.get(f"{TAGS}/", params={"filter_tag_name": "t1"}, headers=h)
    assert r.status_code == 400
    assert r.json()["message"].startswith("Unsupported syntax for filter_tag_name")


async def test_slashless_list_redirects_308(registry: Berth, alice: Client) -> None:
    h = await _alice(registry)
    pushed = await alice.push_image(REPO, "v1")
    r = await registry.http.get(TAGS, headers=h)
    assert r.status_code == 308
    assert r.headers["location"].endswith(f"{TAGS}/")
    r = await registry.http.get(TAGS, headers=h, follow_redirects=True)
    assert r.status_code == 200
    assert [(t["name"], t["manifest_digest"]) for t in r.json()["tags"]] == [("v1", pushed.digest)]
    encoded = await registry.http.get("/api/v1/repository/alice%2Fapp/tag/", headers=h)
    assert encoded.json() == r.json()  # Terraform's generated client encodes the slash


async def test_who_may_list_and_change(registry: Berth, alice: Client) -> None:
    pushed = await alice.push_image(REPO, "v1")
    r = await registry.http.get(f"{TAGS}/")
    assert_problem(r, 401, "invalid_token", "Requires authentication")
    bob = bearer(await oauth_token(registry, "bob"))
    r = await registry.http.get(f"{TAGS}/", headers=bob)
    assert_problem(r, 403, "insufficient_scope", "Unauthorized")
    r = await registry.http.get("/api/v1/repository/alice/missing/tag/", headers=bob)
    assert r.status_code == 403  # permission before existence
    h = await _alice(registry)
    r = await registry.http.get("/api/v1/repository/alice/missing/tag/", headers=h)
    assert_problem(r, 404, "not_found", "Not Found")
    r = await registry.http.put(f"{TAGS}/v2", json={"manifest_digest": pushed.digest})
    assert r.status_code == 403
    assert r.json() == CSRF_BODY
    read_only = bearer(await oauth_token(registry, "alice", "repo:read"))
    r = await registry.http.put(
        f"{TAGS}/v2", json={"manifest_digest": pushed.digest}, headers=read_only
    )
    assert_problem(r, 403, "insufficient_scope", "Unauthorized")
    r = await registry.http.delete(f"{TAGS}/v1", headers=bob)
    assert_problem(r, 403, "insufficient_scope", "Unauthorized")
    assert [t["name"] for t in (await _tags(registry, h))["tags"]] == ["v1"]


# ------------------------------------------------------------------------- create, move


async def test_create_and_move_a_tag(registry: Berth, alice: Client) -> None:
    h = await _alice(registry)
    one = await alice.push_image(REPO, "one")
    two = await alice.push_image(REPO, "two")
    r = await registry.http.put(f"{TAGS}/stable", json={"manifest_digest": one.digest}, headers=h)
    assert r.status_code == 201
    assert r.json() == "Updated"
    assert (await _pull(alice, "stable")).content == one.manifest
    r = await registry.http.put(f"{TAGS}/stable", json={"manifest_digest": two.digest}, headers=h)
    assert r.status_code == 201
    assert (await _pull(alice, "stable")).content == two.manifest
    history = (await _tags(registry, h, specificTag="stable"))["tags"]
    assert [t["manifest_digest"] for t in history] == [two.digest, one.digest]
    assert "end_ts" in history[1]
    assert "end_ts" not in history[0]
    (created,) = await _logs(registry, "create_tag")
    (moved,) = await _logs(registry, "move_tag")
    assert created.repository == "app"
    assert created.metadata["manifest_digest"] == one.digest
    assert moved.metadata["original_manifest_digest"] == one.digest
    assert moved.metadata["manifest_digest"] == two.digest


async def test_bad_moves_change_nothing(registry: Berth, alice: Client, bob: Client) -> None:
    h = await _alice(registry)
    one = await alice.push_image(REPO, "one")
    elsewhere = await bob.push_image("bob/other", "x")
    before = await _tags(registry, h)
    for digest in (elsewhere.digest, "sha256:" + "0" * 64, "not-a-digest"):
        r = await registry.http.put(
            f"{TAGS}/one", json={"manifest_digest": digest, "expiration": time.time() + WEEK},
            headers=h,
        )  # fmt: skip
        assert_problem(r, 404, "not_found", "Not Found")
    r = await registry.http.put(f"{TAGS}/one", json={"manifest_digest": None}, headers=h)
    assert r.status_code == 404
    r = await registry.http.put(f"{TAGS}/-bad", json={"manifest_digest": one.digest}, headers=h)
    assert r.status_code == 400
    assert r.json() == {
        "message": 'Invalid tag: must match [A-Za-z0-9_.-], NOT start with "." or "-", '
        "and can contain 1-128 characters"
    }
    r = await registry.http.put(f"{TAGS}/one", json={"manifest_digest": 5}, headers=h)
    assert r.status_code == 400
    assert r.json()["error_type"] == "invalid_request"
    r = await registry.http.put(
        "/api/v1/repository/alice/missing/tag/one", json={"manifest_digest": one.digest}, headers=h
    )
    assert_problem(r, 404, "not_found", "Not Found")
    assert await _tags(registry, h) == before
    assert await _logs(registry, "move_tag") == []


async def test_repository_not_normal_refuses_changes(registry: Berth, alice: Client) -> None:
    h = await _alice(registry)
    one = await alice.push_image(REPO, "one")
    await _set_state(registry, "READ_ONLY")
    expected = {"message": "Repository is in read only or mirror mode: READ_ONLY"}
    r = await registry.http.put(f"{TAGS}/two", json={"manifest_digest": one.digest}, headers=h)
    assert (r.status_code, r.json()) == (503, expected)
    r = await registry.http.delete(f"{TAGS}/one", headers=h)
    assert (r.status_code, r.json()) == (503, expected)
    r = await registry.http.post(
        f"{TAGS}/one/restore", json={"manifest_digest": one.digest}, headers=h
    )
    assert (r.status_code, r.json()) == (503, expected)
    assert [t["name"] for t in (await _tags(registry, h))["tags"]] == ["one"]


# --------------------------------------------------------------------------- expiration


async def test_expiration_set_clamped_and_cleared(registry: Berth, alice: Client) -> None:
    h = await _alice(registry)
    await alice.push_image(REPO, "v1")
    start = (await _live(registry, "v1", h))["start_ts"]
    wanted = int(time.time()) + 2 * 86400
    r = await registry.http.put(f"{TAGS}/v1", json={"expiration": wanted}, headers=h)
    assert (r.status_code, r.json()) == (201, "Updated")
    entry = await _live(registry, "v1", h)  # still listed while it has not expired
    assert entry["end_ts"] == wanted
    assert entry["expiration"].endswith("-0000")
    (log,) = await _logs(registry, "change_tag_expiration")
    assert log.metadata["expiration_date"] == wanted
    assert log.metadata["old_expiration_date"] is None
    # too soon: start + 1 hour; too late: start + 104 weeks
    await registry.http.put(f"{TAGS}/v1", json={"expiration": time.time() + 60}, headers=h)
    assert (await _live(registry, "v1", h))["end_ts"] == start + HOUR
    await registry.http.put(f"{TAGS}/v1", json={"expiration": time.time() + 900 * WEEK}, headers=h)
    assert (await _live(registry, "v1", h))["end_ts"] == start + 104 * WEEK
    r = await registry.http.put(f"{TAGS}/v1", json={"expiration": None}, headers=h)
    assert r.status_code == 201
    entry = await _live(registry, "v1", h)
    assert "end_ts" not in entry
    assert "expiration" not in entry
    assert (await _pull(alice, "v1")).status_code == 200


async def test_bad_expirations_change_nothing(registry: Berth, alice: Client) -> None:
    h = await _alice(registry)
    await alice.push_image(REPO, "v1")
    wanted = int(time.time()) + 86400
    await registry.http.put(f"{TAGS}/v1", json={"expiration": wanted}, headers=h)
    before = await _tags(registry, h)
    r = await registry.http.put(f"{TAGS}/v1", json={"expiration": time.time() - 10}, headers=h)
    assert (r.status_code, r.json()) == (400, {"message": "Expiration must be in the future"})
    r = await registry.http.put(f"{TAGS}/v1", json={"expiration": "tomorrow"}, headers=h)
    assert r.status_code == 400
    assert r.json()["error_type"] == "invalid_request"
    r = await registry.http.put(
        f"{TAGS}/v1", content=b"{", headers={**h, "content-type": "application/json"}
    )
    assert r.status_code == 400
    r = await registry.http.put(f"{TAGS}/missing", json={"expiration": wanted}, headers=h)
    assert_problem(r, 404, "not_found", "Not Found")
    assert await _tags(registry, h) == before
    assert len(await _logs(registry, "change_tag_expiration")) == 1


async def test_expired_tag_is_gone_from_v2_and_listed_as_history(
    registry: Berth, alice: Client
) -> None:
    h = await _alice(registry)
    pushed = await alice.push_image(REPO, "v1")
    await registry.http.put(f"{TAGS}/v1", json={"expiration": time.time() + WEEK}, headers=h)
    assert (await _pull(alice, "v1")).status_code == 200  # cached with the expiry as TTL
    async with registry.services.db.write() as s:  # move the clock: the expiry is now past
        await s.execute(text("UPDATE tags SET end_ts = :t"), {"t": int(time.time() * 1000) - 5})
    registry.services.registry.tags.cache.invalidate(REPO)
    assert_error(await _pull(alice, "v1"), 404, "MANIFEST_UNKNOWN")
    assert_error(await _pull(alice, pushed.digest), 404, "MANIFEST_UNKNOWN")
    assert (await _tags(registry, h, onlyActiveTags="true"))["tags"] == []
    (entry,) = (await _tags(registry, h))["tags"]
    assert entry["end_ts"] <= time.time()


# ------------------------------------------------------------------ delete and restore


async def test_time_machine_scenario(registry: Berth, alice: Client) -> None:
    """quay-api.md scenario 6."""
    h = await _alice(registry)
    pushed = await alice.push_image(REPO, "t")
    r = await registry.http.delete(f"{TAGS}/t", headers=h)
    assert r.status_code == 204
    assert r.content == b""
    (entry,) = (await _tags(registry, h, specificTag="t"))["tags"]
    assert entry["end_ts"] >= entry["start_ts"]
    assert (await _tags(registry, h, onlyActiveTags="true"))["tags"] == []
    assert_error(await _pull(alice, pushed.digest), 404, "MANIFEST_UNKNOWN")
    r = await registry.http.post(
        f"{TAGS}/t/restore", json={"manifest_digest": pushed.digest}, headers=h
    )
    assert (r.status_code, r.json()) == (200, {})
    (live,) = (await _tags(registry, h, onlyActiveTags="true"))["tags"]
    assert live["name"] == "t"
    assert live["reversion"] is True
    assert live["manifest_digest"] == pushed.digest
    assert (await _pull(alice, "t")).content == pushed.manifest
    assert len((await _tags(registry, h))["tags"]) == 2
    assert [log.kind for log in await _logs(registry, "revert_tag")] == ["revert_tag"]
    assert (await _logs(registry, "delete_tag"))[0].metadata["tag"] == "t"


async def test_restore_moves_a_live_tag_back(registry: Berth, alice: Client) -> None:
    h = await _alice(registry)
    old = await alice.push_image(REPO, "v1")
    await alice.push_image(REPO, "v1")
    r = await registry.http.post(
        f"{TAGS}/v1/restore", json={"manifest_digest": old.digest}, headers=h
    )
    assert r.status_code == 200
    assert (await _pull(alice, "v1")).content == old.manifest
    assert (await _live(registry, "v1", h))["reversion"] is True


async def test_bad_restores_change_nothing(registry: Berth, alice: Client, bob: Client) -> None:
    h = await _alice(registry)
    pushed = await alice.push_image(REPO, "t")
    elsewhere = await bob.push_image("bob/other", "x")
    await registry.http.delete(f"{TAGS}/t", headers=h)
    before = await _tags(registry, h)
    restore = f"{TAGS}/t/restore"
    r = await registry.http.post(restore, json={}, headers=h)
    assert_problem(r, 400, "invalid_request", "Missing manifest_digest")
    r = await registry.http.post(restore, json={"manifest_digest": elsewhere.digest}, headers=h)
    assert_problem(r, 404, "not_found", "Not Found")
    r = await registry.http.post(
        f"{TAGS}/.t/restore", json={"manifest_digest": pushed.digest}, headers=h
    )
    assert r.status_code == 400
    # the namespace's window shrinks to nothing: the deleted tag is out of reach
    r = await registry.http.put("/api/v1/user/", json={"tag_expiration_s": 0}, headers=h)
    assert r.status_code == 200, r.text
    r = await registry.http.post(restore, json={"manifest_digest": pushed.digest}, headers=h)
    body = assert_problem(
        r,
        400,
        "invalid_request",
        f"Cannot restore tag: manifest {pushed.digest} was last tagged outside the time "
        "machine window of 0 seconds",
    )
    assert body["status"] == 400
    assert await _tags(registry, h) == before
    assert_error(await _pull(alice, pushed.digest), 404, "MANIFEST_UNKNOWN")
    assert await _logs(registry, "revert_tag") == []


async def test_delete_skipping_the_recovery_period(registry: Berth, alice: Client) -> None:
    h = await _alice(registry)
    pushed = await alice.push_image(REPO, "t")
    r = await registry.http.delete(f"{TAGS}/t", params={"skipRecoveryPeriod": "true"}, headers=h)
    assert r.status_code == 204
    r = await registry.http.post(
        f"{TAGS}/t/restore", json={"manifest_digest": pushed.digest}, headers=h
    )
    assert r.status_code == 400
    assert "time machine window" in r.json()["detail"]
    r = await registry.http.delete(f"{TAGS}/t", headers=h)
    assert_problem(r, 404, "not_found", "Not Found")


# ------------------------------------------------------------------------- immutability


async def test_immutable_tag_refuses_every_change(configured: Any) -> None:
    async with configured(FEATURE_IMMUTABLE_TAGS=True) as reg:
        alice = reg.client("alice")
        h = await _alice(reg)
        pushed = await alice.push_image(REPO, "v1")
        other = await alice.push_image(REPO, "other")
        r = await reg.http.put(f"{TAGS}/v1", json={"immutable": True}, headers=h)
        assert (r.status_code, r.json()) == (201, "Updated")
        assert (await _live(reg, "v1", h))["immutable"] is True
        assert (await _live(reg, "other", h))["immutable"] is False
        before = await _tags(reg, h)
        refused = [
            await reg.http.delete(f"{TAGS}/v1", headers=h),
            await reg.http.put(f"{TAGS}/v1", json={"manifest_digest": other.digest}, headers=h),
            await reg.http.put(f"{TAGS}/v1", json={"manifest_digest": pushed.digest}, headers=h),
            await reg.http.put(f"{TAGS}/v1", json={"expiration": time.time() + WEEK}, headers=h),
            await reg.http.post(
                f"{TAGS}/v1/restore", json={"manifest_digest": other.digest}, headers=h
            ),
        ]
        for r in refused:
            body = assert_problem(r, 409, "tag_immutable", r.json()["detail"])
            assert "v1" in body["detail"]
        # the registry protocol: DENIED for overwrite and deletes, a same-content push is fine
        new = await alice.push_image(REPO, "spare")
        r = await alice.put_manifest(REPO, "v1", new.manifest, OCI_MANIFEST)
        assert_error(r, 403, "DENIED")
        assert_error(await alice.delete(f"/v2/{REPO}/manifests/v1"), 403, "DENIED")
        assert_error(await alice.delete(f"/v2/{REPO}/manifests/{pushed.digest}"), 403, "DENIED")
        r = await alice.put_manifest(REPO, "v1", pushed.manifest, OCI_MANIFEST)
        assert r.status_code == 201
        after = await _tags(reg, h, specificTag="v1")
        assert after["tags"] == [t for t in before["tags"] if t["name"] == "v1"]
        assert (await _pull(alice, "v1")).content == pushed.manifest


async def test_only_admins_make_a_tag_mutable_again(configured: Any) -> None:
    async with configured(FEATURE_IMMUTABLE_TAGS=True) as reg:
        alice = reg.client("alice")
        await alice.push_image(REPO, "v1")
        h = await _alice(reg)
        await reg.services.permissions.set_user_permission(RepoName("alice", "app"), "bob", "write")
        bob = bearer(await oauth_token(reg, "bob"))
        r = await reg.http.put(f"{TAGS}/v1", json={"immutable": True}, headers=bob)
        assert r.status_code == 201
        r = await reg.http.put(f"{TAGS}/v1", json={"immutable": False}, headers=bob)
        assert_problem(r, 403, "insufficient_scope", "Unauthorized")
        assert (await _live(reg, "v1", h))["immutable"] is True
        r = await reg.http.put(f"{TAGS}/v1", json={"immutable": False}, headers=h)
        assert r.status_code == 201
        assert (await _live(reg, "v1", h))["immutable"] is False
        r = await reg.http.put(f"{TAGS}/nope", json={"immutable": True}, headers=h)
        assert_problem(r, 404, "not_found", "Not Found")


async def test_immutable_clears_expiry_unless_immutable_tags_can_expire(configured: Any) -> None:
    for can_expire in (False, True):
        async with configured(
            FEATURE_IMMUTABLE_TAGS=True, FEATURE_IMMUTABLE_TAGS_CAN_EXPIRE=can_expire
        ) as reg:
            alice = reg.client("alice")
            h = await _alice(reg)
            tag = f"v{int(can_expire)}"
            await alice.push_image(REPO, tag)
            wanted = int(time.time()) + WEEK
            await reg.http.put(f"{TAGS}/{tag}", json={"expiration": wanted}, headers=h)
            await reg.http.put(f"{TAGS}/{tag}", json={"immutable": True}, headers=h)
            entry = await _live(reg, tag, h)
            assert entry.get("end_ts") == (wanted if can_expire else None)
            r = await reg.http.put(f"{TAGS}/{tag}", json={"expiration": wanted}, headers=h)
            assert r.status_code == (201 if can_expire else 409)
            r = await reg.http.put(f"{TAGS}/{tag}", json={"expiration": None}, headers=h)
            assert r.status_code == 201  # clearing an expiry never threatens the tag


async def test_immutable_needs_the_feature(registry: Berth, alice: Client) -> None:
    h = await _alice(registry)
    await alice.push_image(REPO, "v1")
    r = await registry.http.put(f"{TAGS}/v1", json={"immutable": True}, headers=h)
    assert_problem(
        r, 400, "invalid_request", "Tag immutability is not enabled (FEATURE_IMMUTABLE_TAGS)"
    )
    assert "immutable" not in (await _live(registry, "v1", h))
    assert (await alice.delete(f"/v2/{REPO}/manifests/v1")).status_code == 202


# -------------------------------------------------------------------------- real clients


async def test_rdo_pruner_flow(registry: Berth, alice: Client) -> None:
    """quay-api.md 6.2 and scenario 5: anonymous listing of a public repository, an
    expiration set one day ahead with a bearer token, the tag still listed with end_ts."""
    old: Pushed = await alice.push_image(REPO, "old-build")
    await alice.push_image(REPO, "current")
    await registry.set_public(REPO)
    anonymous = await registry.http.get(
        f"{TAGS}/", params={"onlyActiveTags": "true", "page": 1}
    )  # no Authorization header at all
    assert anonymous.status_code == 200
    listed = {t["name"]: t for t in anonymous.json()["tags"]}
    assert set(listed) == {"old-build", "current"}
    assert all(isinstance(t["start_ts"], int) for t in listed.values())
    assert anonymous.json()["has_additional"] is False
    tomorrow = int(time.time()) + 86400
    r = await registry.http.put(
        f"{TAGS}/old-build",
        content=f'{{"expiration": {tomorrow}}}',
        headers={**await _alice(registry), "content-type": "application/json"},
    )
    assert (r.status_code, r.json()) == (201, "Updated")
    again = (await registry.http.get(f"{TAGS}/", params={"onlyActiveTags": "true"})).json()
    pruned = next(t for t in again["tags"] if t["name"] == "old-build")
    assert pruned["end_ts"] == tomorrow
    assert pruned["manifest_digest"] == old.digest
    assert "end_ts" not in next(t for t in again["tags"] if t["name"] == "current")
    r = await registry.http.put(f"{TAGS}/current", json={"expiration": tomorrow})
    assert r.status_code == 403  # anonymous writes: the CSRF refusal


async def test_python_quay_tool_flow(registry: Berth, alice: Client) -> None:
    """quay-api.md 6.1: list (no trailing slash, redirect followed), delete, restore by
    digest, expire N days, expire 0 (null)."""
    h = {**await _alice(registry), "content-type": "application/json"}
    api = httpx.AsyncClient(
        transport=registry.http._transport, base_url=str(registry.http.base_url), headers=h,
        follow_redirects=True,
    )  # fmt: skip
    async with api:
        pushed = await alice.push_image(REPO, "release")
        listing = (await api.get(f"{TAGS}")).json()["tags"]
        digest = next(t["manifest_digest"] for t in listing if t["name"] == "release")
        assert digest == pushed.digest
        assert (await api.delete(f"{TAGS}/release")).status_code == 204
        r = await api.post(f"{TAGS}/release/restore", json={"manifest_digest": digest})
        r.raise_for_status()
        expire = int(time.time()) + 3 * 86400
        (await api.put(f"{TAGS}/release", json={"expiration": expire})).raise_for_status()
        assert (await _live(registry, "release", h))["end_ts"] == expire
        (await api.put(f"{TAGS}/release", json={"expiration": None})).raise_for_status()
        assert "end_ts" not in await _live(registry, "release", h)
        assert (await _pull(alice, "release")).content == pushed.manifest


async def test_tag_routes_in_discovery(registry: Berth) -> None:
    paths = (await registry.http.get("/api/v1/discovery")).json()["paths"]
    tag_path = "/api/v1/repository/{repository}/tag/{tag}"
    assert set(paths[tag_path]) >= {"put", "delete"}
    assert "post" in paths[tag_path + "/restore"]
    assert "get" in paths["/api/v1/repository/{repository}/tag/"]
