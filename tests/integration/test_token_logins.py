"""``docker login -u '$oauthtoken'`` and ``-u '$app'``: tokens log in to the registry, and an
OAuth token's scopes cap what the user may do (``repo:read`` pulls but never pushes)."""

from __future__ import annotations

from sqlalchemy import select

from berth.identity.models import User
from berth.oauth.services import OAuthService
from tests.integration.conftest import Berth, Client, token_access


async def _user_id(registry: Berth, name: str) -> int:
    async with registry.services.db.read() as s:
        return (await s.execute(select(User.id).where(User.username == name))).scalar_one()


async def _oauth_token(registry: Berth, user: str, scopes: set[str]) -> str:
    oauth = OAuthService(registry.services.db, registry.services.auth.fernet)
    app = await oauth.create_application(user, f"ci-{'-'.join(sorted(scopes)) or 'none'}")
    issued = await oauth.issue_token(app, await _user_id(registry, user), frozenset(scopes), 3600)
    return issued.token


async def test_oauth_token_scopes_cap_registry_actions(registry: Berth, alice: Client) -> None:
    await alice.push_image("alice/app", "v1")
    scope = "repository:alice/app:pull,push,*"
    for scopes, expected in (
        ({"repo:read"}, {"pull"}),
        ({"repo:write"}, {"pull", "push"}),
        ({"repo:admin"}, {"pull", "push", "*"}),
        ({"user:read"}, set()),
    ):
        token = await _oauth_token(registry, "alice", scopes)
        client = registry.client("$oauthtoken", password=token)
        resp = await client.token(scope)
        assert resp.status_code == 200, resp.text
        assert token_access(resp.json()["token"]).get("alice/app", set()) == expected, scopes


async def test_repo_create_scope_is_needed_to_create_by_push(registry: Berth) -> None:
    write_only = registry.client(
        "$oauthtoken", password=await _oauth_token(registry, "alice", {"repo:write"})
    )
    resp = await write_only.token("repository:alice/fresh:pull,push")
    assert token_access(resp.json()["token"]).get("alice/fresh", set()) == {"pull"}
    creator = registry.client(
        "$oauthtoken",
        password=await _oauth_token(registry, "alice", {"repo:write", "repo:create"}),
    )
    resp = await creator.token("repository:alice/fresh:pull,push")
    assert token_access(resp.json()["token"])["alice/fresh"] == {"pull", "push"}


async def test_bad_oauth_token_is_unauthorized(registry: Berth) -> None:
    client = registry.client("$oauthtoken", password="x" * 40)
    resp = await client.token("repository:alice/app:pull")
    assert resp.status_code == 401
    assert resp.json()["errors"][0]["code"] == "UNAUTHORIZED"


async def test_app_specific_token_logs_in_with_the_users_roles(registry: Berth) -> None:
    oauth = OAuthService(registry.services.db, registry.services.auth.fernet)
    made = await oauth.create_app_token(await _user_id(registry, "alice"), "laptop")
    assert made.token_code
    client = registry.client("$app", password=made.token_code)
    pushed = await client.push_image("alice/viaapp", "v1")
    got = await registry.client("alice").get("/v2/alice/viaapp/manifests/v1")
    assert got.headers["docker-content-digest"] == pushed.digest
    last = "1" if made.token_code.endswith("0") else "0"
    wrong = registry.client("$app", password=made.token_code[:-1] + last)
    assert (await wrong.token("repository:alice/viaapp:pull")).status_code == 401
