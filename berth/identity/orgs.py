"""Organizations: create, get, update, delete (as a job), membership questions.

An organization is a namespace of kind "org". Its creator lands in the team ``owners``
(role admin). A user's own namespace behaves like an organization where the user is admin.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from berth.audit.services import Performer, record
from berth.authz import RepositoryState, TeamRole, at_least, strongest
from berth.db.base import now_ms
from berth.db.session import Database
from berth.identity.errors import (
    EmailRequired,
    EmailTaken,
    InvalidEmail,
    InvalidOrganizationName,
    InvalidTagExpiration,
    LastOrganizationAdmin,
    NamespaceNotFound,
    NameTaken,
    OrganizationNotFound,
    UserNotFound,
)
from berth.identity.models import RepositoryPermission, RobotAccount, Team, TeamMember, User
from berth.identity.tasks import DELETE_NAMESPACE, DeleteNamespace
from berth.jobs import enqueue
from berth.namespaces.models import ORG_KIND, Namespace
from berth.oci.names import is_valid_namespace
from berth.registry.cache import NoCache, ReadCache
from berth.registry.models import Repository

EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
OWNERS_TEAM = "owners"
_UNSET = object()


@dataclass(frozen=True)
class Membership:
    """A user's standing in an organization (for views and permission checks)."""

    is_admin: bool
    is_member: bool
    can_create_repo: bool
    teams: tuple[str, ...]


@dataclass(frozen=True)
class Standing:
    """What a namespace is and where one user stands in it (nothing is refused here:
    callers decide permission before existence)."""

    kind: str | None  # "org" | "user" | None: no such namespace
    owner: bool  # the user's own namespace
    teams: tuple[tuple[str, str], ...] = ()  # (team, role) of the user's organization teams

    @property
    def is_org(self) -> bool:
        return self.kind == ORG_KIND


@dataclass(frozen=True)
class OrgMember:
    name: str
    email: str | None
    is_robot: bool
    teams: tuple[str, ...]
    repositories: tuple[str, ...]  # repositories with a direct permission


@dataclass(frozen=True)
class EntityMatch:
    """A user or robot found by a name lookup (``is_org_member`` None: no organization asked)."""

    name: str
    email: str | None
    is_robot: bool
    is_org_member: bool | None


@dataclass(frozen=True)
class OrgUsage:
    """An organization with its repository count and their summed sizes (the superuser
    panel's list)."""

    name: str
    email: str | None
    repositories: int
    size_bytes: int


@dataclass(frozen=True)
class OrgInfo:
    id: int
    name: str
    email: str | None
    tag_expiration_s: int
    created_at: int


# ---- lookups shared by the identity services ------------------------------------------
async def find_namespace(s: AsyncSession, name: str) -> Namespace | None:
    return (
        await s.execute(select(Namespace).where(Namespace.name == name, Namespace.enabled))
    ).scalar_one_or_none()


async def get_namespace(s: AsyncSession, name: str) -> Namespace:
    ns = await find_namespace(s, name)
    if ns is None:
        raise NamespaceNotFound(name)
    return ns


async def get_org(s: AsyncSession, name: str) -> Namespace:
    ns = await find_namespace(s, name)
    if ns is None or ns.kind != "org":
        raise OrganizationNotFound(name)
    return ns


async def find_user(s: AsyncSession, username: str) -> User | None:
    return (await s.execute(select(User).where(User.username == username))).scalar_one_or_none()


async def get_user(s: AsyncSession, username: str) -> User:
    user = await find_user(s, username)
    if user is None:
        raise UserNotFound(username)
    return user


def performer_of(user: User | None, ip: str | None = None) -> Performer | None:
    return Performer(user.username, user.id, ip) if user else None


async def namespace_owner_id(s: AsyncSession, ns: Namespace) -> int | None:
    """The user owning a user namespace (None for organizations)."""
    if ns.kind != "user":
        return None
    return (await s.execute(select(User.id).where(User.namespace_id == ns.id))).scalar()


async def team_role_in(s: AsyncSession, namespace_id: int, user_id: int) -> TeamRole | None:
    """The strongest role among the user's teams in the organization (None: not a member)."""
    roles = (
        await s.execute(
            select(Team.role)
            .join(TeamMember, TeamMember.team_id == Team.id)
            .where(Team.namespace_id == namespace_id, TeamMember.user_id == user_id)
        )
    ).scalars()
    return strongest([TeamRole(role) for role in roles])


async def is_namespace_admin(s: AsyncSession, ns: Namespace, user_id: int) -> bool:
    """Owner of a user namespace, or member of an admin team of an organization."""
    if ns.kind == "user":
        return await namespace_owner_id(s, ns) == user_id
    return await team_role_in(s, ns.id, user_id) is TeamRole.ADMIN


async def is_org_member(s: AsyncSession, ns: Namespace, user_id: int) -> bool:
    if ns.kind == "user":
        return await namespace_owner_id(s, ns) == user_id
    return await team_role_in(s, ns.id, user_id) is not None


async def team_member_ids(
    s: AsyncSession, namespace_id: int, *, role: str | None = None
) -> set[int]:
    """Users and robots in the organization's teams (of ``role`` only, when given)."""
    stmt = (
        select(TeamMember.user_id)
        .join(Team, Team.id == TeamMember.team_id)
        .where(Team.namespace_id == namespace_id)
    )
    if role is not None:
        stmt = stmt.where(Team.role == role)
    return set((await s.execute(stmt)).scalars())


async def _name_taken(s: AsyncSession, name: str) -> bool:
    ns = (await s.execute(select(Namespace.id).where(Namespace.name == name))).scalar()
    user = (await s.execute(select(User.id).where(User.username == name))).scalar()
    return ns is not None or user is not None


async def _email_taken(s: AsyncSession, email: str, *, except_namespace: int | None) -> bool:
    used_by_user = (
        await s.execute(select(User.id).where(func.lower(User.email) == email.lower()).limit(1))
    ).scalar()
    stmt = select(Namespace.id).where(func.lower(Namespace.email) == email.lower())
    if except_namespace is not None:
        stmt = stmt.where(Namespace.id != except_namespace)
    used_by_org = (await s.execute(stmt.limit(1))).scalar()
    return used_by_user is not None or used_by_org is not None


def _info(ns: Namespace) -> OrgInfo:
    return OrgInfo(ns.id, ns.name, ns.email, ns.tag_expiration_s, ns.created_at)


class OrgService:
    def __init__(
        self,
        db: Database,
        *,
        default_tag_expiration_s: int = 1209600,
        tag_expiration_options: frozenset[int] = frozenset({0, 86400, 604800, 1209600, 2419200}),
        cache: ReadCache[Any] | None = None,
    ) -> None:
        self.db = db
        self.default_tag_expiration_s = default_tag_expiration_s
        self.tag_expiration_options = tag_expiration_options
        # /v2's repository lookups by name: a rename forgets the old names
        self.cache: ReadCache[Any] = cache if cache is not None else NoCache()

    async def create(
        self,
        name: str,
        *,
        creator: str | None,
        email: str | None = None,
        email_required: bool = False,
        ip: str | None = None,
    ) -> OrgInfo:
        """Create an organization; ``creator`` (a user) becomes a member of ``owners``.
        ``email_required`` (FEATURE_MAILING): a well-formed contact address is needed."""
        async with self.db.write() as s:
            if await _name_taken(s, name):
                raise NameTaken(name)
            if email_required and not email:
                raise EmailRequired()
            if email_required and not EMAIL_RE.fullmatch(email or ""):
                raise InvalidEmail(email or "")
            if not is_valid_namespace(name):
                raise InvalidOrganizationName(name)
            if email and await _email_taken(s, email, except_namespace=None):
                raise EmailTaken(email)
            user = await get_user(s, creator) if creator else None
            ns = Namespace(
                name=name,
                kind="org",
                email=email,
                tag_expiration_s=self.default_tag_expiration_s,
                created_at=now_ms(),
            )
            s.add(ns)
            await s.flush()
            owners = Team(
                namespace_id=ns.id, name=OWNERS_TEAM, role=TeamRole.ADMIN.value, description=""
            )
            s.add(owners)
            await s.flush()
            if user is not None:
                s.add(TeamMember(team_id=owners.id, user_id=user.id))
            record(
                s,
                "org_create",
                name,
                performer_of(user, ip),
                metadata={"email": email, "namespace": name},
                namespace_id=ns.id,
            )
            await s.flush()
            return _info(ns)

    async def list_all(self, *, after_id: int = 0, limit: int | None = None) -> list[OrgInfo]:
        """Every organization (the superuser panel), by id."""
        q = (
            select(Namespace)
            .where(Namespace.kind == "org", Namespace.enabled, Namespace.id > after_id)
            .order_by(Namespace.id)
        )
        if limit is not None:
            q = q.limit(limit)
        async with self.db.read() as s:
            return [_info(ns) for ns in (await s.execute(q)).scalars()]

    async def get(self, name: str, *, any_kind: bool = False) -> OrgInfo:
        """An organization (or, with ``any_kind``, any namespace)."""
        async with self.db.read() as s:
            return _info(await (get_namespace if any_kind else get_org)(s, name))

    async def update(
        self,
        name: str,
        *,
        email: str | object | None = _UNSET,
        tag_expiration_s: int | None = None,
        performer: str | None = None,
        ip: str | None = None,
    ) -> OrgInfo:
        async with self.db.write() as s:
            ns = await get_org(s, name)
            user = await find_user(s, performer) if performer else None
            who = performer_of(user, ip)
            if email is not _UNSET and email != ns.email:
                if (
                    isinstance(email, str)
                    and email
                    and await _email_taken(s, email, except_namespace=ns.id)
                ):
                    raise EmailTaken(email)
                old = ns.email
                ns.email = email if isinstance(email, str) and email else None
                record(
                    s,
                    "org_change_email",
                    name,
                    who,
                    metadata={"email": ns.email, "old_email": old},
                    namespace_id=ns.id,
                )
            if tag_expiration_s is not None and tag_expiration_s != ns.tag_expiration_s:
                if tag_expiration_s not in self.tag_expiration_options:
                    raise InvalidTagExpiration(tag_expiration_s)
                ns.tag_expiration_s = tag_expiration_s
                record(
                    s,
                    "org_change_tag_expiration",
                    name,
                    who,
                    metadata={"tag_expiration": tag_expiration_s, "namespace": name},
                    namespace_id=ns.id,
                )
            await s.flush()
            return _info(ns)

    async def delete(
        self, name: str, *, performer: str | None = None, ip: str | None = None
    ) -> None:
        """Mark for deletion (the name is free at once) and enqueue the cleanup job."""
        async with self.db.write() as s:
            ns = await get_org(s, name)
            user = await find_user(s, performer) if performer else None
            await mark_namespace_deleted(s, ns)
            record(
                s, "org_delete", name, performer_of(user, ip), metadata={"namespace": name},
                namespace_id=ns.id,
            )  # fmt: skip

    async def rename(
        self, name: str, new_name: str, *, performer: str | None = None, ip: str | None = None
    ) -> OrgInfo:
        """Rename an organization (the superuser's ``PUT /superuser/organizations/{name}``):
        its repositories and robots (``new+short``) follow; logged as ``org_change_name``.
        The old name is free at once; nothing redirects from it."""
        if new_name == name:
            async with self.db.read() as s:
                return _info(await get_org(s, name))
        async with self.db.write() as s:
            ns = await get_org(s, name)
            if not is_valid_namespace(new_name):
                raise InvalidOrganizationName(new_name)
            if await _name_taken(s, new_name):
                raise NameTaken(new_name)
            user = await find_user(s, performer) if performer else None
            old_repos = list(
                (
                    await s.execute(
                        select(Repository.full_name).where(Repository.namespace_id == ns.id)
                    )
                ).scalars()
            )
            ns.name = new_name
            await s.flush()
            await s.execute(
                update(Repository)
                .where(Repository.namespace_id == ns.id)
                .values(full_name=new_name + "/" + Repository.name)
            )
            robots = (
                await s.execute(
                    select(User)
                    .join(RobotAccount, RobotAccount.user_id == User.id)
                    .where(RobotAccount.namespace_id == ns.id)
                )
            ).scalars()
            for robot in robots:
                robot.username = f"{new_name}+{robot.username.split('+', 1)[1]}"
            record(
                s, "org_change_name", new_name, performer_of(user, ip),
                metadata={"old_name": name, "new_name": new_name, "namespace": new_name},
                namespace_id=ns.id,
            )  # fmt: skip
            await s.flush()
            info = _info(ns)
        for full in old_repos:  # after commit
            self.cache.invalidate(full)
        return info

    async def standing(self, name: str, user_id: int | None) -> Standing:
        """The namespace's kind and the user's teams there, in one read."""
        async with self.db.read() as s:
            ns = await find_namespace(s, name)
            if ns is None:
                return Standing(None, False)
            if ns.kind != ORG_KIND:
                owner = user_id is not None and await namespace_owner_id(s, ns) == user_id
                return Standing(ns.kind, owner)
            if user_id is None:
                return Standing(ns.kind, False)
            rows = (
                await s.execute(
                    select(Team.name, Team.role)
                    .join(TeamMember, TeamMember.team_id == Team.id)
                    .where(Team.namespace_id == ns.id, TeamMember.user_id == user_id)
                    .order_by(Team.name)
                )
            ).all()
            return Standing(ns.kind, False, tuple((team, role) for team, role in rows))

    async def membership(self, name: str, username: str | None) -> Membership:
        """``username``'s standing in the organization (nothing for unknown users)."""
        async with self.db.read() as s:
            user = await find_user(s, username) if username else None
        standing = await self.standing(name, user.id if user else None)
        if not standing.is_org:
            raise OrganizationNotFound(name)
        roles = {role for _, role in standing.teams}
        return Membership(
            is_admin=TeamRole.ADMIN in roles,
            is_member=bool(standing.teams),
            can_create_repo=any(at_least(TeamRole(role), TeamRole.CREATOR) for role in roles),
            teams=tuple(team for team, _ in standing.teams),
        )

    async def members(self, name: str, *, include_robots: bool = False) -> list[OrgMember]:
        """Users (robots only when asked) in any team of the organization, with their teams
        and the organization's repositories they hold a direct permission on."""
        async with self.db.read() as s:
            ns = await get_org(s, name)
            found = await _members(s, ns.id)
        return [m for m in found if include_robots or not m.is_robot]

    async def member(self, name: str, member: str) -> OrgMember:
        """One member: a user or robot in a team of the organization, or a robot of the
        organization (in no team). Anything else is ``UserNotFound``."""
        async with self.db.read() as s:
            ns = await get_org(s, name)
            user = await get_user(s, member)
            found = await _members(s, ns.id, user_id=user.id)
            if found:
                return found[0]
            if user.kind == "robot" and member.startswith(name + "+"):
                repos = await _direct_repositories(s, ns.id, user_id=user.id)
                return OrgMember(member, user.email, True, (), tuple(repos.get(member, ())))
            raise UserNotFound(member)

    async def collaborators(self, name: str) -> list[OrgMember]:
        """Users outside every team with a direct permission on an organization repository."""
        async with self.db.read() as s:
            ns = await get_org(s, name)
            inside = {m.name for m in await _members(s, ns.id)}
            repos = await _direct_repositories(s, ns.id)
            emails = await _emails(s, set(repos) - inside)
        return [
            OrgMember(user, emails.get(user), False, (), tuple(names))
            for user, names in sorted(repos.items())
            if user not in inside and user in emails
        ]

    async def remove_member(
        self, name: str, member: str, *, performer: str | None = None, ip: str | None = None
    ) -> None:
        """Take ``member`` out of every team of the organization and drop its direct
        permissions on the organization's repositories (not its last admin)."""
        async with self.db.write() as s:
            ns = await get_org(s, name)
            user = await get_user(s, member)
            who = performer_of(await find_user(s, performer) if performer else None, ip)
            if await team_member_ids(s, ns.id, role=TeamRole.ADMIN) == {user.id}:
                raise LastOrganizationAdmin(name, member)
            teams = (
                await s.execute(
                    select(Team.id, Team.name)
                    .join(TeamMember, TeamMember.team_id == Team.id)
                    .where(Team.namespace_id == ns.id, TeamMember.user_id == user.id)
                )
            ).all()
            for team_id, team_name in teams:
                await s.execute(
                    delete(TeamMember).where(
                        TeamMember.team_id == team_id, TeamMember.user_id == user.id
                    )
                )
                record(
                    s, "org_remove_team_member", name, who,
                    metadata={"member": member, "team": team_name}, namespace_id=ns.id,
                )  # fmt: skip
            repo_ids = select(Repository.id).where(Repository.namespace_id == ns.id)
            await s.execute(
                delete(RepositoryPermission).where(
                    RepositoryPermission.user_id == user.id,
                    RepositoryPermission.repository_id.in_(repo_ids),
                )
            )

    async def match_users(
        self,
        prefix: str,
        *,
        robot_namespace: str | None = None,
        org: str | None = None,
        exact_only: bool = False,
        limit: int = 10,
    ) -> list[EntityMatch]:
        """Enabled users named ``prefix`` (the exact match first), then others starting with
        it unless ``exact_only``; robots ``robot_namespace+prefix...`` too when given.
        ``org`` (an organization) adds whether each one is in one of its teams."""
        async with self.db.read() as s:
            exact = await _matching_users(s, prefix, robot_namespace, exact=True, limit=1)
            more = (
                []
                if exact_only
                else await _matching_users(s, prefix, robot_namespace, exact=False, limit=limit)
            )
            rows = (exact + [r for r in more if r not in exact])[:limit]
            ns = await find_namespace(s, org) if org else None
            in_org = ns is not None and ns.kind == ORG_KIND
            members = await team_member_ids(s, ns.id) if ns is not None and in_org else set()
        return [
            EntityMatch(
                user.username,
                user.email,
                user.kind == "robot",
                (user.kind == "robot" or user.id in members) if in_org else None,
            )
            for user in rows
        ]

    async def usage(self) -> list[OrgUsage]:
        """Every organization, by name, with its live repositories' count and size."""
        live = (Repository.namespace_id == Namespace.id) & (
            Repository.state != RepositoryState.MARKED_FOR_DELETION
        )
        stmt = (
            select(
                Namespace.name,
                Namespace.email,
                func.count(Repository.id),
                func.coalesce(func.sum(Repository.size_bytes), 0),
            )
            .outerjoin(Repository, live)
            .where(Namespace.kind == ORG_KIND, Namespace.enabled)
            .group_by(Namespace.id, Namespace.name, Namespace.email)
            .order_by(Namespace.name)
        )
        async with self.db.read() as s:
            return [
                OrgUsage(name, email, int(n), int(size))
                for name, email, n, size in (await s.execute(stmt)).all()
            ]

    async def list_for_user(self, username: str) -> list[OrgInfo]:
        async with self.db.read() as s:
            rows = (
                await s.execute(
                    select(Namespace)
                    .join(Team, Team.namespace_id == Namespace.id)
                    .join(TeamMember, TeamMember.team_id == Team.id)
                    .join(User, User.id == TeamMember.user_id)
                    .where(User.username == username, Namespace.enabled)
                    .distinct()
                    .order_by(Namespace.name)
                )
            ).scalars()
            return [_info(ns) for ns in rows]

    async def administers(self, user_id: int, namespace: str) -> bool:
        """Owner of a user namespace, or in an admin team of an organization."""
        async with self.db.read() as s:
            ns = await find_namespace(s, namespace)
            return ns is not None and await is_namespace_admin(s, ns, user_id)

    async def roles_of(self, user_id: int) -> list[tuple[str, str | None, str]]:
        """(name, email, strongest team role) of every organization ``user_id`` is in."""
        async with self.db.read() as s:
            rows = (
                await s.execute(
                    select(Namespace.name, Namespace.email, Team.role)
                    .join(Team, Team.namespace_id == Namespace.id)
                    .join(TeamMember, TeamMember.team_id == Team.id)
                    .where(
                        TeamMember.user_id == user_id, Namespace.enabled, Namespace.kind == ORG_KIND
                    )
                    .order_by(Namespace.name)
                )
            ).all()
        best: dict[str, tuple[str | None, str]] = {}
        for name, email, role in rows:
            if name not in best or TeamRole(role).rank > TeamRole(best[name][1]).rank:
                best[name] = (email, role)
        return [(name, email, role) for name, (email, role) in best.items()]


async def _direct_repositories(
    s: AsyncSession, namespace_id: int, *, user_id: int | None = None
) -> dict[str, list[str]]:
    """username -> names of the namespace's repositories it holds a direct permission on."""
    stmt = (
        select(User.username, Repository.name)
        .join(RepositoryPermission, RepositoryPermission.user_id == User.id)
        .join(Repository, Repository.id == RepositoryPermission.repository_id)
        .where(Repository.namespace_id == namespace_id)
        .order_by(Repository.name)
    )
    if user_id is not None:
        stmt = stmt.where(User.id == user_id)
    out: dict[str, list[str]] = {}
    for user, repo in (await s.execute(stmt)).all():
        out.setdefault(user, []).append(repo)
    return out


async def _members(
    s: AsyncSession, namespace_id: int, *, user_id: int | None = None
) -> list[OrgMember]:
    """Users and robots in the organization's teams, by name."""
    stmt = (
        select(User.id, User.username, User.email, User.kind, Team.name)
        .join(TeamMember, TeamMember.user_id == User.id)
        .join(Team, Team.id == TeamMember.team_id)
        .where(Team.namespace_id == namespace_id)
        .order_by(User.username, Team.id)
    )
    if user_id is not None:
        stmt = stmt.where(User.id == user_id)
    teams: dict[str, list[str]] = {}
    about: dict[str, tuple[str | None, bool]] = {}
    for _, name, email, kind, team in (await s.execute(stmt)).all():
        teams.setdefault(name, []).append(team)
        about[name] = (email, kind == "robot")
    repos = await _direct_repositories(s, namespace_id, user_id=user_id)
    return [
        OrgMember(name, about[name][0], about[name][1], tuple(names), tuple(repos.get(name, ())))
        for name, names in teams.items()
    ]


async def _emails(s: AsyncSession, usernames: set[str]) -> dict[str, str | None]:
    """E-mail of each human user among ``usernames`` (robots left out)."""
    if not usernames:
        return {}
    rows = await s.execute(
        select(User.username, User.email).where(User.username.in_(usernames), User.kind == "user")
    )
    return {name: email for name, email in rows.all()}


async def _matching_users(
    s: AsyncSession, prefix: str, robot_namespace: str | None, *, exact: bool, limit: int
) -> list[User]:
    def named(column: Any, value: str) -> Any:
        return column == value if exact else column.startswith(value, autoescape=True)

    who = (User.kind == "user") & named(User.username, prefix)
    if robot_namespace is not None:
        who = who | ((User.kind == "robot") & named(User.username, f"{robot_namespace}+{prefix}"))
    stmt = select(User).where(who, User.enabled.is_(True)).order_by(User.username).limit(limit)
    return list((await s.execute(stmt)).scalars())


async def mark_namespace_deleted(s: AsyncSession, ns: Namespace) -> None:
    """Hide a namespace at once (its name and its repositories' names are free again) and
    enqueue ``delete_namespace`` to remove its rows."""
    marker = f"deleted-{uuid.uuid4().hex}"
    ns.name = marker
    ns.enabled = False
    ns.email = None  # the contact address is free again too
    await s.flush()
    await s.execute(
        update(Repository)
        .where(Repository.namespace_id == ns.id)
        .values(full_name=marker + "/" + Repository.name)
    )
    await enqueue(s, DELETE_NAMESPACE, DeleteNamespace(namespace_id=ns.id))
