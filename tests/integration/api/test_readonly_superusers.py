"""Global read-only superusers (GLOBAL_READONLY_SUPER_USERS) outside the superuser panel:
they read every organization, repository, tag, team and log over /api/v1 and pull every
repository over /v2 (Quay's ``allow_for_global_readonly_superuser``), and every write is
refused as for a user without rights. Both deployments."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from tests.integration.api.conftest import bearer, oauth_token
from tests.integration.conftest import Berth, token_access

Configured = Callable[..., contextlib.AbstractAsyncContextManager[Berth]]
REPO = "/api/v1/repository/lab/secret"
ORG = "/api/v1/organization/lab"


async def test_readonly_superuser_reads_everything_and_writes_nothing(
    configured: Configured,
) -> None:
    async with configured(GLOBAL_READONLY_SUPER_USERS=["bob"]) as berth:
        http = berth.http
        alice = bearer(await oauth_token(berth, "alice"))
        bob = bearer(await oauth_token(berth, "bob"))
        r = await http.post(
            "/api/v1/organization/", json={"name": "lab", "email": "lab@x.org"}, headers=alice
        )
        assert r.status_code == 201, r.text
        r = await http.post(
            "/api/v1/repository",
            json={"namespace": "lab", "repository": "secret", "visibility": "private",
                  "description": ""},
            headers=alice,
        )  # fmt: skip
        assert r.status_code == 201, r.text
        pushed = await berth.client("alice").push_image("lab/secret", "v1")
        await berth.client("alice").push_image("alice/mine", "v1")  # private by default
        r = await http.put(f"{ORG}/team/devs", json={"role": "member"}, headers=alice)
        assert r.status_code == 200, r.text

        # reads: the organization, its teams, members, robots and logs; the repositories
        # (an organization's and a user's), their tags, manifests, permissions and logs
        org = await http.get(ORG, headers=bob)
        assert org.status_code == 200, org.text
        assert "devs" in org.json()["teams"]
        assert org.json()["is_admin"] is False
        for url in (
            f"{ORG}/members",
            f"{ORG}/team/owners/members",
            f"{ORG}/robots",
            f"{ORG}/logs",
            f"{REPO}",
            f"{REPO}/tag/",
            f"{REPO}/manifest/{pushed.digest}",
            f"{REPO}/permissions/user/",
            f"{REPO}/logs",
            "/api/v1/repository/alice/mine",
        ):
            r = await http.get(url, headers=bob)
            assert r.status_code == 200, (url, r.text)
        assert (await http.get(REPO, headers=bob)).json()["can_write"] is False
        listed = await http.get("/api/v1/repository", params={"namespace": "lab"}, headers=bob)
        assert [x["name"] for x in listed.json()["repositories"]] == ["secret"]

        # /v2: pull every repository, push none
        client = berth.client("bob")
        assert (await client.get("/v2/lab/secret/manifests/v1")).status_code == 200
        assert (await client.get("/v2/alice/mine/manifests/v1")).status_code == 200
        token = (await client.token("repository:lab/secret:pull,push,*")).json()["token"]
        assert token_access(token) == {"lab/secret": {"pull"}}
        login = (await client.token()).json()["token"]
        catalog = await http.get("/v2/_catalog", headers={"Authorization": f"Bearer {login}"})
        assert catalog.status_code == 200, catalog.text
        assert {"lab/secret", "alice/mine"} <= set(catalog.json()["repositories"])

        # writes: refused as for a user without rights (403 insufficient_scope)
        writes = [
            ("POST", "/api/v1/repository",
             {"namespace": "lab", "repository": "new", "visibility": "private",
              "description": ""}),
            ("POST", f"{REPO}/changevisibility", {"visibility": "public"}),
            ("DELETE", f"{REPO}/tag/v1", None),
            ("PUT", f"{ORG}/team/devs/members/bob", None),
            ("PUT", f"{ORG}/robots/spy", None),
            ("DELETE", REPO, None),
        ]  # fmt: skip
        for method, url, body in writes:
            r = await http.request(method, url, json=body, headers=bob)
            assert r.status_code == 403, (method, url, r.text)
            assert r.json()["error_type"] == "insufficient_scope", (method, url, r.text)
        still = await http.get(REPO, headers=alice)
        assert still.json()["is_public"] is False
        assert "v1" in still.json()["tags"]
        members = (await http.get(f"{ORG}/team/devs/members", headers=alice)).json()
        assert members["members"] == []

        # without super:user in the token, bob is any other user again
        plain = bearer(await oauth_token(berth, "bob", "repo:read user:read org:admin"))
        assert (await http.get(REPO, headers=plain)).status_code == 403
        assert (await http.get(ORG + "/members", headers=plain)).status_code == 403


async def test_a_user_not_listed_reads_nothing_private(configured: Configured) -> None:
    async with configured(GLOBAL_READONLY_SUPER_USERS=["root"]) as berth:
        await berth.client("alice").push_image("alice/mine", "v1")
        bob = bearer(await oauth_token(berth, "bob"))
        r = await berth.http.get("/api/v1/repository/alice/mine", headers=bob)
        assert r.status_code == 403
        r = await berth.client("bob").token("repository:alice/mine:pull")
        assert token_access(r.json()["token"]) == {"alice/mine": set()}
