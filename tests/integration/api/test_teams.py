"""Teams over /api/v1: create-or-update (200 also on create), the last-admin-team rule,
members (robots join at once, others are invited), e-mail invites, accepting and declining,
the team's repository permissions (quay-api.md section 3; checklist 4, 22, 23; scenario 3)."""

from __future__ import annotations

from sqlalchemy import text

from berth.registry.repositories import RepoName
from tests.integration.api.test_framework import NOT_FOUND_BODY, assert_problem
from tests.integration.api.test_organizations import (
    ADMIN_ONLY,
    NO_ORG_ADMIN,
    add_repo,
    anonymous_write_refused,
    auth,
    create_org,
    join_team,
    snapshot,
    usage_logs,
)
from tests.integration.conftest import Berth
from tests.integration.identity_scenario import add_users

LAB = "/api/v1/organization/lab"
TEAM = LAB + "/team"


async def _invite_code(registry: Berth, user: str) -> str:
    """The code of the user's pending invite (Quay mails it; tests read it here)."""
    invites = await registry.services.teams.invites_for(user)
    assert len(invites) == 1, invites
    return invites[0].code


# ------------------------------------------------------------------------- create / update


async def test_put_creates_then_updates_with_200(registry: Berth) -> None:
    await create_org(registry, "lab")
    h = await auth(registry, "alice", ADMIN_ONLY)
    r = await registry.http.put(
        TEAM + "/creators", headers=h, json={"role": "creator", "description": "None"}
    )
    assert r.status_code == 200
    body = r.json()
    assert body == {
        "name": "creators",
        "description": "None",
        "can_view": True,
        "role": "creator",
        "avatar": body["avatar"],
        "new_team": True,
    }
    assert body["avatar"]["kind"] == "team"
    r = await registry.http.put(
        TEAM + "/creators", headers=h, json={"name": "creators", "role": "member"}
    )  # Ansible sends ``name`` too
    assert r.status_code == 200
    assert (r.json()["role"], r.json()["description"], r.json()["new_team"]) == (
        "member",
        "None",
        False,
    )
    r = await registry.http.put(
        TEAM + "/creators", headers=h, json={"role": "member", "description": "CI"}
    )
    org = (await registry.http.get(LAB, headers=h)).json()
    assert org["ordered_teams"] == ["owners", "creators"]
    assert (org["teams"]["creators"]["role"], org["teams"]["creators"]["description"]) == (
        "member",
        "CI",
    )
    kinds = [k for k, _ in await usage_logs(registry, "lab")]
    assert kinds == [
        "org_create",
        "org_create_team",
        "org_set_team_role",
        "org_set_team_description",
    ]


async def test_put_refusals_change_nothing(registry: Berth) -> None:
    await create_org(registry, "lab")
    h = await auth(registry, "alice")
    bob = await auth(registry, "bob")
    weak = await auth(registry, "alice", NO_ORG_ADMIN)
    before = await snapshot(registry)
    r = await registry.http.put(TEAM + "/devs", headers=h, json={"role": "owner"})
    assert r.status_code == 400
    assert r.json()["error_type"] == "invalid_request"
    r = await registry.http.put(TEAM + "/devs", headers=h, json={"description": "x"})
    assert r.status_code == 400  # role is required
    r = await registry.http.put(TEAM + "/x", headers=h, json={"role": "member"})
    assert r.status_code == 400
    assert r.json() == {
        "message": "Invalid team name x: Namespace must be between 2 and 255 characters in length"
    }
    r = await registry.http.put(TEAM + "/Bad.", headers=h, json={"role": "member"})
    assert r.json() == {
        "message": "Invalid team name Bad.: Namespace must match expression "
        "^([a-z0-9]+(?:[._-][a-z0-9]+)*)$"
    }
    for headers in (bob, weak):
        r = await registry.http.put(TEAM + "/devs", headers=headers, json={"role": "member"})
        assert_problem(r, 403, "insufficient_scope", "Unauthorized")
    r = await registry.http.put(
        "/api/v1/organization/nothere/team/devs", headers=h, json={"role": "member"}
    )
    assert_problem(r, 403, "insufficient_scope", "Unauthorized")
    await anonymous_write_refused(registry, "PUT", TEAM + "/devs", json={"role": "member"})
    assert await snapshot(registry) == before


# -------------------------------------------------------------------------------- delete


async def test_last_admin_team_rule(registry: Berth) -> None:
    """Ansible demotes a team before deleting it; both fail on the caller's only admin team."""
    await create_org(registry, "lab")
    h = await auth(registry, "alice")
    before = await snapshot(registry)
    r = await registry.http.delete(TEAM + "/owners", headers=h)
    assert r.status_code == 400
    assert r.json() == {
        "message": "Deleting team 'owners' would remove admin ability for user 'alice' "
        "in organization 'lab'"
    }
    r = await registry.http.put(TEAM + "/owners", headers=h, json={"role": "member"})
    assert r.status_code == 400
    assert r.json() == {
        "message": "Cannot remove admin from team 'owners' because calling user would no "
        "longer have admin on org 'lab'"
    }
    r = await registry.http.delete(TEAM + "/nothere", headers=h)
    assert r.status_code == 400
    assert r.json() == {"message": "Team 'nothere' is not a team in org 'lab'"}
    r = await registry.http.delete(TEAM + "/owners", headers=await auth(registry, "bob"))
    assert_problem(r, 403, "insufficient_scope", "Unauthorized")
    await anonymous_write_refused(registry, "DELETE", TEAM + "/owners")
    assert await snapshot(registry) == before

    assert (await registry.http.put(TEAM + "/admins", headers=h, json={"role": "admin"})).is_success
    await join_team(registry, "lab", "admins", "alice")
    r = await registry.http.put(TEAM + "/owners", headers=h, json={"role": "member"})
    assert r.status_code == 200
    assert (await registry.http.delete(TEAM + "/owners", headers=h)).status_code == 204
    assert (await registry.http.get(LAB, headers=h)).json()["ordered_teams"] == ["admins"]
    assert ("org_delete_team", "alice") in await usage_logs(registry, "lab")


# ------------------------------------------------------------------------------- members


async def test_robots_join_users_are_invited(registry: Berth) -> None:
    """Checklist 22: no body; a robot of the org joins, a non-member is only invited."""
    await create_org(registry, "lab")
    await registry.services.robots.create("lab", "ci")
    h = await auth(registry, "alice", ADMIN_ONLY)
    assert (await registry.http.put(TEAM + "/devs", headers=h, json={"role": "member"})).is_success
    r = await registry.http.put(TEAM + "/devs/members/lab+ci", headers=h)
    assert r.status_code == 200
    assert r.json() == {
        "name": "lab+ci",
        "kind": "user",
        "is_robot": True,
        "avatar": r.json()["avatar"],
        "invited": False,
    }
    assert r.json()["avatar"]["kind"] == "robot"
    r = await registry.http.put(TEAM + "/devs/members/bob", headers=h)
    assert r.status_code == 200
    assert (r.json()["name"], r.json()["is_robot"], r.json()["invited"]) == ("bob", False, True)

    r = await registry.http.get(TEAM + "/devs/members", headers=h)
    assert r.json()["name"] == "devs"
    assert r.json()["can_edit"] is True
    assert [(m["name"], m["invited"]) for m in r.json()["members"]] == [("lab+ci", False)]
    for flag in ("True", "true", "1"):
        r = await registry.http.get(TEAM + f"/devs/members?includePending={flag}", headers=h)
        assert [(m["name"], m["invited"]) for m in r.json()["members"]] == [
            ("lab+ci", False),
            ("bob", True),
        ]
    r = await registry.http.get(TEAM + "/devs/members?includePending=False", headers=h)
    assert len(r.json()["members"]) == 1

    bob = await auth(registry, "bob")
    code = await _invite_code(registry, "bob")
    r = await registry.http.put(f"/api/v1/teaminvite/{code}", headers=bob)
    assert r.status_code == 200
    assert r.json() == {"org": "lab", "team": "devs"}
    r = await registry.http.get(TEAM + "/devs/members", headers=bob)  # bob may look now
    assert [(m["name"], m["invited"]) for m in r.json()["members"]] == [
        ("bob", False),
        ("lab+ci", False),
    ]
    assert r.json()["can_edit"] is False
    # bob is an org member now: another team takes him at once
    await registry.http.put(TEAM + "/readers", headers=h, json={"role": "member"})
    r = await registry.http.put(TEAM + "/readers/members/bob", headers=h)
    assert r.json()["invited"] is False
    kinds = {k for k, _ in await usage_logs(registry, "lab")}
    assert {
        "org_add_team_member",
        "org_invite_team_member",
        "org_team_member_invite_accepted",
    } <= kinds


async def test_without_mailing_users_join_directly(configured) -> None:  # type: ignore[no-untyped-def]
    """Scenario 3 (quaytool/RDO): team ``creators``, robot added, ``invited: false``."""
    async with configured(FEATURE_MAILING=False) as b:
        h = await auth(b, "alice")
        r = await b.http.post("/api/v1/organization/", headers=h, json={"name": "proj"})
        assert r.status_code == 201
        await b.services.robots.create("proj", "cirobot")
        team = "/api/v1/organization/proj/team/creators"
        r = await b.http.put(team, headers=h, json={"role": "creator", "description": "None"})
        assert r.status_code == 200
        r = await b.http.put(team + "/members/proj+cirobot", headers=h)
        assert (r.status_code, r.json()["invited"]) == (200, False)
        r = await b.http.put(team + "/members/bob", headers=h)
        assert (r.status_code, r.json()["invited"]) == (200, False)
        r = await b.http.get(team + "/members", headers=h)
        assert [m["name"] for m in r.json()["members"]] == ["bob", "proj+cirobot"]
        for url in (team + "/invite/x@y.test", "/api/v1/teaminvite/abc"):
            r = await b.http.put(url, headers=h)
            assert r.status_code == 404  # behind FEATURE_MAILING
            assert r.json() == NOT_FOUND_BODY


async def test_add_member_refusals_change_nothing(registry: Berth) -> None:
    await create_org(registry, "lab")
    await create_org(registry, "other", owner="bob")
    await registry.services.robots.create("other", "bot")
    h = await auth(registry, "alice")
    bob = await auth(registry, "bob")
    before = await snapshot(registry)
    r = await registry.http.put(TEAM + "/owners/members/nobody", headers=h)
    assert_problem(r, 400, "invalid_request", "Unknown user")
    r = await registry.http.put(TEAM + "/owners/members/other+bot", headers=h)
    assert r.status_code == 400
    assert r.json() == {
        "message": "Cannot add the specified robot to this team, as it is not a member of "
        "the organization"
    }
    r = await registry.http.put(TEAM + "/owners/members/alice", headers=h)
    assert r.status_code == 400
    assert r.json() == {"message": "User alice is already a member of team owners"}
    r = await registry.http.put(TEAM + "/nothere/members/bob", headers=h)
    assert_problem(r, 404, "not_found", "Not Found")
    r = await registry.http.put(TEAM + "/owners/members/bob", headers=bob)
    assert_problem(r, 403, "insufficient_scope", "Unauthorized")
    await anonymous_write_refused(registry, "PUT", TEAM + "/owners/members/bob")
    assert await snapshot(registry) == before


async def test_remove_member_and_cancel_invite(registry: Berth) -> None:
    await create_org(registry, "lab")
    h = await auth(registry, "alice")
    await registry.http.put(TEAM + "/devs", headers=h, json={"role": "member"})
    await registry.http.put(TEAM + "/devs/members/bob", headers=h)  # invited
    assert (await registry.http.delete(TEAM + "/devs/members/bob", headers=h)).status_code == 204
    assert await registry.services.teams.invites_for("bob") == []
    before = await snapshot(registry)
    r = await registry.http.delete(TEAM + "/devs/members/bob", headers=h)
    assert r.status_code == 400
    assert r.json() == {"message": "User bob does not belong to team devs"}
    r = await registry.http.delete(TEAM + "/devs/members/nobody", headers=h)
    assert_problem(r, 404, "not_found", "Not Found")
    r = await registry.http.delete(TEAM + "/owners/members/alice", headers=h)
    assert r.status_code == 400
    assert r.json() == {"message": "User cannot remove themselves from their only admin team."}
    await anonymous_write_refused(registry, "DELETE", TEAM + "/owners/members/alice")
    assert await snapshot(registry) == before
    await join_team(registry, "lab", "devs", "bob")
    assert (await registry.http.delete(TEAM + "/devs/members/bob", headers=h)).status_code == 204
    r = await registry.http.get(TEAM + "/devs/members", headers=h)
    assert r.json()["members"] == []
    kinds = [k for k, _ in await usage_logs(registry, "lab")]
    assert "org_delete_team_member_invite" in kinds
    assert kinds[-1] == "org_remove_team_member"


async def test_members_visible_to_team_members_and_admins(registry: Berth) -> None:
    await create_org(registry, "lab")
    await registry.services.teams.create_or_update("lab", "devs", role="member")
    await join_team(registry, "lab", "devs", "bob")
    bob = await auth(registry, "bob")
    assert (await registry.http.get(TEAM + "/devs/members", headers=bob)).status_code == 200
    r = await registry.http.get(TEAM + "/owners/members", headers=bob)
    assert_problem(r, 403, "insufficient_scope", "Unauthorized")
    no_team_role = await auth(registry, "bob", "user:admin")
    r = await registry.http.get(TEAM + "/devs/members", headers=no_team_role)
    assert_problem(r, 403, "insufficient_scope", "Unauthorized")  # no team role in scope
    r = await registry.http.get(TEAM + "/devs/members")
    assert_problem(r, 401, "invalid_token", "Requires authentication")
    r = await registry.http.get(TEAM + "/nothere/members", headers=await auth(registry, "alice"))
    assert_problem(r, 404, "not_found", "Not Found")


# ------------------------------------------------------------------------- e-mail invites


async def test_email_invites(registry: Berth) -> None:
    await create_org(registry, "lab")
    h = await auth(registry, "alice")
    r = await registry.http.put(TEAM + "/owners/invite/dev@x.test", headers=h)
    assert r.status_code == 200
    assert r.json() == {
        "email": "dev@x.test",
        "kind": "invite",
        "avatar": r.json()["avatar"],
        "invited": True,
    }
    r = await registry.http.get(TEAM + "/owners/members?includePending=true", headers=h)
    assert [m.get("email") for m in r.json()["members"]] == [None, "dev@x.test"]
    # the invitee signs up with that address and accepts
    await add_users(registry, "dev")
    async with registry.services.db.write() as s:
        await s.execute(text("UPDATE users SET email = 'dev@x.test' WHERE username = 'dev'"))
    code = await _invite_code(registry, "dev")
    r = await registry.http.put(f"/api/v1/teaminvite/{code}", headers=await auth(registry, "dev"))
    assert r.json() == {"org": "lab", "team": "owners"}
    r = await registry.http.get(TEAM + "/owners/members", headers=h)
    assert [m["name"] for m in r.json()["members"]] == ["alice", "dev"]

    await registry.http.put(TEAM + "/owners/invite/ops@x.test", headers=h)
    r = await registry.http.delete(TEAM + "/owners/invite/ops@x.test", headers=h)
    assert r.status_code == 204
    before = await snapshot(registry)
    r = await registry.http.delete(TEAM + "/owners/invite/ops@x.test", headers=h)
    assert_problem(r, 404, "not_found", "Not Found")
    r = await registry.http.put(
        TEAM + "/owners/invite/x@x.test", headers=await auth(registry, "bob")
    )
    assert_problem(r, 403, "insufficient_scope", "Unauthorized")
    assert await snapshot(registry) == before
    kinds = [k for k, _ in await usage_logs(registry, "lab")]
    assert kinds.count("org_invite_team_member") == 2
    assert kinds[-1] == "org_delete_team_member_invite"


async def test_accept_and_decline_invites(registry: Berth) -> None:
    await add_users(registry, "carol")
    await create_org(registry, "lab")
    h = await auth(registry, "alice")
    for team in ("devs", "qa"):
        await registry.http.put(f"{TEAM}/{team}", headers=h, json={"role": "member"})
    await registry.http.put(TEAM + "/devs/members/bob", headers=h)
    await registry.http.put(TEAM + "/devs/members/carol", headers=h)
    code = await _invite_code(registry, "bob")
    carol = await auth(registry, "carol")
    before = await snapshot(registry)
    r = await registry.http.put(f"/api/v1/teaminvite/{code}", headers=carol)
    assert r.status_code == 400
    assert r.json() == {
        "message": 'This invite is intended for user "bob". Please login to that account '
        "and try again."
    }
    r = await registry.http.delete(f"/api/v1/teaminvite/{code}", headers=carol)
    assert r.json() == {"message": "Invalid confirmation code."}
    r = await registry.http.put("/api/v1/teaminvite/nope", headers=carol)
    assert (r.status_code, r.json()) == (400, {"message": "Invalid confirmation code."})
    r = await registry.http.put(
        f"/api/v1/teaminvite/{code}", headers=await auth(registry, "bob", "org:admin")
    )
    assert_problem(r, 403, "insufficient_scope", "Unauthorized")  # needs user:admin
    await anonymous_write_refused(registry, "PUT", f"/api/v1/teaminvite/{code}")
    assert await snapshot(registry) == before

    r = await registry.http.delete(
        f"/api/v1/teaminvite/{code}", headers=await auth(registry, "bob")
    )
    assert r.status_code == 204
    assert await registry.services.teams.invites_for("bob") == []
    # accepting one invite accepts every invite of that organization
    await registry.http.put(TEAM + "/qa/members/carol", headers=h)
    code = (await registry.services.teams.invites_for("carol"))[0].code
    assert (await registry.http.put(f"/api/v1/teaminvite/{code}", headers=carol)).status_code == 200
    org = (await registry.http.get(LAB, headers=carol)).json()
    assert org["is_member"] is True
    assert (org["teams"]["devs"]["member_count"], org["teams"]["qa"]["member_count"]) == (1, 1)
    logs = await usage_logs(registry, "lab")
    assert ("org_team_member_invite_declined", "bob") in logs
    assert ("org_team_member_invite_accepted", "carol") in logs


# ----------------------------------------------------------------------- team permissions


async def test_team_repository_permissions(registry: Berth) -> None:
    await create_org(registry, "lab")
    svc = registry.services
    await svc.teams.create_or_update("lab", "devs", role="member")
    await join_team(registry, "lab", "devs", "bob")
    await add_repo(registry, "lab", "app")
    await add_repo(registry, "lab", "pub", public=True)
    await svc.permissions.set_team_permission(RepoName("lab", "app"), "devs", "write")
    await svc.permissions.set_team_permission(RepoName("lab", "pub"), "devs", "read")
    h = await auth(registry, "alice", ADMIN_ONLY)
    r = await registry.http.get(TEAM + "/devs/permissions", headers=h)
    assert r.json() == {
        "permissions": [
            {"repository": {"name": "app", "is_public": False}, "role": "write"},
            {"repository": {"name": "pub", "is_public": True}, "role": "read"},
        ]
    }
    r = await registry.http.get(TEAM + "/owners/permissions", headers=h)
    assert r.json() == {"permissions": []}
    r = await registry.http.get(TEAM + "/nothere/permissions", headers=h)
    assert_problem(r, 404, "not_found", "Not Found")
    r = await registry.http.get(TEAM + "/devs/permissions", headers=await auth(registry, "bob"))
    assert_problem(r, 403, "insufficient_scope", "Unauthorized")
    r = await registry.http.get(TEAM + "/devs/permissions")
    assert_problem(r, 401, "invalid_token", "Requires authentication")
