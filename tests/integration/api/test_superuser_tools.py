"""The superuser's remaining tools: organization rename (``PUT /superuser/organizations/
{name}``), every user's app tokens (``GET /superuser/apptokens``), the configuration dump
(``GET /superuser/config``, FEATURE_SUPERUSER_CONFIGDUMP) and global read-only superusers
(GLOBAL_READONLY_SUPER_USERS: every superuser GET, no write)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest

from tests.integration.api.conftest import bearer, oauth_token
from tests.integration.conftest import Berth

Configured = Callable[..., contextlib.AbstractAsyncContextManager[Berth]]
SU = "/api/v1/superuser"


async def _org(registry: Berth, headers: dict[str, str], name: str) -> None:
    r = await registry.http.post(
        "/api/v1/organization/", json={"name": name, "email": f"{name}@x.org"}, headers=headers
    )
    assert r.status_code == 201, r.text


async def test_superuser_renames_an_organization(registry: Berth) -> None:
    root = bearer(await oauth_token(registry, "root"))
    alice = bearer(await oauth_token(registry, "alice"))
    await _org(registry, alice, "lab")
    await _org(registry, alice, "ops")
    http = registry.http
    r = await http.post(
        "/api/v1/repository",
        json={"namespace": "lab", "repository": "app", "visibility": "private", "description": ""},
        headers=alice,
    )
    assert r.status_code == 201, r.text
    pushed = await registry.client("alice").push_image("lab/app", "v1")
    assert (await http.put("/api/v1/organization/lab/robots/bot", headers=alice)).status_code == 201

    # refusals: not a superuser, a name taken (an organization, a user), a bad name, unknown
    r = await http.put(f"{SU}/organizations/lab", json={"name": "newlab"}, headers=alice)
    assert r.status_code == 403
    for taken in ("ops", "bob"):
        r = await http.put(f"{SU}/organizations/lab", json={"name": taken}, headers=root)
        assert r.status_code == 400, r.text
        assert r.json()["message"] == "A user or organization with this name already exists"
    r = await http.put(f"{SU}/organizations/lab", json={"name": "Bad Name!"}, headers=root)
    assert r.status_code == 400, r.text
    r = await http.put(f"{SU}/organizations/nosuchorg", json={"name": "x2"}, headers=root)
    assert r.status_code == 404

    r = await http.put(f"{SU}/organizations/lab", json={"name": "newlab"}, headers=root)
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "newlab"
    assert r.json()["email"] == "lab@x.org"
    assert set(r.json()) == {"name", "email", "avatar"}

    assert (await http.get("/api/v1/organization/lab", headers=alice)).status_code == 404
    assert (await http.get("/api/v1/organization/newlab", headers=alice)).status_code == 200
    r = await http.get("/api/v1/repository/newlab/app", headers=alice)
    assert r.status_code == 200, r.text
    assert r.json()["namespace"] == "newlab"
    assert (await http.get("/api/v1/repository/lab/app", headers=alice)).status_code in (403, 404)
    r = await http.get("/api/v1/organization/newlab/robots", headers=alice)
    assert [b["name"] for b in r.json()["robots"]] == ["newlab+bot"]
    # the registry follows: the image under its new name, nothing under the old one
    client = registry.client("alice")
    r = await client.get(f"/v2/newlab/app/manifests/{pushed.digest}")
    assert r.status_code == 200, r.text
    r = await client.get(f"/v2/lab/app/manifests/{pushed.digest}")
    assert r.status_code in (401, 403, 404)
    await client.push_image("newlab/app", "v2")
    # the usage log
    r = await http.get("/api/v1/organization/newlab/logs", headers=alice)
    renames = [e for e in r.json()["logs"] if e["kind"] == "org_change_name"]
    assert len(renames) == 1
    assert renames[0]["metadata"]["old_name"] == "lab"
    assert renames[0]["metadata"]["new_name"] == "newlab"
    assert renames[0]["performer"]["name"] == "root"


async def test_superuser_lists_every_users_app_tokens(registry: Berth) -> None:
    root = bearer(await oauth_token(registry, "root"))
    alice = bearer(await oauth_token(registry, "alice"))
    r = await registry.http.post("/api/v1/user/apptoken", json={"title": "ci"}, headers=alice)
    assert r.status_code == 200, r.text
    code = r.json()["token"]["token_code"]

    r = await registry.http.get(f"{SU}/apptokens", headers=root)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["only_expiring"] is False
    mine = [t for t in body["tokens"] if t["title"] == "ci"]
    assert len(mine) == 1
    assert mine[0]["owner"] == "alice"
    assert set(mine[0]) == {"uuid", "title", "last_accessed", "created", "expiration", "owner"}
    assert code not in r.text  # never the codes
    # no expiration configured: none expires soon
    r = await registry.http.get(f"{SU}/apptokens?expiring=true", headers=root)
    assert r.json() == {"tokens": [], "only_expiring": True}
    assert (await registry.http.get(f"{SU}/apptokens", headers=alice)).status_code == 403
    assert (await registry.http.get(f"{SU}/apptokens")).status_code == 401


async def test_config_dump_masks_secrets(registry: Berth, configured: Configured) -> None:
    root = bearer(await oauth_token(registry, "root"))
    r = await registry.http.get(f"{SU}/config", headers=root)
    assert r.status_code == 403  # FEATURE_SUPERUSER_CONFIGDUMP is off
    async with configured(
        FEATURE_SUPERUSER_CONFIGDUMP=True,
        MAIL_PASSWORD="mail-secret-1",
        DB_CONNECTION_ARGS={"password": "db-secret-2"},
        BUILDLOGS_REDIS={"host": "redis.example.org", "password": "redis-secret-3"},
    ) as berth:
        root = bearer(await oauth_token(berth, "root"))
        alice = bearer(await oauth_token(berth, "alice"))
        assert (await berth.http.get(f"{SU}/config", headers=alice)).status_code == 403
        r = await berth.http.get(f"{SU}/config", headers=root)
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"config", "warning", "env", "schema"}
        config = body["config"]
        assert config["FEATURE_SUPERUSER_CONFIGDUMP"] is True
        assert "root" in config["SUPER_USERS"]
        assert config["MAIL_PASSWORD"] == "********"
        assert config["DB_CONNECTION_ARGS"]["password"] == "********"
        assert config["BUILDLOGS_REDIS"] == {"host": "redis.example.org", "password": "********"}
        if "DB_URI" in config:  # distributed: the credentials in the URL
            assert "********@" in config["DB_URI"]
        for secret in ("mail-secret-1", "db-secret-2", "redis-secret-3", berth.settings.secret_key):
            assert secret not in r.text
        assert "SUPER_USERS" in body["schema"]["properties"]


@pytest.mark.parametrize("scopes", ["super:user user:read", "user:read"])
async def test_global_readonly_superuser_reads_and_writes_nothing(
    registry: Berth, configured: Configured, scopes: str
) -> None:
    alice = bearer(await oauth_token(registry, "alice"))
    await _org(registry, alice, "lab")
    async with configured(GLOBAL_READONLY_SUPER_USERS=["bob"]) as berth:
        bob = bearer(await oauth_token(berth, "bob", scopes))
        http = berth.http
        reads = [
            f"{SU}/users/",
            f"{SU}/users/alice",
            f"{SU}/organizations/",
            f"{SU}/apptokens",
            f"{SU}/logs",
            f"{SU}/aggregatelogs",
        ]
        writes = [
            ("POST", f"{SU}/users/", {"username": "newbie"}),
            ("PUT", f"{SU}/users/alice", {"email": "a2@example.com"}),
            ("DELETE", f"{SU}/users/alice", None),
            ("PUT", f"{SU}/organizations/lab", {"name": "lab2"}),
            ("DELETE", f"{SU}/organizations/lab", None),
            ("POST", "/api/v1/messages", {"message": {"content": "hi", "media_type": "text/plain",
                                                       "severity": "info"}}),
        ]  # fmt: skip
        for url in reads:
            r = await http.get(url, headers=bob)
            expected = 200 if "super:user" in scopes else 403
            assert r.status_code == expected, (url, r.text)
        for method, url, body in writes:
            r = await http.request(method, url, json=body, headers=bob)
            assert r.status_code == 403, (method, url, r.text)
        assert (await http.get("/api/v1/organization/lab", headers=bob)).status_code == 200
        assert (await http.get(f"{SU}/users/alice", headers=alice)).status_code == 403
        if "super:user" in scopes:
            users = (await http.get(f"{SU}/users/", headers=bob)).json()["users"]
            flags = {u["username"]: u["global_readonly_super_user"] for u in users}
            assert flags["bob"] is True
            assert flags["alice"] is False
        me = (await http.get("/api/v1/user/", headers=bob)).json()
        assert me["super_user"] is False
        assert me["global_readonly_super_user"] is ("super:user" in scopes)
