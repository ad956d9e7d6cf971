"""Repository permissions, prototypes, creation rules and the one-query role lookup."""

from __future__ import annotations

import pytest

from berth.audit.services import list_logs
from berth.authz import Principal
from berth.identity.errors import (
    InvalidDelegate,
    InvalidRole,
    OwnerMustBeAdmin,
    PermissionNotFound,
    PrototypeNotFound,
)
from berth.identity.permissions import access_facts, repository_created
from berth.registry.repositories import RepoName, create_repository
from tests.unit.identity.conftest import Identity

APP = RepoName("acme", "app")


@pytest.fixture
async def acme(identity: Identity) -> Identity:
    for name in ("alice", "bob", "carol"):
        await identity.user(name)
    await identity.orgs.create("acme", creator="alice")
    await identity.robots.create("acme", "ci")
    await identity.teams.create_or_update("acme", "devs", role="member")
    await identity.teams.create_or_update("acme", "builders", role="creator")
    await identity.teams.add_member("acme", "builders", "acme+ci")
    return identity


async def _create(identity: Identity, repo: RepoName, creator: str | None) -> None:
    async with identity.db.write() as s:
        row = await create_repository(s, repo)
        principal = (
            Principal(kind="robot" if creator and "+" in creator else "user", name=creator)
            if creator
            else None
        )
        await repository_created(s, row.id, principal)


async def _facts(identity: Identity, repo: RepoName, who: str):  # type: ignore[no-untyped-def]
    kind = "robot" if "+" in who else "user"
    async with identity.db.read() as s:
        return await access_facts(s, repo, Principal(kind=kind, name=who))


async def test_user_team_robot_permissions(acme: Identity) -> None:
    await _create(acme, APP, None)
    await acme.permissions.set_user_permission(APP, "bob", "read", performer="alice")
    await acme.permissions.set_user_permission(APP, "bob", "write", performer="alice")
    await acme.permissions.set_user_permission(APP, "acme+ci", "admin")
    await acme.permissions.set_team_permission(APP, "devs", "read")
    assert [
        (p.name, p.role, p.is_robot) for p in await acme.permissions.list_user_permissions(APP)
    ] == [
        ("acme+ci", "admin", True),
        ("bob", "write", False),
    ]
    assert [(t.name, t.role) for t in await acme.permissions.list_team_permissions(APP)] == [
        ("devs", "read")
    ]
    assert (await acme.permissions.get_user_permission(APP, "bob")).role == "write"
    assert (await acme.permissions.get_team_permission(APP, "devs")).role == "read"
    await acme.permissions.delete_user_permission(APP, "bob")
    with pytest.raises(PermissionNotFound):
        await acme.permissions.get_user_permission(APP, "bob")
    with pytest.raises(PermissionNotFound):
        await acme.permissions.delete_user_permission(APP, "bob")
    await acme.permissions.delete_team_permission(APP, "devs")
    with pytest.raises(PermissionNotFound):
        await acme.permissions.get_team_permission(APP, "devs")
    with pytest.raises(InvalidRole):
        await acme.permissions.set_user_permission(APP, "bob", "owner")
    with pytest.raises(InvalidDelegate) as e:
        await acme.permissions.set_user_permission(APP, "nobody", "read")
    assert e.value.message == "Invalid username: nobody"
    async with acme.db.read() as s:
        kinds = [log.kind for log in reversed(await list_logs(s, repository="app"))]
    # Quay logs every grant, new or changed, as change_repo_permission.
    assert kinds == [
        "create_repo",
        "change_repo_permission",
        "change_repo_permission",
        "change_repo_permission",
        "change_repo_permission",
        "delete_repo_permission",
        "delete_repo_permission",
    ]


async def test_owner_must_stay_admin_and_foreign_robots(acme: Identity) -> None:
    mine = RepoName("alice", "tool")
    await _create(acme, mine, "alice")
    for role in ("read", "admin"):  # Quay refuses any grant to the owner, admin included
        with pytest.raises(OwnerMustBeAdmin):
            await acme.permissions.set_user_permission(mine, "alice", role)
    with pytest.raises(OwnerMustBeAdmin):
        await acme.permissions.delete_user_permission(mine, "alice")
    with pytest.raises(InvalidDelegate):
        await acme.permissions.set_user_permission(mine, "acme+ci", "read")


async def test_role_lookup(acme: Identity) -> None:
    await _create(acme, APP, None)
    await acme.teams.add_member("acme", "devs", "alice")  # alice is a member: direct join
    await acme.teams.add_member("acme", "devs", "bob")  # bob is invited, not a member yet
    await acme.permissions.set_team_permission(APP, "devs", "write")
    alice = await _facts(acme, APP, "alice")
    assert (alice.exists, alice.org_role, alice.repo_role) == (True, "admin", "write")
    bob = await _facts(acme, APP, "bob")
    assert (bob.org_role, bob.repo_role) == (None, None)
    ci = await _facts(acme, APP, "acme+ci")
    assert (ci.org_role, ci.repo_role) == ("creator", None)
    await acme.permissions.set_user_permission(APP, "acme+ci", "read")
    assert (await _facts(acme, APP, "acme+ci")).repo_role == "read"
    missing = await _facts(acme, RepoName("acme", "nope"), "alice")
    assert (missing.exists, missing.namespace_exists, missing.org_role) == (False, True, "admin")
    nowhere = await _facts(acme, RepoName("nowhere", "x"), "alice")
    assert not nowhere.namespace_exists


async def test_creation_gives_creator_admin_and_applies_prototypes(acme: Identity) -> None:
    await acme.permissions.create_prototype(
        "acme", "write", delegate_user="acme+ci", performer="alice"
    )
    await acme.permissions.create_prototype("acme", "read", delegate_team="devs")
    await acme.permissions.create_prototype(
        "acme", "admin", delegate_user="carol", activating_user="bob"
    )
    protos = await acme.permissions.list_prototypes("acme")
    assert [
        (p.delegate.kind, p.delegate.name, p.role, p.activating_user and p.activating_user.name)
        for p in protos
    ] == [
        ("user", "acme+ci", "write", None),
        ("team", "devs", "read", None),
        ("user", "carol", "admin", "bob"),
    ]
    # The robot creates a repository: it is admin (its own write prototype is skipped).
    by_robot = RepoName("acme", "by-robot")
    await _create(acme, by_robot, "acme+ci")
    users = {p.name: p.role for p in await acme.permissions.list_user_permissions(by_robot)}
    assert users == {"acme+ci": "admin"}
    teams = {t.name: t.role for t in await acme.permissions.list_team_permissions(by_robot)}
    assert teams == {"devs": "read"}
    # bob creates one: carol's prototype is activated by bob.
    by_bob = RepoName("acme", "by-bob")
    await _create(acme, by_bob, "bob")
    users = {p.name: p.role for p in await acme.permissions.list_user_permissions(by_bob)}
    assert users == {"bob": "admin", "acme+ci": "write", "carol": "admin"}
    async with acme.db.read() as s:
        logs = [log for log in await list_logs(s, kind="create_repo")]
    assert {(log.repository, log.performer) for log in logs} == {
        ("by-robot", "acme+ci"),
        ("by-bob", "bob"),
    }


async def test_prototype_update_delete_and_errors(acme: Identity) -> None:
    proto = await acme.permissions.create_prototype("acme", "read", delegate_team="devs")
    updated = await acme.permissions.update_prototype("acme", proto.id, "admin")
    assert updated.role == "admin"
    await acme.permissions.delete_prototype("acme", proto.id)
    with pytest.raises(PrototypeNotFound):
        await acme.permissions.delete_prototype("acme", proto.id)
    with pytest.raises(InvalidDelegate) as e:
        await acme.permissions.create_prototype("acme", "read", delegate_team="ghosts")
    assert e.value.message == "Missing delegate user or team"
    with pytest.raises(InvalidDelegate) as e:
        await acme.permissions.create_prototype(
            "acme", "read", delegate_team="devs", activating_user="ghost"
        )
    assert e.value.message == "Unknown activating user"
    async with acme.db.read() as s:
        kinds = {log.kind for log in await list_logs(s, namespace="acme")}
    assert {
        "create_prototype_permission",
        "modify_prototype_permission",
        "delete_prototype_permission",
    } <= kinds


async def test_visibility(acme: Identity) -> None:
    await _create(acme, APP, None)
    await acme.permissions.set_visibility(APP, True, performer="alice")
    assert (await _facts(acme, APP, "bob")).is_public
    async with acme.db.read() as s:
        log = (await list_logs(s, kind="change_repo_visibility"))[0]
    assert log.metadata["visibility"] == "public"


async def test_prototype_for_the_activating_user_beats_the_general_one(acme: Identity) -> None:
    await acme.permissions.create_prototype(
        "acme", "admin", delegate_user="carol", activating_user="bob"
    )
    await acme.permissions.create_prototype("acme", "read", delegate_user="carol")
    await _create(acme, RepoName("acme", "by-bob"), "bob")
    await _create(acme, RepoName("acme", "by-alice"), "alice")
    by_bob = {
        p.name: p.role
        for p in await acme.permissions.list_user_permissions(RepoName("acme", "by-bob"))
    }
    by_alice = {
        p.name: p.role
        for p in await acme.permissions.list_user_permissions(RepoName("acme", "by-alice"))
    }
    assert by_bob == {"bob": "admin", "carol": "admin"}
    assert by_alice == {"alice": "admin", "carol": "read"}
