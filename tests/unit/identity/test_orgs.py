"""Organizations: Quay's name rules, the owners team, update rules, deletion as a job."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from berth.audit.services import list_logs
from berth.identity.errors import (
    EmailTaken,
    InvalidOrganizationName,
    InvalidTagExpiration,
    LastOrganizationAdmin,
    NameTaken,
    OrganizationNotFound,
)
from berth.identity.tasks import DeleteNamespace, delete_namespace
from berth.jobs.models import Job
from berth.namespaces.models import Namespace
from berth.registry.models import Repository
from berth.registry.repositories import RepoName, create_repository
from tests.unit.identity.conftest import Identity


async def test_create_puts_creator_in_owners_admin_team(identity: Identity) -> None:
    await identity.user("alice")
    org = await identity.orgs.create("acme", creator="alice", email="ops@acme.test")
    assert (org.name, org.email, org.tag_expiration_s) == ("acme", "ops@acme.test", 1209600)
    teams = await identity.teams.list("acme")
    assert [(t.name, t.role, t.member_count) for t in teams] == [("owners", "admin", 1)]
    members = await identity.teams.members("acme", "owners")
    assert [m.name for m in members] == ["alice"]
    async with identity.db.read() as s:
        logs = await list_logs(s, namespace="acme")
    assert [(log.kind, log.performer) for log in logs] == [("org_create", "alice")]


@pytest.mark.parametrize("name", ["A", "x", "-acme", "acme-", "ac..me", "Acme", "a" * 256, ""])
async def test_invalid_names_are_refused_before_anything_is_written(
    identity: Identity, name: str
) -> None:
    with pytest.raises(InvalidOrganizationName):
        await identity.orgs.create(name, creator=None)
    async with identity.db.read() as s:
        assert (await s.execute(select(func.count()).select_from(Namespace))).scalar() == 0


async def test_name_taken_by_user_or_org(identity: Identity) -> None:
    await identity.user("alice")
    with pytest.raises(NameTaken) as e:
        await identity.orgs.create("alice", creator="alice")
    assert e.value.message == "A user or organization with this name already exists"
    await identity.orgs.create("acme", creator="alice")
    with pytest.raises(NameTaken):
        await identity.orgs.create("acme", creator="alice")


async def test_email_in_use(identity: Identity) -> None:
    await identity.user("alice", email="alice@x.test")
    with pytest.raises(EmailTaken):
        await identity.orgs.create("acme", creator="alice", email="alice@x.test")


async def test_update_email_and_tag_expiration(identity: Identity) -> None:
    await identity.user("alice")
    await identity.orgs.create("acme", creator="alice")
    org = await identity.orgs.update("acme", tag_expiration_s=86400, performer="alice")
    assert org.tag_expiration_s == 86400
    with pytest.raises(InvalidTagExpiration) as e:
        await identity.orgs.update("acme", tag_expiration_s=12345)
    assert e.value.message == "Invalid tag expiration option"
    org = await identity.orgs.update("acme", email="new@acme.test", performer="alice")
    assert org.email == "new@acme.test"
    async with identity.db.read() as s:
        kinds = [log.kind for log in await list_logs(s, namespace="acme")]
    assert kinds[:2] == ["org_change_email", "org_change_tag_expiration"]


async def test_get_refuses_user_namespaces(identity: Identity) -> None:
    await identity.user("alice")
    with pytest.raises(OrganizationNotFound):
        await identity.orgs.get("alice")
    with pytest.raises(OrganizationNotFound):
        await identity.orgs.get("nothere")


async def test_delete_hides_at_once_and_the_job_removes_rows(identity: Identity) -> None:
    await identity.user("alice")
    await identity.orgs.create("acme", creator="alice")
    await identity.robots.create("acme", "ci")
    async with identity.db.write() as s:
        await create_repository(s, RepoName("acme", "app"))
    await identity.orgs.delete("acme", performer="alice")
    with pytest.raises(OrganizationNotFound):
        await identity.orgs.get("acme")
    # The name and the repository names are free again at once.
    await identity.orgs.create("acme", creator="alice")
    async with identity.db.write() as s:
        await create_repository(s, RepoName("acme", "app"))
    async with identity.db.read() as s:
        job = (await s.execute(select(Job).where(Job.kind == "delete_namespace"))).scalar_one()
        old_id = job.payload["namespace_id"]
    await delete_namespace(DeleteNamespace(namespace_id=old_id), identity.db)
    await delete_namespace(DeleteNamespace(namespace_id=old_id), identity.db)  # idempotent
    async with identity.db.read() as s:
        assert (
            await s.execute(select(Namespace.id).where(Namespace.id == old_id))
        ).scalar() is None
        names = (await s.execute(select(Repository.full_name))).scalars().all()
        assert names == ["acme/app"]
        kinds = [log.kind for log in await list_logs(s)]
    assert "org_delete" in kinds
    assert [r.name for r in await identity.robots.list("acme")] == []


async def test_membership_members_and_removal(identity: Identity) -> None:
    for name in ("alice", "bob", "carol"):
        await identity.user(name)
    await identity.orgs.create("acme", creator="alice")
    await identity.teams.create_or_update("acme", "builders", role="creator")
    await identity.teams.add_member("acme", "builders", "alice")
    await identity.robots.create("acme", "ci")
    await identity.teams.add_member("acme", "builders", "acme+ci")
    async with identity.db.write() as s:
        await create_repository(s, RepoName("acme", "app"))
    await identity.permissions.set_user_permission(RepoName("acme", "app"), "bob", "read")
    alice = await identity.orgs.membership("acme", "alice")
    assert (alice.is_admin, alice.is_member, alice.can_create_repo) == (True, True, True)
    assert alice.teams == ("builders", "owners")
    bob = await identity.orgs.membership("acme", "bob")
    assert (bob.is_admin, bob.is_member, bob.can_create_repo) == (False, False, False)
    assert (await identity.orgs.membership("acme", None)).is_member is False
    # Members are in a team (teams in creation order); bob, with only a direct permission,
    # is an outside collaborator.
    members = await identity.orgs.members("acme")
    assert [(m.name, m.teams, m.repositories) for m in members] == [
        ("alice", ("owners", "builders"), ()),
    ]
    collaborators = await identity.orgs.collaborators("acme")
    assert [(m.name, m.teams, m.repositories) for m in collaborators] == [("bob", (), ("app",))]
    with_robots = await identity.orgs.members("acme", include_robots=True)
    assert [m.name for m in with_robots] == ["acme+ci", "alice"]
    with pytest.raises(LastOrganizationAdmin):
        await identity.orgs.remove_member("acme", "alice")
    await identity.orgs.remove_member("acme", "bob")
    await identity.orgs.remove_member("acme", "acme+ci")
    assert [m.name for m in await identity.orgs.members("acme", include_robots=True)] == ["alice"]
    assert await identity.orgs.collaborators("acme") == []
    assert await identity.permissions.list_user_permissions(RepoName("acme", "app")) == []
