"""Teams: roles, robots join at once, users are invited unless already in the org."""

from __future__ import annotations

import pytest

from berth.audit.services import list_logs
from berth.identity.errors import (
    AlreadyMember,
    InvalidInviteCode,
    InvalidTeamMember,
    InvalidTeamName,
    InvalidTeamRole,
    LastAdminTeam,
    TeamNotFound,
)
from tests.unit.identity.conftest import Identity


@pytest.fixture
async def acme(identity: Identity) -> Identity:
    for name in ("alice", "bob", "carol"):
        await identity.user(name, email=f"{name}@x.test")
    await identity.orgs.create("acme", creator="alice")
    return identity


async def test_create_update_delete(acme: Identity) -> None:
    team, created = await acme.teams.create_or_update(
        "acme", "builders", role="creator", description="CI", performer="alice"
    )
    assert created
    assert (team.role, team.description) == ("creator", "CI")
    team, created = await acme.teams.create_or_update(
        "acme", "builders", role="member", performer="alice"
    )
    assert not created
    assert (team.role, team.description) == ("member", "CI")
    await acme.teams.delete("acme", "builders", performer="alice")
    with pytest.raises(TeamNotFound):
        await acme.teams.get("acme", "builders")
    async with acme.db.read() as s:
        kinds = [log.kind for log in reversed(await list_logs(s, namespace="acme"))]
    assert kinds == ["org_create", "org_create_team", "org_set_team_role", "org_delete_team"]


async def test_name_and_role_rules(acme: Identity) -> None:
    with pytest.raises(InvalidTeamName):
        await acme.teams.create_or_update("acme", "Bad Name", role="member")
    with pytest.raises(InvalidTeamRole):
        await acme.teams.create_or_update("acme", "good", role="owner")


async def test_robot_joins_at_once_user_is_invited(acme: Identity) -> None:
    await acme.teams.create_or_update("acme", "builders", role="creator")
    await acme.robots.create("acme", "ci")
    robot = await acme.teams.add_member("acme", "builders", "acme+ci", performer="alice")
    assert (robot.name, robot.is_robot, robot.invited) == ("acme+ci", True, False)
    bob = await acme.teams.add_member("acme", "builders", "bob", performer="alice")
    assert bob.invited
    assert bob.code
    members = await acme.teams.members("acme", "builders")
    assert [m.name for m in members] == ["acme+ci"]
    pending = await acme.teams.members("acme", "builders", include_pending=True)
    assert [(m.name, m.invited) for m in pending] == [("acme+ci", False), ("bob", True)]
    invites = await acme.teams.invites_for("bob")
    assert [(i.org, i.team, i.inviter) for i in invites] == [("acme", "builders", "alice")]
    with pytest.raises(InvalidInviteCode):
        await acme.teams.accept_invite(bob.code, "carol")  # not carol's invite
    await acme.teams.accept_invite(bob.code, "bob")
    members = await acme.teams.members("acme", "builders", include_pending=True)
    assert [(m.name, m.invited) for m in members] == [("acme+ci", False), ("bob", False)]
    # bob is now in the org: a second team takes him directly.
    await acme.teams.create_or_update("acme", "readers", role="member")
    again = await acme.teams.add_member("acme", "readers", "bob")
    assert not again.invited
    with pytest.raises(AlreadyMember):
        await acme.teams.add_member("acme", "readers", "bob")
    async with acme.db.read() as s:
        kinds = {log.kind for log in await list_logs(s, namespace="acme")}
    assert {
        "org_add_team_member",
        "org_invite_team_member",
        "org_team_member_invite_accepted",
    } <= kinds


async def test_decline_and_cancel(acme: Identity) -> None:
    await acme.teams.create_or_update("acme", "t1", role="member")
    invite = await acme.teams.add_member("acme", "t1", "bob")
    await acme.teams.decline_invite(invite.code or "", "bob")
    assert await acme.teams.invites_for("bob") == []
    await acme.teams.add_member("acme", "t1", "carol")
    await acme.teams.remove_member("acme", "t1", "carol")  # cancels the invite
    assert await acme.teams.members("acme", "t1", include_pending=True) == []
    email = await acme.teams.invite_email("acme", "t1", "bob@x.test")
    assert [i.team for i in await acme.teams.invites_for("bob")] == ["t1"]
    await acme.teams.accept_invite(email.code or "", "bob")
    assert [m.name for m in await acme.teams.members("acme", "t1")] == ["bob"]


async def test_foreign_robot_and_unknown_user(acme: Identity) -> None:
    await acme.orgs.create("other", creator="alice")
    await acme.robots.create("other", "bot")
    with pytest.raises(InvalidTeamMember):
        await acme.teams.add_member("acme", "owners", "other+bot")
    with pytest.raises(InvalidTeamMember) as e:
        await acme.teams.add_member("acme", "owners", "nobody")
    assert e.value.message == "Unknown user"


async def test_last_admin_team_cannot_go(acme: Identity) -> None:
    with pytest.raises(LastAdminTeam):
        await acme.teams.delete("acme", "owners", performer="alice")
    with pytest.raises(LastAdminTeam):
        await acme.teams.create_or_update("acme", "owners", role="member", performer="alice")
    await acme.teams.create_or_update("acme", "admins2", role="admin")
    await acme.teams.add_member("acme", "admins2", "alice")
    await acme.teams.create_or_update("acme", "owners", role="member", performer="alice")


async def test_team_repository_permissions(acme: Identity) -> None:
    from berth.registry.repositories import RepoName, create_repository

    await acme.teams.create_or_update("acme", "devs", role="member")
    async with acme.db.write() as s:
        await create_repository(s, RepoName("acme", "app"))
        await create_repository(s, RepoName("acme", "lib"), is_public=True)
    await acme.permissions.set_team_permission(RepoName("acme", "lib"), "devs", "read")
    await acme.permissions.set_team_permission(RepoName("acme", "app"), "devs", "write")
    assert await acme.teams.repository_permissions("acme", "devs") == [
        ("app", False, "write"),
        ("lib", True, "read"),
    ]
