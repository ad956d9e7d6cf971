"""Teams: create/update/delete, members (robots join at once, users are invited unless
already in the organization), invitations accepted or declined by the invitee."""

from __future__ import annotations

import builtins  # annotations after a service's ``list`` method name builtins.list
import secrets
from dataclasses import dataclass, replace
from typing import Any, Protocol

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from berth.audit.services import Performer, record
from berth.authz import TeamRole
from berth.db.session import Database
from berth.identity.errors import (
    AlreadyMember,
    EmailInviteNotFound,
    InvalidInviteCode,
    InvalidTeamMember,
    InvalidTeamName,
    InvalidTeamRole,
    InviteForAnotherUser,
    LastAdminTeam,
    NotTeamMember,
    TeamNotFound,
    UnknownTeamMember,
)
from berth.identity.models import (
    RepositoryPermission,
    RobotAccount,
    Team,
    TeamInvite,
    TeamMember,
    TeamSync,
    User,
)
from berth.identity.orgs import find_user, get_org, get_user, is_org_member, performer_of
from berth.namespaces.models import Namespace
from berth.oci.names import is_valid_namespace

TEAM_ROLES = tuple(TeamRole)


@dataclass(frozen=True)
class TeamInfo:
    id: int
    org: str
    name: str
    role: str
    description: str
    member_count: int = 0
    repo_count: int = 0
    synced: bool = False  # bound to a directory group (berth.identity.teamsync)


@dataclass(frozen=True)
class MemberInfo:
    """A team member or a pending invite (``invited``). ``name`` is None for an invite
    to an e-mail address; ``email`` is the user's address or the invited one."""

    name: str | None
    is_robot: bool
    invited: bool
    email: str | None = None
    code: str | None = None


@dataclass(frozen=True)
class InviteInfo:
    code: str
    org: str
    team: str
    username: str | None
    email: str | None
    inviter: str | None


async def get_team(s: AsyncSession, org_id: int, org_name: str, name: str) -> Team:
    team = (
        await s.execute(select(Team).where(Team.namespace_id == org_id, Team.name == name))
    ).scalar_one_or_none()
    if team is None:
        raise TeamNotFound(org_name, name)
    return team


async def _team_and_actor(
    s: AsyncSession, org: str, team_name: str, performer: str | None, ip: str | None
) -> tuple[Namespace, Team, Performer | None]:
    """The organization, its team, and who acts (for the usage log)."""
    ns, team = await _org_team(s, org, team_name)
    return ns, team, performer_of(await find_user(s, performer) if performer else None, ip)


async def _org_team(s: AsyncSession, org: str, team_name: str) -> tuple[Namespace, Team]:
    """The organization and its team (OrgNotFound / TeamNotFound otherwise)."""
    ns = await get_org(s, org)
    return ns, await get_team(s, ns.id, org, team_name)


async def _admin_team_ids(s: AsyncSession, org_id: int, user_id: int) -> set[int]:
    return set(
        (
            await s.execute(
                select(Team.id)
                .join(TeamMember, TeamMember.team_id == Team.id)
                .where(
                    Team.namespace_id == org_id,
                    Team.role == TeamRole.ADMIN,
                    TeamMember.user_id == user_id,
                )
            )
        ).scalars()
    )


async def _is_member(s: AsyncSession, team_id: int, user_id: int) -> bool:
    row = await s.execute(
        select(TeamMember.user_id).where(
            TeamMember.team_id == team_id, TeamMember.user_id == user_id
        )
    )
    return row.scalar() is not None


class InviteListener(Protocol):
    """Told of each new or renewed invitation inside the transaction that writes it (the
    notifications feature mails it and shows it in the invitee's bell)."""

    async def invited(self, s: AsyncSession, invite: InviteInfo, user_id: int | None) -> None: ...


class TeamService:
    def __init__(
        self,
        db: Database,
        *,
        require_invite: bool = True,
        invites: InviteListener | None = None,
    ) -> None:
        self.db = db
        self.invites = invites
        # FEATURE_MAILING and FEATURE_REQUIRE_TEAM_INVITE: humans who are not yet members
        # of the organization are invited rather than added.
        self.require_invite = require_invite

    async def create_or_update(
        self,
        org: str,
        name: str,
        *,
        role: str,
        description: str | None = None,
        performer: str | None = None,
        ip: str | None = None,
    ) -> tuple[TeamInfo, bool]:
        """Create the team or change its role/description; True when it was created."""
        if not is_valid_namespace(name):
            raise InvalidTeamName(name)
        if role not in TEAM_ROLES:
            raise InvalidTeamRole(role)
        async with self.db.write() as s:
            ns = await get_org(s, org)
            user = await find_user(s, performer) if performer else None
            who = performer_of(user, ip)
            team = (
                await s.execute(select(Team).where(Team.namespace_id == ns.id, Team.name == name))
            ).scalar_one_or_none()
            created = team is None
            if team is None:
                team = Team(namespace_id=ns.id, name=name, role=role, description=description or "")
                s.add(team)
                await s.flush()
                record(s, "org_create_team", org, who, metadata={"team": name}, namespace_id=ns.id)
            else:
                if role != team.role:
                    if team.role == TeamRole.ADMIN and user is not None:
                        admin_teams = await _admin_team_ids(s, ns.id, user.id)
                        if admin_teams == {team.id}:
                            raise LastAdminTeam.on_demote(org, name)
                    team.role = role
                    record(
                        s, "org_set_team_role", org, who,
                        metadata={"team": name, "role": role}, namespace_id=ns.id,
                    )  # fmt: skip
                if description is not None and description != team.description:
                    team.description = description
                    record(
                        s, "org_set_team_description", org, who,
                        metadata={"team": name, "description": description}, namespace_id=ns.id,
                    )  # fmt: skip
            await s.flush()
            return await self._info(s, org, team), created

    async def _info(self, s: AsyncSession, org: str, team: Team) -> TeamInfo:
        members = (
            await s.execute(
                select(func.count()).select_from(TeamMember).where(TeamMember.team_id == team.id)
            )
        ).scalar_one()
        repos = (
            await s.execute(
                select(func.count())
                .select_from(RepositoryPermission)
                .where(RepositoryPermission.team_id == team.id)
            )
        ).scalar_one()
        synced = (
            await s.execute(select(TeamSync.team_id).where(TeamSync.team_id == team.id))
        ).scalar() is not None
        return TeamInfo(
            team.id, org, team.name, team.role, team.description, int(members), int(repos), synced
        )

    async def get(self, org: str, name: str) -> TeamInfo:
        async with self.db.read() as s:
            ns = await get_org(s, org)
            return await self._info(s, org, await get_team(s, ns.id, org, name))

    async def list(self, org: str) -> list[TeamInfo]:
        """The organization's teams in creation order (Quay's ``ordered_teams``)."""
        async with self.db.read() as s:
            ns = await get_org(s, org)
            teams = (
                await s.execute(select(Team).where(Team.namespace_id == ns.id).order_by(Team.id))
            ).scalars()
            return [await self._info(s, org, t) for t in teams]

    async def delete(
        self, org: str, name: str, *, performer: str | None = None, ip: str | None = None
    ) -> None:
        async with self.db.write() as s:
            ns = await get_org(s, org)
            team = await get_team(s, ns.id, org, name)
            user = await find_user(s, performer) if performer else None
            if (
                team.role == TeamRole.ADMIN
                and user is not None
                and await _admin_team_ids(s, ns.id, user.id) == {team.id}
            ):
                raise LastAdminTeam.on_delete(org, name, user.username)
            await s.delete(team)
            record(
                s, "org_delete_team", org, performer_of(user, ip), metadata={"team": name},
                namespace_id=ns.id,
            )  # fmt: skip

    async def add_member(
        self,
        org: str,
        team_name: str,
        member: str,
        *,
        performer: str | None = None,
        ip: str | None = None,
    ) -> MemberInfo:
        """Robots of the organization and users already in it join at once; other users
        are invited (``invited=True``) and join when they accept."""
        async with self.db.write() as s:
            ns, team, who = await _team_and_actor(s, org, team_name, performer, ip)
            user = await find_user(s, member)
            if user is None:
                raise UnknownTeamMember(member)
            is_robot = user.kind == "robot"
            if is_robot:
                robot_ns = (
                    await s.execute(
                        select(RobotAccount.namespace_id).where(RobotAccount.user_id == user.id)
                    )
                ).scalar()
                if robot_ns != ns.id:
                    raise InvalidTeamMember(
                        "Cannot add the specified robot to this team, as it is not a member "
                        "of the organization",
                        member=member,
                    )
            if await _is_member(s, team.id, user.id):
                raise AlreadyMember(member, team_name)
            direct = is_robot or not self.require_invite or await is_org_member(s, ns, user.id)
            if direct:
                s.add(TeamMember(team_id=team.id, user_id=user.id))
                await s.execute(
                    delete(TeamInvite).where(
                        TeamInvite.team_id == team.id, TeamInvite.user_id == user.id
                    )
                )
                record(
                    s, "org_add_team_member", org, who,
                    metadata={"member": member, "team": team_name}, namespace_id=ns.id,
                )  # fmt: skip
                return MemberInfo(member, is_robot, invited=False, email=user.email)
            info = InviteInfo("", org, team_name, member, user.email, performer)
            code = await self._invite(s, ns.id, team.id, who, info, user_id=user.id)
            return MemberInfo(member, False, invited=True, email=user.email, code=code)

    async def _invite(
        self,
        s: AsyncSession,
        namespace_id: int,
        team_id: int,
        who: Performer | None,
        info: InviteInfo,
        *,
        user_id: int | None = None,
    ) -> str:
        """Invite a user (``user_id``) or an e-mail address (``info.email``) to a team, once:
        an existing invitation is reused. Logged, and announced to ``invites``; the code."""
        match = TeamInvite.user_id == user_id if user_id is not None else (
            TeamInvite.email == info.email
        )  # fmt: skip
        invite = (
            await s.execute(select(TeamInvite).where(TeamInvite.team_id == team_id, match))
        ).scalar_one_or_none()
        if invite is None:
            invite = TeamInvite(
                team_id=team_id,
                inviter_id=who.id if who else None,
                code=secrets.token_urlsafe(32),
                **({"user_id": user_id} if user_id is not None else {"email": info.email}),
            )
            s.add(invite)
        member = info.username if user_id is not None else info.email
        invitee = {"user": member} if user_id is not None else {"email": info.email}
        record(
            s, "org_invite_team_member", info.org, who,
            metadata={**invitee, "member": member, "team": info.team},
            namespace_id=namespace_id,
        )  # fmt: skip
        await s.flush()
        if self.invites is not None:
            await self.invites.invited(s, replace(info, code=invite.code), user_id)
        return invite.code

    async def invite_email(
        self,
        org: str,
        team_name: str,
        email: str,
        *,
        performer: str | None = None,
        ip: str | None = None,
    ) -> MemberInfo:
        async with self.db.write() as s:
            ns, team, who = await _team_and_actor(s, org, team_name, performer, ip)
            info = InviteInfo("", org, team_name, None, email, performer)
            code = await self._invite(s, ns.id, team.id, who, info)
            return MemberInfo(None, False, invited=True, email=email, code=code)

    async def remove_member(
        self,
        org: str,
        team_name: str,
        member: str,
        *,
        performer: str | None = None,
        ip: str | None = None,
    ) -> None:
        """Cancel the user's pending invite to the team, or else take the user out of it
        (not out of the acting user's only admin team)."""
        async with self.db.write() as s:
            ns, team, who = await _team_and_actor(s, org, team_name, performer, ip)
            user = await get_user(s, member)
            cancelled = await s.execute(
                delete(TeamInvite).where(
                    TeamInvite.team_id == team.id, TeamInvite.user_id == user.id
                )
            )
            if cancelled.rowcount:  # type: ignore[attr-defined]  # rowcount: a DML result is a CursorResult
                record(
                    s, "org_delete_team_member_invite", org, who,
                    metadata={"user": member, "team": team_name, "member": member},
                    namespace_id=ns.id,
                )  # fmt: skip
                return
            if not await _is_member(s, team.id, user.id):
                raise NotTeamMember(member, team_name)
            if (
                who is not None
                and who.id == user.id
                and await _admin_team_ids(s, ns.id, user.id) == {team.id}
            ):
                raise LastAdminTeam.on_leave(team_name)
            await s.execute(
                delete(TeamMember).where(
                    TeamMember.team_id == team.id, TeamMember.user_id == user.id
                )
            )
            record(
                s, "org_remove_team_member", org, who,
                metadata={"member": member, "team": team_name}, namespace_id=ns.id,
            )  # fmt: skip

    async def delete_email_invite(
        self,
        org: str,
        team_name: str,
        email: str,
        *,
        performer: str | None = None,
        ip: str | None = None,
    ) -> None:
        async with self.db.write() as s:
            ns, team, who = await _team_and_actor(s, org, team_name, performer, ip)
            result = await s.execute(
                delete(TeamInvite).where(TeamInvite.team_id == team.id, TeamInvite.email == email)
            )
            if not result.rowcount:  # type: ignore[attr-defined]  # rowcount: a DML result is a CursorResult
                raise EmailInviteNotFound(team_name, email)
            record(
                s, "org_delete_team_member_invite", org, who,
                metadata={"email": email, "team": team_name, "member": email},
                namespace_id=ns.id,
            )  # fmt: skip

    async def members(
        self, org: str, team_name: str, *, include_pending: bool = False
    ) -> builtins.list[MemberInfo]:
        async with self.db.read() as s:
            _ns, team = await _org_team(s, org, team_name)
            rows = (
                await s.execute(
                    select(User.username, User.kind, User.email)
                    .join(TeamMember, TeamMember.user_id == User.id)
                    .where(TeamMember.team_id == team.id)
                    .order_by(User.username)
                )
            ).all()
            out = [
                MemberInfo(name, kind == "robot", invited=False, email=email)
                for name, kind, email in rows
            ]
            if include_pending:
                invites = (
                    await s.execute(
                        select(TeamInvite.code, TeamInvite.email, User.username, User.email)
                        .outerjoin(User, User.id == TeamInvite.user_id)
                        .where(TeamInvite.team_id == team.id)
                        .order_by(TeamInvite.id)
                    )
                ).all()
                out += [
                    MemberInfo(username, False, invited=True, email=user_email or email, code=code)
                    for code, email, username, user_email in invites
                ]
            return out

    async def match(self, org: str, prefix: str, *, limit: int = 10) -> builtins.list[str]:
        """Names of the organization's teams starting with ``prefix``."""
        async with self.db.read() as s:
            ns = await get_org(s, org)
            return list(
                (
                    await s.execute(
                        select(Team.name)
                        .where(
                            Team.namespace_id == ns.id,
                            Team.name.startswith(prefix, autoescape=True),
                        )
                        .order_by(Team.name)
                        .limit(limit)
                    )
                ).scalars()
            )

    async def repository_permissions(
        self, org: str, team_name: str
    ) -> builtins.list[tuple[str, bool, str]]:
        """(repository name, is_public, role) for each repository the team has a role on."""
        from berth.registry.models import Repository

        async with self.db.read() as s:
            _ns, team = await _org_team(s, org, team_name)
            rows = (
                await s.execute(
                    select(Repository.name, Repository.is_public, RepositoryPermission.role)
                    .join(Repository, Repository.id == RepositoryPermission.repository_id)
                    .where(RepositoryPermission.team_id == team.id)
                    .order_by(Repository.name)
                )
            ).all()
            return [(name, bool(public), role) for name, public, role in rows]

    async def invites_for(self, username: str) -> builtins.list[InviteInfo]:
        """Pending invites addressed to the user (by account or by its e-mail)."""
        async with self.db.read() as s:
            user = await get_user(s, username)
            return await self._invites(s, user)

    async def _invites(self, s: AsyncSession, user: User) -> builtins.list[InviteInfo]:
        from berth.namespaces.models import Namespace

        inviter = User.__table__.alias("inviter")
        rows = (
            await s.execute(
                select(
                    TeamInvite.code, Namespace.name, Team.name, TeamInvite.email, inviter.c.username
                )
                .join(Team, Team.id == TeamInvite.team_id)
                .join(Namespace, Namespace.id == Team.namespace_id)
                .outerjoin(inviter, inviter.c.id == TeamInvite.inviter_id)
                .where(_addressed_to(user), Namespace.enabled)
                .order_by(TeamInvite.id)
            )
        ).all()
        return [
            InviteInfo(code, org, team, user.username, email, by)
            for code, org, team, email, by in rows
        ]

    async def _claim(
        self, s: AsyncSession, code: str, user: User, *, accepting: bool
    ) -> tuple[TeamInvite, Team, str, str | None]:
        """The invite behind ``code`` if it is addressed to ``user``; its team, org and
        inviter's name."""
        from berth.namespaces.models import Namespace

        found = (
            await s.execute(select(TeamInvite).where(TeamInvite.code == code))
        ).scalar_one_or_none()
        if found is None:
            raise InvalidInviteCode()
        mine = (
            await s.execute(
                select(TeamInvite.id).where(TeamInvite.id == found.id, _addressed_to(user))
            )
        ).scalar()
        if mine is None:
            addressee = (
                await s.execute(select(User.username).where(User.id == found.user_id))
            ).scalar()
            if accepting and addressee is not None:
                raise InviteForAnotherUser(addressee)
            raise InvalidInviteCode()
        team = (await s.execute(select(Team).where(Team.id == found.team_id))).scalar_one()
        org = (
            await s.execute(select(Namespace.name).where(Namespace.id == team.namespace_id))
        ).scalar_one()
        inviter = (
            await s.execute(select(User.username).where(User.id == found.inviter_id))
        ).scalar()
        return found, team, org, inviter

    async def accept_invite(self, code: str, username: str, *, ip: str | None = None) -> InviteInfo:
        """Join the invite's team, and every other team of that organization the user is
        invited to (as Quay does); the invites are used up."""
        async with self.db.write() as s:
            user = await get_user(s, username)
            invite, team, org, inviter = await self._claim(s, code, user, accepting=True)
            email = invite.email
            pending = (
                await s.execute(
                    select(TeamInvite)
                    .join(Team, Team.id == TeamInvite.team_id)
                    .where(Team.namespace_id == team.namespace_id, _addressed_to(user))
                )
            ).scalars()
            for other in list(pending):
                if not await _is_member(s, other.team_id, user.id):
                    s.add(TeamMember(team_id=other.team_id, user_id=user.id))
                    await s.flush()
                await s.delete(other)
            record(
                s, "org_team_member_invite_accepted", org, Performer(user.username, user.id, ip),
                metadata={"member": username, "team": team.name, "inviter": inviter},
                namespace_id=team.namespace_id,
            )  # fmt: skip
            return InviteInfo(code, org, team.name, username, email, inviter)

    async def decline_invite(self, code: str, username: str, *, ip: str | None = None) -> None:
        async with self.db.write() as s:
            user = await get_user(s, username)
            invite, team, org, inviter = await self._claim(s, code, user, accepting=False)
            await s.delete(invite)
            record(
                s, "org_team_member_invite_declined", org, Performer(user.username, user.id, ip),
                metadata={"member": username, "team": team.name, "inviter": inviter},
                namespace_id=team.namespace_id,
            )  # fmt: skip


def _addressed_to(user: User) -> Any:
    """Invites for the user: to its account, or to its e-mail address."""
    cond = TeamInvite.user_id == user.id
    if user.email:
        cond = cond | (
            TeamInvite.user_id.is_(None) & (func.lower(TeamInvite.email) == user.email.lower())
        )
    return cond
