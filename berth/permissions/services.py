"""Repository permissions, default permissions (prototypes) and the role lookup behind the
access decision.

Roles: repositories ``read`` < ``write`` < ``admin``; teams ``member``, ``creator``,
``admin``. A user's repository role is the strongest of: owner of the user namespace or
member of an org ``admin`` team (admin), a direct permission (users and robots), and the
permissions of the teams the user is in.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from berth.accounts.models import Namespace, User
from berth.audit.services import Performer, record
from berth.auth.access import Principal, RepositoryFacts
from berth.db.session import Database
from berth.orgs.services import find_user, get_org, namespace_owner_id, performer_of
from berth.permissions.errors import (
    InvalidDelegate,
    InvalidRole,
    OwnerMustBeAdmin,
    PermissionNotFound,
    PrototypeNotFound,
    RepositoryNotFound,
)
from berth.permissions.models import Prototype, RepositoryPermission
from berth.registry.models import Repository
from berth.registry.repositories import RepoName
from berth.robots.models import RobotAccount
from berth.teams.errors import TeamNotFound
from berth.teams.models import Team, TeamMember

REPO_ROLES = ("read", "write", "admin")
_RANK = {"read": 1, "write": 2, "admin": 3}
_TEAM_RANK = {"member": 1, "creator": 2, "admin": 3}


def stronger(a: str | None, b: str | None) -> str | None:
    if a is None:
        return b
    if b is None:
        return a
    return a if _RANK[a] >= _RANK[b] else b


def _rank_expr(col: Any, ranks: dict[str, int]) -> Any:
    return case(*((col == k, v) for k, v in ranks.items()), else_=0)


def _unrank(value: int | None, ranks: dict[str, int]) -> str | None:
    if not value:
        return None
    return next(k for k, v in ranks.items() if v == value)


# ---- the role lookup (one query) -------------------------------------------------------
async def access_facts(
    session: AsyncSession, repo: RepoName, principal: Principal
) -> RepositoryFacts:
    """Everything ``AccessPolicy.decide`` needs, in one indexed query: the namespace, the
    repository, and the principal's repository role and team role in the namespace."""
    cols: list[Any] = [
        Namespace.id,
        Namespace.kind,
        Namespace.enabled,
        Repository.id,
        Repository.is_public,
        Repository.state,
    ]
    named = principal.name is not None and not principal.is_anonymous
    if named:
        uid = (
            select(User.id).where(User.username == principal.name).scalar_subquery()
            if principal.user_id is None
            else principal.user_id
        )
        direct = (
            select(func.max(_rank_expr(RepositoryPermission.role, _RANK)))
            .where(
                RepositoryPermission.repository_id == Repository.id,
                RepositoryPermission.user_id == uid,
            )
            .scalar_subquery()
        )
        via_team = (
            select(func.max(_rank_expr(RepositoryPermission.role, _RANK)))
            .join(TeamMember, TeamMember.team_id == RepositoryPermission.team_id)
            .where(RepositoryPermission.repository_id == Repository.id, TeamMember.user_id == uid)
            .scalar_subquery()
        )
        team_role = (
            select(func.max(_rank_expr(Team.role, _TEAM_RANK)))
            .join(TeamMember, TeamMember.team_id == Team.id)
            .where(Team.namespace_id == Namespace.id, TeamMember.user_id == uid)
            .scalar_subquery()
        )
        cols += [direct, via_team, team_role]
    row = (
        await session.execute(
            select(*cols)
            .select_from(Namespace)
            .outerjoin(
                Repository,
                (Repository.namespace_id == Namespace.id) & (Repository.name == repo.name),
            )
            .where(Namespace.name == repo.namespace)
        )
    ).first()
    if row is None:
        return RepositoryFacts(repo.namespace, repo.name, exists=False, namespace_exists=False)
    ns_id, ns_kind, enabled, repo_id, is_public, state = row[:6]
    repo_role = org_role = None
    if named:
        repo_role = stronger(_unrank(row[6], _RANK), _unrank(row[7], _RANK))
        org_role = _unrank(row[8], _TEAM_RANK)
    return RepositoryFacts(
        repo.namespace,
        repo.name,
        exists=repo_id is not None,
        is_public=bool(is_public),
        state=state or "NORMAL",
        namespace_enabled=bool(enabled),
        namespace_id=ns_id,
        namespace_kind=ns_kind,
        repository_id=repo_id,
        repo_role=repo_role,
        org_role=org_role,
    )


def visible_repositories(username: str) -> Any:
    """A condition on ``Repository`` true for the repositories ``username`` may read
    (own namespace, org admin teams, direct and team permissions); public ones excluded, and
    deleted ones (waiting for their rows to go) too."""
    uid = select(User.id).where(User.username == username).scalar_subquery()
    own_ns = select(User.namespace_id).where(User.username == username, User.kind == "user")
    admin_ns = (
        select(Team.namespace_id)
        .join(TeamMember, TeamMember.team_id == Team.id)
        .where(TeamMember.user_id == uid, Team.role == "admin")
    )
    direct = select(RepositoryPermission.repository_id).where(RepositoryPermission.user_id == uid)
    via_team = (
        select(RepositoryPermission.repository_id)
        .join(TeamMember, TeamMember.team_id == RepositoryPermission.team_id)
        .where(TeamMember.user_id == uid)
    )
    return and_(
        Repository.state != "MARKED_FOR_DELETION",
        or_(
            Repository.namespace_id.in_(own_ns),
            Repository.namespace_id.in_(admin_ns),
            Repository.id.in_(direct),
            Repository.id.in_(via_team),
        ),
    )


# ---- repository creation -------------------------------------------------------------
async def repository_created(
    session: AsyncSession,
    repository_id: int,
    creator: Principal | None,
    *,
    ip: str | None = None,
    audit: bool = True,
) -> None:
    """What happens to every new repository (push, API, UI), in the creating transaction:
    the creating user or robot gets ``admin``; then, unless the creator owns the namespace,
    the organization's default permissions apply (those whose activating user is the
    creator or unset), except any whose delegate is the creator itself."""
    repo = (
        await session.execute(select(Repository).where(Repository.id == repository_id))
    ).scalar_one()
    ns = (
        await session.execute(select(Namespace).where(Namespace.id == repo.namespace_id))
    ).scalar_one()
    creator_id: int | None = None
    if creator is not None and creator.name and not creator.is_anonymous:
        creator_id = (
            creator.user_id
            or (
                await session.execute(select(User.id).where(User.username == creator.name))
            ).scalar()
        )
    if creator_id is not None:
        await _set_user_role(session, repo.id, creator_id, "admin")
    if ns.kind == "org":
        await _apply_prototypes(session, repo, ns, creator_id)
    if audit:
        record(
            session,
            "create_repo",
            ns.name,
            Performer(creator.name, creator_id, ip) if creator and creator.name else None,
            repo.name,
            {"repo": repo.name, "namespace": ns.name},
            namespace_id=ns.id,
            repository_id=repo.id,
        )


async def _apply_prototypes(
    session: AsyncSession, repo: Repository, ns: Namespace, creator_id: int | None
) -> None:
    applies = Prototype.activating_user_id.is_(None)
    if creator_id is not None:
        applies = or_(applies, Prototype.activating_user_id == creator_id)
    protos = (
        await session.execute(select(Prototype).where(Prototype.namespace_id == ns.id, applies))
    ).scalars()
    # Per delegate: a prototype for this activating user beats a general one; between
    # equals, the stronger role.
    chosen: dict[tuple[str, int], tuple[bool, str]] = {}
    for p in protos:
        if p.delegate_user_id is not None:
            key = ("user", p.delegate_user_id)
        else:
            assert p.delegate_team_id is not None
            key = ("team", p.delegate_team_id)
        specific = p.activating_user_id is not None
        have = chosen.get(key)
        if (
            have is None
            or (specific and not have[0])
            or (specific == have[0] and _RANK[p.role] > _RANK[have[1]])
        ):
            chosen[key] = (specific, p.role)
    for (kind, delegate), (_specific, role) in sorted(chosen.items()):
        if kind == "user":
            if delegate == creator_id:  # the creator stays admin
                continue
            await _set_user_role(session, repo.id, delegate, role)
        else:
            await _set_team_role(session, repo.id, delegate, role)


async def _set_role(s: AsyncSession, repo_id: int, role: str, **delegate: int) -> bool:
    """Give ``delegate`` (``user_id=`` or ``team_id=``) ``role`` on the repository.

    True when a permission was added (False: an existing one changed)."""
    ((column, value),) = delegate.items()
    perm = (
        await s.execute(
            select(RepositoryPermission).where(
                RepositoryPermission.repository_id == repo_id,
                getattr(RepositoryPermission, column) == value,
            )
        )
    ).scalar_one_or_none()
    if perm is None:
        s.add(RepositoryPermission(repository_id=repo_id, role=role, **delegate))
        await s.flush()
        return True
    perm.role = role
    return False


async def _set_user_role(s: AsyncSession, repo_id: int, user_id: int, role: str) -> bool:
    return await _set_role(s, repo_id, role, user_id=user_id)


async def _set_team_role(s: AsyncSession, repo_id: int, team_id: int, role: str) -> bool:
    return await _set_role(s, repo_id, role, team_id=team_id)


# ---- the service ---------------------------------------------------------------------
@dataclass(frozen=True)
class UserPermission:
    name: str
    role: str
    is_robot: bool
    is_org_member: bool | None = None


@dataclass(frozen=True)
class TeamPermission:
    name: str
    role: str


@dataclass(frozen=True)
class PrototypeDelegate:
    kind: str  # "user" | "team"
    name: str
    is_robot: bool = False


@dataclass(frozen=True)
class PrototypeInfo:
    id: str
    role: str
    delegate: PrototypeDelegate
    activating_user: str | None


def _check_role(role: str) -> None:
    if role not in REPO_ROLES:
        raise InvalidRole(role)


async def _repo(s: AsyncSession, repo: RepoName) -> tuple[Repository, Namespace]:
    row = (
        await s.execute(
            select(Repository, Namespace)
            .join(Namespace, Namespace.id == Repository.namespace_id)
            .where(
                Namespace.name == repo.namespace, Repository.name == repo.name, Namespace.enabled
            )
        )
    ).first()
    if row is None:
        raise RepositoryNotFound(repo.full)
    return row[0], row[1]


class PermissionService:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- users and robots --
    async def set_user_permission(
        self,
        repo: RepoName,
        username: str,
        role: str,
        *,
        performer: str | None = None,
        ip: str | None = None,
    ) -> UserPermission:
        _check_role(role)
        async with self.db.write() as s:
            r, ns = await _repo(s, repo)
            user = await find_user(s, username)
            if user is None:
                raise InvalidDelegate(f"Invalid username: {username}", username=username)
            if user.kind == "robot":
                robot_ns = (
                    await s.execute(
                        select(RobotAccount.namespace_id).where(RobotAccount.user_id == user.id)
                    )
                ).scalar()
                if robot_ns != ns.id:
                    raise InvalidDelegate(
                        f"Cannot add robot {username} under namespace {ns.name}",
                        username=username,
                    )
            if await namespace_owner_id(s, ns) == user.id and role != "admin":
                raise OwnerMustBeAdmin()
            added = await _set_user_role(s, r.id, user.id, role)
            who = performer_of(await find_user(s, performer) if performer else None, ip)
            record(
                s, "add_repo_permission" if added else "change_repo_permission", ns.name, who,
                r.name, {"username": username, "repo": r.name, "namespace": ns.name,
                         "role": role},
                namespace_id=ns.id, repository_id=r.id,
            )  # fmt: skip
            return UserPermission(username, role, user.kind == "robot")

    async def get_user_permission(self, repo: RepoName, username: str) -> UserPermission:
        async with self.db.read() as s:
            r, _ns = await _repo(s, repo)
            row = (
                await s.execute(
                    select(RepositoryPermission.role, User.kind)
                    .join(User, User.id == RepositoryPermission.user_id)
                    .where(RepositoryPermission.repository_id == r.id, User.username == username)
                )
            ).first()
            if row is None:
                raise PermissionNotFound("User")
            return UserPermission(username, row.role, row.kind == "robot")

    async def delete_user_permission(
        self, repo: RepoName, username: str, *, performer: str | None = None, ip: str | None = None
    ) -> None:
        async with self.db.write() as s:
            r, ns = await _repo(s, repo)
            user = await find_user(s, username)
            result = await s.execute(
                delete(RepositoryPermission).where(
                    RepositoryPermission.repository_id == r.id,
                    RepositoryPermission.user_id == (user.id if user else -1),
                )
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                raise PermissionNotFound("User")
            who = performer_of(await find_user(s, performer) if performer else None, ip)
            record(
                s, "delete_repo_permission", ns.name, who, r.name,
                {"username": username, "repo": r.name, "namespace": ns.name},
                namespace_id=ns.id, repository_id=r.id,
            )  # fmt: skip

    async def list_user_permissions(self, repo: RepoName) -> list[UserPermission]:
        async with self.db.read() as s:
            r, ns = await _repo(s, repo)
            member_ids: set[int] = set()
            if ns.kind == "org":
                member_ids = set(
                    (
                        await s.execute(
                            select(TeamMember.user_id)
                            .join(Team, Team.id == TeamMember.team_id)
                            .where(Team.namespace_id == ns.id)
                        )
                    ).scalars()
                )
            rows = (
                await s.execute(
                    select(User.id, User.username, User.kind, RepositoryPermission.role)
                    .join(User, User.id == RepositoryPermission.user_id)
                    .where(RepositoryPermission.repository_id == r.id)
                    .order_by(User.username)
                )
            ).all()
            return [
                UserPermission(
                    name, role, kind == "robot", (uid in member_ids) if ns.kind == "org" else None
                )
                for uid, name, kind, role in rows
            ]

    # -- teams --
    async def set_team_permission(
        self,
        repo: RepoName,
        team: str,
        role: str,
        *,
        performer: str | None = None,
        ip: str | None = None,
    ) -> TeamPermission:
        _check_role(role)
        async with self.db.write() as s:
            r, ns = await _repo(s, repo)
            t = (
                await s.execute(select(Team).where(Team.namespace_id == ns.id, Team.name == team))
            ).scalar_one_or_none()
            if t is None:
                raise TeamNotFound(ns.name, team)
            added = await _set_team_role(s, r.id, t.id, role)
            who = performer_of(await find_user(s, performer) if performer else None, ip)
            record(
                s, "add_repo_permission" if added else "change_repo_permission", ns.name, who,
                r.name, {"team": team, "repo": r.name, "namespace": ns.name, "role": role},
                namespace_id=ns.id, repository_id=r.id,
            )  # fmt: skip
            return TeamPermission(team, role)

    async def get_team_permission(self, repo: RepoName, team: str) -> TeamPermission:
        async with self.db.read() as s:
            r, _ns = await _repo(s, repo)
            role = (
                await s.execute(
                    select(RepositoryPermission.role)
                    .join(Team, Team.id == RepositoryPermission.team_id)
                    .where(RepositoryPermission.repository_id == r.id, Team.name == team)
                )
            ).scalar()
            if role is None:
                raise PermissionNotFound("Team")
            return TeamPermission(team, role)

    async def delete_team_permission(
        self, repo: RepoName, team: str, *, performer: str | None = None, ip: str | None = None
    ) -> None:
        async with self.db.write() as s:
            r, ns = await _repo(s, repo)
            team_id = (
                await s.execute(
                    select(Team.id).where(Team.namespace_id == ns.id, Team.name == team)
                )
            ).scalar()
            result = await s.execute(
                delete(RepositoryPermission).where(
                    RepositoryPermission.repository_id == r.id,
                    RepositoryPermission.team_id == (team_id or -1),
                )
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                raise PermissionNotFound("Team")
            who = performer_of(await find_user(s, performer) if performer else None, ip)
            record(
                s, "delete_repo_permission", ns.name, who, r.name,
                {"team": team, "repo": r.name, "namespace": ns.name},
                namespace_id=ns.id, repository_id=r.id,
            )  # fmt: skip

    async def list_team_permissions(self, repo: RepoName) -> list[TeamPermission]:
        async with self.db.read() as s:
            r, _ns = await _repo(s, repo)
            rows = (
                await s.execute(
                    select(Team.name, RepositoryPermission.role)
                    .join(Team, Team.id == RepositoryPermission.team_id)
                    .where(RepositoryPermission.repository_id == r.id)
                    .order_by(Team.name)
                )
            ).all()
            return [TeamPermission(name, role) for name, role in rows]

    # -- visibility --
    async def set_visibility(
        self, repo: RepoName, public: bool, *, performer: str | None = None, ip: str | None = None
    ) -> None:
        async with self.db.write() as s:
            r, ns = await _repo(s, repo)
            r.is_public = public
            who = performer_of(await find_user(s, performer) if performer else None, ip)
            record(
                s, "change_repo_visibility", ns.name, who, r.name,
                {"repo": r.name, "namespace": ns.name,
                 "visibility": "public" if public else "private"},
                namespace_id=ns.id, repository_id=r.id,
            )  # fmt: skip

    # -- prototypes --
    async def create_prototype(
        self,
        org: str,
        role: str,
        *,
        delegate_user: str | None = None,
        delegate_team: str | None = None,
        activating_user: str | None = None,
        performer: str | None = None,
        ip: str | None = None,
    ) -> PrototypeInfo:
        _check_role(role)
        if (delegate_user is None) == (delegate_team is None):
            raise InvalidDelegate("Missing delegate user or team")
        async with self.db.write() as s:
            ns = await get_org(s, org)
            activating = None
            if activating_user:
                activating = await find_user(s, activating_user)
                if activating is None or activating.kind == "robot":
                    raise InvalidDelegate("Unknown activating user", username=activating_user)
            proto = Prototype(
                uuid=str(uuid.uuid4()),
                namespace_id=ns.id,
                activating_user_id=activating.id if activating else None,
                role=role,
            )
            if delegate_user is not None:
                user = await find_user(s, delegate_user)
                if user is None:
                    raise InvalidDelegate("Missing delegate user or team", username=delegate_user)
                if user.kind == "robot":
                    robot_ns = (
                        await s.execute(
                            select(RobotAccount.namespace_id).where(RobotAccount.user_id == user.id)
                        )
                    ).scalar()
                    if robot_ns != ns.id:
                        raise InvalidDelegate(
                            f"Cannot add robot {delegate_user} under namespace {org}"
                        )
                proto.delegate_user_id = user.id
                delegate = PrototypeDelegate("user", user.username, user.kind == "robot")
            else:
                team = (
                    await s.execute(
                        select(Team).where(Team.namespace_id == ns.id, Team.name == delegate_team)
                    )
                ).scalar_one_or_none()
                if team is None:
                    raise InvalidDelegate("Missing delegate user or team", team=delegate_team)
                proto.delegate_team_id = team.id
                delegate = PrototypeDelegate("team", team.name)
            s.add(proto)
            who = performer_of(await find_user(s, performer) if performer else None, ip)
            meta: dict[str, Any] = {"role": role, "namespace": org}
            if activating is not None:
                meta["activating_username"] = activating.username
            meta["delegate_" + ("username" if delegate.kind == "user" else "teamname")] = (
                delegate.name
            )
            record(s, "create_prototype_permission", org, who, metadata=meta, namespace_id=ns.id)
            await s.flush()
            return PrototypeInfo(
                proto.uuid, role, delegate, activating_user if activating else None
            )

    async def list_prototypes(self, org: str) -> list[PrototypeInfo]:
        async with self.db.read() as s:
            ns = await get_org(s, org)
            return await self._prototypes(s, ns.id)

    async def _prototypes(
        self, s: AsyncSession, ns_id: int, only: str | None = None
    ) -> list[PrototypeInfo]:
        delegate_user = User.__table__.alias("delegate_user")
        activating = User.__table__.alias("activating")
        stmt = (
            select(
                Prototype.uuid,
                Prototype.role,
                delegate_user.c.username,
                delegate_user.c.kind,
                Team.name,
                activating.c.username,
            )
            .outerjoin(delegate_user, delegate_user.c.id == Prototype.delegate_user_id)
            .outerjoin(Team, Team.id == Prototype.delegate_team_id)
            .outerjoin(activating, activating.c.id == Prototype.activating_user_id)
            .where(Prototype.namespace_id == ns_id)
            .order_by(Prototype.id)
        )
        if only is not None:
            stmt = stmt.where(Prototype.uuid == only)
        out = []
        for pid, role, uname, ukind, tname, aname in (await s.execute(stmt)).all():
            delegate = (
                PrototypeDelegate("user", uname, ukind == "robot")
                if uname is not None
                else PrototypeDelegate("team", tname)
            )
            out.append(PrototypeInfo(pid, role, delegate, aname))
        return out

    async def update_prototype(
        self, org: str, prototype_id: str, role: str, *, performer: str | None = None,
        ip: str | None = None,
    ) -> PrototypeInfo:  # fmt: skip
        _check_role(role)
        async with self.db.write() as s:
            ns = await get_org(s, org)
            proto = (
                await s.execute(
                    select(Prototype).where(
                        Prototype.namespace_id == ns.id, Prototype.uuid == prototype_id
                    )
                )
            ).scalar_one_or_none()
            if proto is None:
                raise PrototypeNotFound(prototype_id)
            old = proto.role
            proto.role = role
            await s.flush()
            who = performer_of(await find_user(s, performer) if performer else None, ip)
            record(
                s, "modify_prototype_permission", org, who,
                metadata={"role": role, "original_role": old, "namespace": org},
                namespace_id=ns.id,
            )  # fmt: skip
            return (await self._prototypes(s, ns.id, only=prototype_id))[0]

    async def delete_prototype(
        self, org: str, prototype_id: str, *, performer: str | None = None, ip: str | None = None
    ) -> None:
        async with self.db.write() as s:
            ns = await get_org(s, org)
            result = await s.execute(
                delete(Prototype).where(
                    Prototype.namespace_id == ns.id, Prototype.uuid == prototype_id
                )
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                raise PrototypeNotFound(prototype_id)
            who = performer_of(await find_user(s, performer) if performer else None, ip)
            record(
                s, "delete_prototype_permission", org, who,
                metadata={"namespace": org, "id": prototype_id}, namespace_id=ns.id,
            )  # fmt: skip

    # -- questions for the API layer --
    async def repository_access(
        self, repo: RepoName, principal: Principal
    ) -> tuple[RepositoryFacts, str | None]:
        """The repository's facts and the principal's effective (uncapped) role there."""
        async with self.db.read() as s:
            facts = await access_facts(s, repo, principal)
        return facts, effective_role(principal, facts)

    async def repository_role(self, repo: RepoName, principal: Principal) -> str | None:
        """The principal's effective role on the repository (admin for namespace admins)."""
        async with self.db.read() as s:
            facts = await access_facts(s, repo, principal)
        return effective_role(principal, facts)


def effective_role(principal: Principal, facts: RepositoryFacts) -> str | None:
    from berth.auth.access import repository_role

    return repository_role(principal, facts)
