"""Identity job kinds: ``delete_namespace`` removes a deleted namespace's rows (its name was
freed at once); ``sync_teams`` makes synced teams' members their directory group's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import delete, select

from berth.db.session import Database
from berth.identity.models import RobotAccount, User
from berth.jobs import JobKind, Lane
from berth.namespaces.models import Namespace
from berth.registry.models import Manifest, Repository, Tag


@dataclass(frozen=True)
class DeleteNamespace:
    namespace_id: int


DELETE_NAMESPACE = JobKind("delete_namespace", DeleteNamespace, lane=Lane.LONG)


async def delete_namespace(payload: DeleteNamespace, db: Database) -> None:
    """Remove the namespace's repositories (their rows; blobs are left to garbage
    collection), robots, teams and the namespace itself. Idempotent."""
    async with db.write() as s:
        ns = (
            await s.execute(select(Namespace).where(Namespace.id == payload.namespace_id))
        ).scalar_one_or_none()
        if ns is None:
            return
        if ns.enabled:  # re-enabled (not deleted): nothing to do
            return
        robot_ids = select(RobotAccount.user_id).where(RobotAccount.namespace_id == ns.id)
        await s.execute(delete(User).where(User.id.in_(robot_ids)))
        repo_ids = select(Repository.id).where(Repository.namespace_id == ns.id)
        # Tags point at manifests without cascading; remove them first, then manifests.
        await s.execute(delete(Tag).where(Tag.repository_id.in_(repo_ids)))
        await s.execute(delete(Manifest).where(Manifest.repository_id.in_(repo_ids)))
        await s.execute(delete(Repository).where(Repository.namespace_id == ns.id))
        await s.execute(delete(Namespace).where(Namespace.id == ns.id))


@dataclass(frozen=True)
class SyncTeams:
    """One team (``team_id``) or, with None, every synced team."""

    team_id: int | None = None


SYNC_TEAMS = JobKind("sync_teams", SyncTeams, lane=Lane.LONG)


class TeamSyncer(Protocol):  # berth.identity.teamsync.TeamSyncService
    async def sync_team(self, team_id: int) -> tuple[list[str], list[str]]: ...
    async def sync_all(self) -> None: ...


async def sync_teams(payload: SyncTeams, teamsync: TeamSyncer) -> None:
    """One team, or all of them (idempotent: the group's users become the members)."""
    if payload.team_id is None:
        await teamsync.sync_all()
    else:
        await teamsync.sync_team(payload.team_id)
