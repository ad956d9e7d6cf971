"""One record of what happened: every change leaves exactly one usage-log entry, written by
the service in the change's transaction; a refused change leaves none; pulls are buffered
and written within a second and at shutdown."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from berth.http.app import create_app
from berth.registry import manifests as manifest_module
from tests.integration.api.conftest import api_of, bearer, oauth_token
from tests.integration.conftest import BASE_URL, OCI_MANIFEST, Berth, Client
from tests.integration.test_time_machine import push_labelled

API = "/api/v1"


class Log:
    """The usage-log rows written after ``mark``."""

    def __init__(self, registry: Berth) -> None:
        self.registry = registry
        self.last = 0

    async def rows(self) -> list[dict[str, Any]]:
        async with self.registry.services.db.read() as s:
            result = await s.execute(
                text(
                    "SELECT id, kind, namespace, repository, performer, namespace_id, "
                    "repository_id, metadata FROM log_entries WHERE id > :last ORDER BY id"
                ),
                {"last": self.last},
            )
            rows = [dict(r._mapping) for r in result]
        for row in rows:
            meta = row["metadata"]
            row["metadata"] = meta if isinstance(meta, dict) else json.loads(meta)
        return rows

    async def mark(self) -> None:
        async with self.registry.services.db.read() as s:
            self.last = (await s.execute(text("SELECT MAX(id) FROM log_entries"))).scalar() or 0

    async def one(self, kind: str) -> dict[str, Any]:
        """The single row written since the mark (of ``kind``); then mark again."""
        rows = await self.rows()
        assert [r["kind"] for r in rows] == [kind], rows
        await self.mark()
        return rows[0]

    async def none(self) -> None:
        assert await self.rows() == []


@pytest.fixture
async def log(registry: Berth) -> Log:
    record = Log(registry)
    await record.mark()
    return record


async def token_of(registry: Berth, user: str) -> tuple[dict[str, str], str]:
    """Bearer headers for ``user`` and the uuid of the OAuth token (logged as
    ``oauth_token_id``)."""
    token = await oauth_token(registry, user)
    grant = await api_of(registry).oauth.validate_token(token)
    return bearer(token), grant.token_uuid


# ----------------------------------------------------------------------- former HTTP audits


async def test_user_change(registry: Berth, log: Log) -> None:
    h, token_id = await token_of(registry, "alice")
    await log.mark()
    r = await registry.http.put(f"{API}/user/", json={"password": "short"}, headers=h)
    assert r.status_code == 400
    await log.none()
    r = await registry.http.put(f"{API}/user/", json={"email": "alice@example.org"}, headers=h)
    assert r.status_code == 200, r.text
    row = await log.one("user_change_email")
    assert (row["namespace"], row["performer"]) == ("alice", "alice")
    assert row["metadata"] == {"username": "alice", "oauth_token_id": token_id}


async def test_superuser_change(registry: Berth, log: Log) -> None:
    h, _ = await token_of(registry, "root")
    bob, _ = await token_of(registry, "bob")
    await log.mark()
    r = await registry.http.put(f"{API}/superuser/users/nobody", json={"enabled": False}, headers=h)
    assert r.status_code == 404
    r = await registry.http.put(
        f"{API}/superuser/users/alice", json={"enabled": False}, headers=bob
    )
    assert r.status_code == 403
    await log.none()
    r = await registry.http.put(f"{API}/superuser/users/alice", json={"enabled": False}, headers=h)
    assert r.status_code == 200, r.text
    row = await log.one("user_disable")
    assert (row["namespace"], row["performer"]) == ("alice", "root")
    assert row["metadata"]["username"] == "alice"


async def test_app_token_create_and_revoke(registry: Berth, log: Log) -> None:
    h, _ = await token_of(registry, "alice")
    await log.mark()
    r = await registry.http.post(f"{API}/user/apptoken", json={"title": "ci"}, headers=h)
    assert r.status_code == 200, r.text
    token_uuid = r.json()["token"]["uuid"]
    row = await log.one("create_app_specific_token")
    assert (row["namespace"], row["performer"]) == ("alice", "alice")
    assert row["metadata"]["app_specific_token"] == token_uuid
    assert row["metadata"]["app_specific_token_title"] == "ci"
    r = await registry.http.delete(f"{API}/user/apptoken/not-a-token", headers=h)
    assert r.status_code == 404
    await log.none()
    r = await registry.http.delete(f"{API}/user/apptoken/{token_uuid}", headers=h)
    assert r.status_code == 204
    row = await log.one("revoke_app_specific_token")
    assert row["metadata"]["app_specific_token"] == token_uuid


async def test_oauth_application_create_update_delete(registry: Berth, log: Log) -> None:
    await registry.services.orgs.create("lab", creator="alice")
    h, _ = await token_of(registry, "alice")
    bob, _ = await token_of(registry, "bob")
    apps = f"{API}/organization/lab/applications"
    await log.mark()
    r = await registry.http.post(apps, json={"name": "nope"}, headers=bob)
    assert r.status_code == 403
    await log.none()
    r = await registry.http.post(apps, json={"name": "ci"}, headers=h)
    assert r.status_code == 200, r.text
    client_id = r.json()["client_id"]
    row = await log.one("create_application")
    assert (row["namespace"], row["performer"]) == ("lab", "alice")
    assert row["metadata"]["application_name"] == "ci"
    assert row["metadata"]["client_id"] == client_id
    change = {"name": "ci2", "redirect_uri": "https://e.x/cb", "application_uri": "https://e.x"}
    r = await registry.http.put(f"{apps}/{client_id}", json=change, headers=h)
    assert r.status_code == 200, r.text
    row = await log.one("update_application")
    assert row["metadata"]["application_name"] == "ci2"
    assert row["metadata"]["redirect_uri"] == "https://e.x/cb"
    r = await registry.http.delete(f"{apps}/unknown", headers=h)
    assert r.status_code == 404
    await log.none()
    r = await registry.http.delete(f"{apps}/{client_id}", headers=h)
    assert r.status_code == 204
    row = await log.one("delete_application")
    assert (row["namespace"], row["metadata"]["client_id"]) == ("lab", client_id)


async def test_tag_changes(registry: Berth, alice: Client, log: Log) -> None:
    one = await alice.push_image("alice/app", "one")
    two = await alice.push_image("alice/app", "two")
    h, token_id = await token_of(registry, "alice")
    tags = f"{API}/repository/alice/app/tag"
    await log.mark()
    r = await registry.http.put(
        f"{tags}/x", json={"manifest_digest": "sha256:" + "0" * 64}, headers=h
    )
    assert r.status_code == 404
    await log.none()

    r = await registry.http.put(f"{tags}/x", json={"manifest_digest": one.digest}, headers=h)
    assert r.status_code == 201
    row = await log.one("create_tag")
    assert (row["namespace"], row["repository"], row["performer"]) == ("alice", "app", "alice")
    assert row["repository_id"] is not None
    assert row["metadata"] == {
        "username": "alice",
        "repo": "app",
        "tag": "x",
        "namespace": "alice",
        "manifest_digest": one.digest,
        "original_manifest_digest": None,
        "oauth_token_id": token_id,
    }
    r = await registry.http.put(f"{tags}/x", json={"manifest_digest": two.digest}, headers=h)
    assert r.status_code == 201
    row = await log.one("move_tag")
    assert row["metadata"]["original_manifest_digest"] == one.digest

    r = await registry.http.put(f"{tags}/x", json={"expiration": time.time() - 10}, headers=h)
    assert r.status_code == 400
    await log.none()
    r = await registry.http.put(f"{tags}/x", json={"expiration": time.time() + 86400}, headers=h)
    assert r.status_code == 201
    assert (await log.one("change_tag_expiration"))["metadata"]["old_expiration_date"] is None

    r = await registry.http.delete(f"{tags}/missing", headers=h)
    assert r.status_code == 404
    await log.none()
    r = await registry.http.delete(f"{tags}/x", headers=h)
    assert r.status_code == 204
    assert (await log.one("delete_tag"))["metadata"]["tag"] == "x"

    r = await registry.http.post(f"{tags}/x/restore", json={}, headers=h)
    assert r.status_code == 400
    await log.none()
    r = await registry.http.post(
        f"{tags}/x/restore", json={"manifest_digest": two.digest}, headers=h
    )
    assert r.status_code == 200
    assert (await log.one("revert_tag"))["metadata"]["manifest_digest"] == two.digest


async def test_label_add_and_delete(registry: Berth, alice: Client, log: Log) -> None:
    pushed = await push_labelled(alice, "alice/lab", "v1", {"maintainer": "alice"})
    h, _ = await token_of(registry, "alice")
    labels = f"{API}/repository/alice/lab/manifest/{pushed.digest}/labels"
    await log.mark()
    bad = {"key": "quay.expires-after", "value": "1d", "media_type": "text/plain"}
    r = await registry.http.post(labels, json=bad, headers=h)
    assert r.status_code == 400
    await log.none()
    r = await registry.http.post(
        labels, json={"key": "reviewed", "value": "yes", "media_type": "text/plain"}, headers=h
    )
    assert r.status_code == 201, r.text
    label_id = r.json()["label"]["id"]
    row = await log.one("manifest_label_add")
    assert (row["namespace"], row["repository"], row["performer"]) == ("alice", "lab", "alice")
    assert row["metadata"]["key"] == "reviewed"
    assert row["metadata"]["manifest_digest"] == pushed.digest
    r = await registry.http.delete(f"{labels}/{label_id}", headers=h)
    assert r.status_code == 204
    assert (await log.one("manifest_label_delete"))["metadata"]["id"] == label_id
    r = await registry.http.delete(f"{labels}/{label_id}", headers=h)
    assert r.status_code == 404
    await log.none()


async def test_policy_change(configured) -> None:  # type: ignore[no-untyped-def]
    async with configured(FEATURE_AUTO_PRUNE=True, BERTH_RUN_WORKERS_IN_PROCESS=False) as b:
        log = Log(b)
        h, _ = await token_of(b, "alice")
        base = f"{API}/organization/alice/autoprunepolicy/"
        await log.mark()
        r = await b.http.post(base, json={"method": "number_of_tags", "value": -1}, headers=h)
        assert r.status_code == 400
        await log.none()
        r = await b.http.post(base, json={"method": "number_of_tags", "value": 3}, headers=h)
        assert r.status_code == 201
        uuid = r.json()["uuid"]
        row = await log.one("create_namespace_autoprune_policy")
        assert (row["namespace"], row["performer"]) == ("alice", "alice")
        assert row["metadata"]["policy_uuid"] == uuid
        assert row["metadata"]["value"] == 3
        r = await b.http.delete(base + "0000", headers=h)
        assert r.status_code == 404
        await log.none()
        r = await b.http.delete(base + uuid, headers=h)
        assert r.status_code == 200
        await log.one("delete_namespace_autoprune_policy")


# --------------------------------------------------------------------------- the protocol


async def test_push_is_logged_in_its_transaction(registry: Berth, alice: Client, log: Log) -> None:
    pushed = await alice.push_image("alice/app", "v1")
    rows = await log.rows()  # no flush: the entry committed with the push
    assert [r["kind"] for r in rows] == ["create_repo", "push_repo"]
    push = rows[-1]
    assert (push["namespace"], push["repository"], push["performer"]) == ("alice", "app", "alice")
    assert push["repository_id"] is not None
    assert push["namespace_id"] is not None
    meta = push["metadata"]
    assert (meta["tag"], meta["manifest_digest"]) == ("v1", pushed.digest)
    assert (meta["repo"], meta["namespace"], meta["username"]) == ("app", "alice", "alice")
    assert "user-agent" in meta
    assert registry.services.pulls.pending == 0  # nothing of a push waits in a buffer
    await log.mark()
    by_digest = await alice.push_image("alice/app", None)
    meta = (await log.one("push_repo"))["metadata"]
    assert "tag" not in meta
    assert meta["manifest_digest"] == by_digest.digest
    # A refused push leaves nothing.
    r = await alice.put_manifest("alice/app", "bad", b"{not json", OCI_MANIFEST)
    assert r.status_code == 400
    await log.none()


async def test_push_log_and_push_commit_together(
    registry: Berth, alice: Client, log: Log, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The log row and the push are one transaction: a failure after the row is written
    rolls both back (a killed process leaves both or neither)."""
    pushed = await alice.push_image("alice/app", "v1")
    await log.mark()
    real = manifest_module.insert_logs

    async def write_then_fail(s: Any, rows: list[dict[str, Any]]) -> None:
        await real(s, rows)
        raise RuntimeError("failed after the log row")

    monkeypatch.setattr(manifest_module, "insert_logs", write_then_fail)
    with pytest.raises(RuntimeError, match="after the log row"):
        await alice.put_manifest("alice/app", "v2", pushed.manifest, pushed.media_type)
    monkeypatch.undo()
    await log.none()
    assert (await alice.get("/v2/alice/app/manifests/v2")).status_code == 404


async def test_protocol_deletes_are_logged(registry: Berth, alice: Client, log: Log) -> None:
    pushed = await alice.push_image("alice/app", "v1")
    await alice.push_manifest("alice/app", "v2", pushed.manifest, pushed.media_type)
    basic = registry.client("alice", basic=True)
    await log.mark()
    assert (await basic.delete("/v2/alice/app/manifests/nope")).status_code == 404
    await log.none()
    assert (await basic.delete("/v2/alice/app/manifests/v1")).status_code == 202
    row = await log.one("delete_tag")
    assert (row["performer"], row["metadata"]["tag"]) == ("alice", "v1")
    assert (await basic.delete(f"/v2/alice/app/manifests/{pushed.digest}")).status_code == 202
    row = await log.one("delete_tag")
    assert (row["metadata"]["tag"], row["metadata"]["digest"]) == ("v2", pushed.digest)


async def test_pulls_are_written_by_the_flush(registry: Berth, alice: Client, log: Log) -> None:
    pushed = await alice.push_image("alice/app", "v1")
    await log.mark()
    assert (await alice.get("/v2/alice/app/manifests/v1")).status_code == 200
    assert (await alice.head("/v2/alice/app/manifests/v1")).status_code == 200  # not a pull
    assert (await alice.get("/v2/alice/app/manifests/nope")).status_code == 404
    assert (await alice.get(f"/v2/alice/app/manifests/{pushed.digest}")).status_code == 200
    await registry.flush_pulls()
    rows = await log.rows()
    assert [r["kind"] for r in rows] == ["pull_repo", "pull_repo"]
    assert all(r["performer"] == "alice" and r["repository_id"] is not None for r in rows)
    assert rows[0]["metadata"]["tag"] == "v1"
    assert "tag" not in rows[1]["metadata"]
    assert {r["metadata"]["manifest_digest"] for r in rows} == {pushed.digest}
    # Without anyone flushing, within about a second.
    await log.mark()
    assert (await alice.get("/v2/alice/app/manifests/v1")).status_code == 200
    for _ in range(60):  # up to 3 s; the flush runs every second
        if await log.rows():
            break
        await asyncio.sleep(0.05)
    await log.one("pull_repo")


async def test_pulls_are_written_at_shutdown(registry: Berth, alice: Client, log: Log) -> None:
    await alice.push_image("alice/app", "v1")
    await log.mark()
    app = create_app(registry.settings)
    async with app.router.lifespan_context(app):
        app.state.services.pulls.interval = 3600  # only the shutdown writes
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL)
        async with http:
            other = Client(http, "alice", "alice-password")
            r = await other.get("/v2/alice/app/manifests/v1", headers={"Accept": OCI_MANIFEST})
            assert r.status_code == 200
        await log.none()
    await log.one("pull_repo")
