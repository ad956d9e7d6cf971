"""Team sync (FEATURE_TEAM_SYNCING): a team whose members follow a directory group.

A synced team is bound to an LDAP group (``{"group_dn": ...}``, relative to LDAP_BASE_DN as
in Quay, or a full DN under it), or, without a directory but with OpenID Connect login
services, to a group of the providers' group claim (``{"group_name": ...}``: members join or
leave at their sign-in, the only time Berth learns their groups). A directory-synced team's
human members are replaced by the group's users: by the ``sync_teams`` job (on a schedule,
TEAM_RESYNC_STALE_TIME, and once when syncing is set up) and, for one user, at each
directory sign-in. Robots stay: the group knows nothing of them.
Members missing from Berth are created as on their first sign-in. Manual membership changes
of a synced team are refused (Quay's "Cannot call this method on an auth-synced team").
Setting syncing up or off is not usage-logged (Quay has no log kind for it); each membership
change a sync makes is (``org_add_team_member`` / ``org_remove_team_member``, no performer,
``synced: true`` in the metadata).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from berth.audit.services import Performer, record
from berth.db.base import now_ms
from berth.db.session import Database
from berth.directory.errors import DirectoryError
from berth.directory.ldap import DirectoryUser, LdapDirectory
from berth.identity.errors import AccountError, TeamSyncError
from berth.identity.federated import FederatedAccounts
from berth.identity.models import Team, TeamInvite, TeamMember, TeamSync, User
from berth.identity.orgs import get_org
from berth.identity.tasks import SYNC_TEAMS, SyncTeams
from berth.identity.teams import get_team
from berth.jobs import enqueue
from berth.namespaces.models import Namespace

log = logging.getLogger(__name__)

SERVICE = "ldap"
OIDC_SERVICE = "oidc"


@dataclass(frozen=True)
class SyncInfo:
    service: str
    config: dict[str, Any]
    last_updated: int | None


class TeamSyncService:
    def __init__(
        self,
        db: Database,
        *,
        directory: LdapDirectory | None,
        accounts: FederatedAccounts,
        enabled: bool,
        oidc: bool = False,
    ) -> None:
        self.db = db
        self.directory = directory
        self.accounts = accounts
        self.enabled = enabled
        self.oidc = oidc  # OpenID Connect login services: teams may follow a group claim

    @property
    def service(self) -> str | None:
        """The federated service teams can sync with (Quay's ``federated_service``): the
        directory, else OpenID Connect (``group_name`` from the group claim at sign-in)."""
        if not self.enabled:
            return None
        if self.directory is not None:
            return SERVICE
        return OIDC_SERVICE if self.oidc else None

    def metadata(self) -> dict[str, Any]:
        """Quay's ``service_metadata``: what the team page shows next to the DN field."""
        if self.directory is None:
            return {}
        return {"base_dn": self.directory.settings.base_dn}

    def _group_dn(self, config: dict[str, Any]) -> str:
        assert self.directory is not None
        group = str(config.get("group_dn") or "").strip()
        base = self.directory.settings.base_dn
        if not base or group.lower().endswith(base.lower()):
            return group
        return f"{group},{base}"

    # ---- setting it up -----------------------------------------------------------------
    async def info(self, org: str, team_name: str) -> SyncInfo | None:
        async with self.db.read() as s:
            ns = await get_org(s, org)
            team = await get_team(s, ns.id, org, team_name)
            row = await s.get(TeamSync, team.id)
        if row is None:
            return None
        return SyncInfo(row.service, dict(row.config), row.last_updated)

    async def is_synced(self, org: str, team_name: str) -> bool:
        return self.service is not None and await self.info(org, team_name) is not None

    async def enable(
        self, org: str, team_name: str, config: dict[str, Any], performer: Performer
    ) -> None:
        """Bind the team to a group (TeamSyncError when the group can't be used) and queue
        its first sync."""
        service = self.service
        if service is None:
            raise TeamSyncError("Team syncing is not available")
        key = "group_dn" if service == SERVICE else "group_name"
        if not isinstance(config.get(key), str) or not config[key].strip():
            raise TeamSyncError(f"Could not sync to group: Missing {key}")
        if self.directory is not None:
            try:
                await self.directory.group_members(self._group_dn(config))
            except DirectoryError as e:
                raise TeamSyncError(f"Could not sync to group: {e}") from e
        config = {key: config[key].strip()}
        async with self.db.write() as s:
            ns = await get_org(s, org)
            team = await get_team(s, ns.id, org, team_name)
            row = await s.get(TeamSync, team.id)
            if row is None:
                s.add(TeamSync(team_id=team.id, service=service, config=config))
            else:
                row.service, row.config, row.last_updated = service, config, None
            if service == SERVICE:  # a group claim is only known at its members' sign-in
                await enqueue(s, SYNC_TEAMS, SyncTeams(team.id))

    async def disable(self, org: str, team_name: str, performer: Performer) -> None:
        async with self.db.write() as s:
            ns = await get_org(s, org)
            team = await get_team(s, ns.id, org, team_name)
            await s.execute(delete(TeamSync).where(TeamSync.team_id == team.id))

    # ---- syncing -----------------------------------------------------------------------
    async def _link(self, found: DirectoryUser) -> int | None:
        try:
            linked = await self.accounts.link(
                SERVICE, found.uid, found.uid.lower(), email=found.email, metadata={"dn": found.dn}
            )
        except AccountError as e:
            log.warning("team sync: directory user %r skipped: %s", found.uid, e)
            return None
        return linked.id

    async def sync_team(self, team_id: int) -> tuple[list[str], list[str]]:
        """Make the team's human members the group's users: (added, removed) names."""
        if self.directory is None:
            return [], []
        async with self.db.read() as s:
            row = await s.get(TeamSync, team_id)
            config = dict(row.config) if row is not None and row.service == SERVICE else None
        if config is None:
            return [], []
        found = await self.directory.group_members(self._group_dn(config))
        wanted = {uid for uid in [await self._link(u) for u in found] if uid is not None}
        async with self.db.write() as s:
            team = await s.get(Team, team_id)
            if team is None or await s.get(TeamSync, team_id) is None:
                return [], []
            added, removed = await self._apply(s, team, wanted, None)
            sync = await s.get(TeamSync, team_id)
            assert sync is not None
            sync.last_updated = now_ms()
        return added, removed

    async def sync_user(self, user_id: int, found: DirectoryUser) -> None:
        """At a directory sign-in: the user joins or leaves each synced team by the
        group's word (a directory failure leaves the teams as they are)."""
        if self.service is None or self.directory is None:
            return
        async with self.db.read() as s:
            syncs = (
                (await s.execute(select(TeamSync).where(TeamSync.service == SERVICE)))
                .scalars()
                .all()
            )
            configs = [(r.team_id, dict(r.config)) for r in syncs]
        for team_id, config in configs:
            try:
                members = await self.directory.group_members(self._group_dn(config))
            except DirectoryError as e:
                log.warning("team sync at sign-in: team %s not checked: %s", team_id, e)
                continue
            inside = any(m.dn.lower() == found.dn.lower() for m in members)
            async with self.db.write() as s:
                team = await s.get(Team, team_id)
                if team is None:
                    continue
                await self._apply(s, team, {user_id} if inside else set(), user_id)

    async def sync_groups(self, user_id: int, groups: list[str]) -> None:
        """At an OpenID Connect sign-in: the user joins the teams synced with a group it has
        (``group_name`` in its group claim) and leaves those synced with one it has not."""
        if not self.enabled:
            return
        async with self.db.read() as s:
            syncs = (
                (await s.execute(select(TeamSync).where(TeamSync.service == OIDC_SERVICE)))
                .scalars()
                .all()
            )
            configs = [(r.team_id, str(r.config.get("group_name", ""))) for r in syncs]
        for team_id, group in configs:
            async with self.db.write() as s:
                team = await s.get(Team, team_id)
                if team is None:
                    continue
                wanted = {user_id} if group in groups else set()
                await self._apply(s, team, wanted, user_id)
                sync = await s.get(TeamSync, team_id)
                if sync is not None:
                    sync.last_updated = now_ms()

    async def _apply(
        self, s: AsyncSession, team: Team, wanted: set[int], only: int | None
    ) -> tuple[list[str], list[str]]:
        """Add the ``wanted`` users missing from the team, remove human members not wanted
        (only user ``only`` when given); each change logged in the organization."""
        rows = (
            await s.execute(
                select(User.id, User.username)
                .join(TeamMember, TeamMember.user_id == User.id)
                .where(TeamMember.team_id == team.id, User.kind == "user")
            )
        ).all()
        current = {r.id: r.username for r in rows}
        org = await s.get_one(Namespace, team.namespace_id)
        added: list[str] = []
        removed: list[str] = []
        for uid in sorted(wanted - set(current)):
            user = await s.get(User, uid)
            if user is None:
                continue
            s.add(TeamMember(team_id=team.id, user_id=uid))
            await s.execute(
                delete(TeamInvite).where(TeamInvite.team_id == team.id, TeamInvite.user_id == uid)
            )
            added.append(user.username)
        for uid, name in current.items():
            if uid in wanted or (only is not None and uid != only):
                continue
            await s.execute(
                delete(TeamMember).where(TeamMember.team_id == team.id, TeamMember.user_id == uid)
            )
            removed.append(name)
        for kind, names in (("org_add_team_member", added), ("org_remove_team_member", removed)):
            for name in names:
                record(
                    s, kind, org.name, None,
                    metadata={"member": name, "team": team.name, "synced": True},
                    namespace_id=org.id,
                )  # fmt: skip
        return added, removed

    async def sync_all(self) -> None:
        """Every synced team (one failing group does not stop the others)."""
        async with self.db.read() as s:
            ids = list(
                (
                    await s.execute(select(TeamSync.team_id).where(TeamSync.service == SERVICE))
                ).scalars()
            )
        for team_id in ids:
            try:
                await self.sync_team(team_id)
            except DirectoryError as e:
                log.warning("team sync: team %s not synced: %s", team_id, e)
