"""FEATURE_RESTRICTED_USERS on the registry protocol."""

from __future__ import annotations

from berth.registry.repositories import RepoName
from tests.integration.api.conftest import bearer, oauth_token
from tests.integration.conftest import OCI_MANIFEST, token_access


async def test_restricted_users_create_nothing_in_their_own_namespace(configured) -> None:  # type: ignore[no-untyped-def]
    """FEATURE_RESTRICTED_USERS: alice (not whitelisted) can't push a new repository into
    her namespace, by token or Basic; bob (whitelisted) can; alice still pushes where an org
    team makes her a creator."""
    restricted = {"FEATURE_RESTRICTED_USERS": True, "RESTRICTED_USERS_WHITELIST": ["bob"]}
    async with configured(**restricted, FEATURE_MAILING=False) as b:
        alice = b.client("alice")
        resp = await alice.token("repository:alice/new:pull,push")
        assert resp.status_code == 200, resp.text
        assert "push" not in token_access(resp.json()["token"]).get("alice/new", set())
        resp = await b.client("alice", basic=True).put(
            "/v2/alice/new/manifests/v1", content=b"{}", headers={"Content-Type": OCI_MANIFEST}
        )
        assert resp.status_code in (401, 403)
        assert await b.services.registry.find(RepoName("alice", "new")) is None

        resp = await b.client("bob").token("repository:bob/new:pull,push")
        assert token_access(resp.json()["token"])["bob/new"] == {"pull", "push"}

        svc = b.services
        await svc.orgs.create("lab", creator="bob")
        await svc.teams.create_or_update("lab", "builders", role="creator", description="")
        await svc.teams.add_member("lab", "builders", "alice")
        pushed = await alice.push_image("lab/app", "v1")
        assert pushed.digest


async def test_restricted_users_create_no_repository_by_api(configured) -> None:  # type: ignore[no-untyped-def]
    restricted = {"FEATURE_RESTRICTED_USERS": True, "RESTRICTED_USERS_WHITELIST": ["bob"]}
    async with configured(**restricted) as b:
        body = {"repository": "new", "visibility": "private", "description": ""}
        for user, status in (("alice", 403), ("bob", 201)):
            token = await oauth_token(b, user)
            r = await b.http.post("/api/v1/repository", json=body, headers=bearer(token))
            assert r.status_code == status, r.text
        assert await b.services.registry.find(RepoName("alice", "new")) is None
        assert await b.services.registry.find(RepoName("bob", "new")) is not None
