"""``GET /entities/{prefix}``: how Ansible checks that a user exists (checklist 36), and
the robots, teams and organization a namespace's members may look up."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from tests.integration.api.test_organizations import auth, create_org, join_team
from tests.integration.conftest import Berth
from tests.integration.identity_scenario import add_users

ENTITIES = "/api/v1/entities/"


async def lookup(
    registry: Berth, prefix: str, headers: dict[str, str] | None = None, **query: str
) -> list[dict[str, Any]]:
    r = await registry.http.get(ENTITIES + prefix, params=query, headers=headers or {})
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"results"}
    return r.json()["results"]  # type: ignore[no-any-return]


def names(results: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["name"], e["kind"]) for e in results]


async def test_exact_user_first_then_prefix_matches(registry: Berth, configured) -> None:  # type: ignore[no-untyped-def]
    await add_users(registry, "alice2", "alicorn", "al")
    # Ansible's get_account: exact name with Python-style booleans
    found = await lookup(registry, "alice", includeOrgs="False", includeTeams="False")
    assert names(found) == [("alice", "user"), ("alice2", "user")]
    assert found[0] == {
        "name": "alice",
        "kind": "user",
        "is_robot": False,
        "avatar": found[0]["avatar"],
    }
    assert found[0]["avatar"]["kind"] == "user"
    assert names(await lookup(registry, "al"))[0] == ("al", "user")
    assert [n for n, _ in names(await lookup(registry, "al"))] == [
        "al",
        "alice",
        "alice2",
        "alicorn",
    ]
    assert await lookup(registry, "nobody") == []
    assert names(await lookup(registry, "ALICE ")) == [("alice", "user"), ("alice2", "user")]
    async with configured(FEATURE_PARTIAL_USER_AUTOCOMPLETE=False) as b:
        assert names(await lookup(b, "alice")) == [("alice", "user")]
        assert await lookup(b, "ali") == []


async def test_disabled_users_organizations_and_robots_are_not_users(registry: Berth) -> None:
    await create_org(registry, "lab")
    await registry.services.robots.create("lab", "ci")
    async with registry.services.db.write() as s:
        await s.execute(text("UPDATE users SET enabled = false WHERE username = 'bob'"))
    assert await lookup(registry, "bob") == []
    assert await lookup(registry, "lab") == []  # the organization is no user
    assert await lookup(registry, "lab+ci") == []  # robots only through a namespace


async def test_namespace_members_see_its_robots_teams_and_the_org(registry: Berth) -> None:
    await add_users(registry, "carol")
    await create_org(registry, "lab")
    svc = registry.services
    await svc.robots.create("lab", "ci")
    await svc.teams.create_or_update("lab", "ci-team", role="member")
    await svc.teams.create_or_update("lab", "devs", role="member")
    await join_team(registry, "lab", "devs", "carol")
    alice = await auth(registry, "alice")
    found = await lookup(
        registry, "ci", alice, namespace="lab", includeTeams="true", includeOrgs="true"
    )
    assert names(found) == [("ci-team", "team"), ("lab+ci", "user")]
    assert found[0] == {
        "name": "ci-team",
        "kind": "team",
        "is_org_member": True,
        "avatar": found[0]["avatar"],
    }
    assert (found[1]["is_robot"], found[1]["is_org_member"]) == (True, True)
    assert found[1]["avatar"]["kind"] == "robot"
    found = await lookup(registry, "la", alice, namespace="lab", includeOrgs="true")
    assert names(found) == [("lab", "org")]
    assert found[0]["is_org_member"] is True
    assert found[0]["avatar"]["kind"] == "org"
    assert await lookup(registry, "la", alice, namespace="lab") == []
    # users carry is_org_member when a namespace (an organization) is given
    found = await lookup(registry, "carol", alice, namespace="lab")
    assert (found[0]["name"], found[0]["is_org_member"]) == ("carol", True)
    found = await lookup(registry, "bob", alice, namespace="lab")
    assert (found[0]["name"], found[0]["is_org_member"]) == ("bob", False)
    # a member sees them too; an outsider or an anonymous caller does not
    carol = await auth(registry, "carol")
    found = await lookup(registry, "ci", carol, namespace="lab", includeTeams="true")
    assert names(found) == [("ci-team", "team"), ("lab+ci", "user")]
    bob = await auth(registry, "bob")
    for headers in (bob, None):
        found = await lookup(
            registry, "ci", headers, namespace="lab", includeTeams="true", includeOrgs="true"
        )
        assert found == []
    # a token without a team role in its scopes is no member
    found = await lookup(
        registry, "ci", await auth(registry, "alice", "user:read"), namespace="lab"
    )
    assert found == []


async def test_own_namespace_robots_need_user_admin(registry: Berth) -> None:
    await registry.services.robots.create("alice", "bot")
    found = await lookup(registry, "bot", await auth(registry, "alice"), namespace="alice")
    assert names(found) == [("alice+bot", "user")]
    assert "is_org_member" not in found[0]
    weak = await auth(registry, "alice", "org:admin")
    assert await lookup(registry, "bot", weak, namespace="alice") == []
    bob = await auth(registry, "bob")
    assert await lookup(registry, "bot", bob, namespace="alice") == []
