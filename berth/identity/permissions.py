"""Repository permissions, default permissions (prototypes) and the role lookup behind the
access decision.

Roles: repositories ``read`` < ``write`` < ``admin``; teams ``member``, ``creator``,
``admin``. A user's repository role is the strongest of: owner of the user namespace or
member of an org ``admin`` team (admin), a direct permission (users and robots), and the
permissions of the teams the user is in.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import ColumnElement, and_, case, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from berth.audit.services import Performer, record
from berth.authz import (
    Principal,
    RepoRole,
    RepositoryFacts,
    RepositoryState,
    TeamRole,
    from_rank,
    rank,
    repository_role,
    stronger,
)
from berth.db.session import Database
from berth.identity.errors import (
    InvalidDelegate,
    InvalidRole,
    OwnerMustBeAdmin,
    PermissionNotFound,
    PrototypeNotFound,
    RepositoryNotFound,
)
from berth.identity.models import (
    Prototype,
    RepositoryPermission,
    RobotAccount,
    Team,
    TeamMember,
    User,
)
from berth.identity.orgs import find_user, get_org, performer_of
from berth.namespaces.models import Namespace
from berth.registry.models import Repository
from berth.registry.repositories import RepoName

REPO_ROLES = tuple(RepoRole)


def _rank_expr(col: Any, roles: type[RepoRole] | type[TeamRole]) -> Any:
    """The rank of the role in ``col`` (0: none), in SQL."""
    return case(*((col == role.value, role.rank) for role in roles), else_=0)


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
            select(func.max(_rank_expr(RepositoryPermission.role, RepoRole)))
            .where(
                RepositoryPermission.repository_id == Repository.id,
                RepositoryPermission.user_id == uid,
            )
            .scalar_subquery()
        )
        via_team = (
            select(func.max(_rank_expr(RepositoryPermission.role, RepoRole)))
            .join(TeamMember, TeamMember.team_id == RepositoryPermission.team_id)
            .where(RepositoryPermission.repository_id == Repository.id, TeamMember.user_id == uid)
            .scalar_subquery()
        )
        team_role = (
            select(func.max(_rank_expr(Team.role, TeamRole)))
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
        repo_role = stronger(from_rank(RepoRole, row[6]), from_rank(RepoRole, row[7]))
        org_role = from_rank(TeamRole, row[8])
    return RepositoryFacts(
        repo.namespace,
        repo.name,
        exists=repo_id is not None,
        is_public=bool(is_public),
        state=RepositoryState(state) if state else RepositoryState.NORMAL,
        namespace_enabled=bool(enabled),
        namespace_id=ns_id,
        namespace_kind=ns_kind,
        repository_id=repo_id,
        repo_role=repo_role,
        org_role=org_role,
    )


def live_repositories() -> Any:
    """A condition on ``Repository``: not deleted, nor in a deleted namespace (both hidden
    while a job removes their rows)."""
    return and_(
        Repository.state != RepositoryState.MARKED_FOR_DELETION,
        Repository.namespace_id.in_(select(Namespace.id).where(Namespace.enabled)),
    )


def visible_repositories(username: str) -> Any:
    """A condition on ``Repository`` true for the live repositories ``username`` may read
    (own namespace, org admin teams, direct and team permissions); public ones excluded."""
    uid = select(User.id).where(User.username == username).scalar_subquery()
    own_ns = select(User.namespace_id).where(User.username == username, User.kind == "user")
    admin_ns = (
        select(Team.namespace_id)
        .join(TeamMember, TeamMember.team_id == Team.id)
        .where(TeamMember.user_id == uid, Team.role == TeamRole.ADMIN)
    )
    direct = select(RepositoryPermission.repository_id).where(RepositoryPermission.user_id == uid)
    via_team = (
        select(RepositoryPermission.repository_id)
        .join(TeamMember, TeamMember.team_id == RepositoryPermission.team_id)
        .where(TeamMember.user_id == uid)
    )
    return and_(
        live_repositories(),
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
        await _set_user_role(session, repo.id, creator_id, RepoRole.ADMIN)
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
    applies: ColumnElement[bool] = Prototype.activating_user_id.is_(None)
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
            or (specific == have[0] and rank(RepoRole(p.role)) > rank(RepoRole(have[1])))
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
    """A user's or robot's direct permission. ``is_org_member`` is None in user namespaces
    (robots count as members of their organization, as in Quay)."""

    name: str
    role: str
    is_robot: bool
    is_org_member: bool | None = None
    email: str | None = None


@dataclass(frozen=True)
class TeamPermission:
    name: str
    role: str


@dataclass(frozen=True)
class PrototypeUser:
    """A prototype's activating user or user delegate (users and robots)."""

    name: str
    is_robot: bool
    is_org_member: bool
    email: str | None = None


@dataclass(frozen=True)
class PrototypeDelegate:
    kind: str  # "user" | "team"
    name: str
    is_robot: bool = False
    is_org_member: bool = False
    email: str | None = None


@dataclass(frozen=True)
class PrototypeInfo:
    id: str
    role: str
    delegate: PrototypeDelegate
    activating_user: PrototypeUser | None


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


async def _org_members(s: AsyncSession, ns: Namespace, user_ids: set[int]) -> set[int]:
    """Those of ``user_ids`` in a team of the organization (nobody for user namespaces)."""
    if ns.kind != "org" or not user_ids:
        return set()
    return set(
        (
            await s.execute(
                select(TeamMember.user_id)
                .join(Team, Team.id == TeamMember.team_id)
                .where(Team.namespace_id == ns.id, TeamMember.user_id.in_(user_ids))
            )
        ).scalars()
    )


async def _require_own_robot(s: AsyncSession, user: User, ns: Namespace) -> None:
    """Robots get permissions only in their own namespace."""
    if user.kind != "robot":
        return
    robot_ns = (
        await s.execute(select(RobotAccount.namespace_id).where(RobotAccount.user_id == user.id))
    ).scalar()
    if robot_ns != ns.id:
        raise InvalidDelegate(
            f"Cannot add robot {user.username} under namespace {ns.name}", username=user.username
        )


def _user_permission(
    ns: Namespace, user_id: int, name: str, kind: str, email: str | None, role: str,
    members: set[int],
) -> UserPermission:  # fmt: skip
    is_robot = kind == "robot"
    is_member = (is_robot or user_id in members) if ns.kind == "org" else None
    return UserPermission(name, role, is_robot, is_member, email)


def _record_in_repo(
    s: AsyncSession, kind: str, r: Repository, ns: Namespace, who: Performer | None,
    metadata: dict[str, Any],
) -> None:  # fmt: skip
    record(
        s, kind, ns.name, who, r.name, {**metadata, "repo": r.name, "namespace": ns.name},
        namespace_id=ns.id, repository_id=r.id,
    )  # fmt: skip


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
        """Create or change a direct permission (Quay logs both as change_repo_permission).
        The namespace owner is always admin: no permission of its own can be set."""
        _check_role(role)
        async with self.db.write() as s:
            r, ns = await _repo(s, repo)
            if username == ns.name:
                raise OwnerMustBeAdmin()
            user = await find_user(s, username)
            if user is None:
                raise InvalidDelegate(f"Invalid username: {username}", username=username)
            await _require_own_robot(s, user, ns)
            await _set_user_role(s, r.id, user.id, role)
            who = performer_of(await find_user(s, performer) if performer else None, ip)
            _record_in_repo(
                s, "change_repo_permission", r, ns, who, {"username": username, "role": role}
            )
            members = await _org_members(s, ns, {user.id})
            return _user_permission(
                ns, user.id, user.username, user.kind, user.email, role, members
            )

    async def get_user_permission(self, repo: RepoName, username: str) -> UserPermission:
        async with self.db.read() as s:
            r, ns = await _repo(s, repo)
            row = (
                await s.execute(
                    select(User.id, User.username, User.kind, User.email, RepositoryPermission.role)
                    .join(User, User.id == RepositoryPermission.user_id)
                    .where(RepositoryPermission.repository_id == r.id, User.username == username)
                )
            ).first()
            if row is None:
                raise PermissionNotFound("User")
            return _user_permission(ns, *row, await _org_members(s, ns, {row.id}))

    async def delete_user_permission(
        self, repo: RepoName, username: str, *, performer: str | None = None, ip: str | None = None
    ) -> None:
        async with self.db.write() as s:
            r, ns = await _repo(s, repo)
            if username == ns.name:
                raise OwnerMustBeAdmin()
            user = await find_user(s, username)
            result = await s.execute(
                delete(RepositoryPermission).where(
                    RepositoryPermission.repository_id == r.id,
                    RepositoryPermission.user_id == (user.id if user else -1),
                )
            )
            if not result.rowcount:  # type: ignore[attr-defined]  # rowcount: a DML result is a CursorResult
                raise PermissionNotFound("User")
            who = performer_of(await find_user(s, performer) if performer else None, ip)
            _record_in_repo(s, "delete_repo_permission", r, ns, who, {"username": username})

    async def list_user_permissions(self, repo: RepoName) -> list[UserPermission]:
        async with self.db.read() as s:
            r, ns = await _repo(s, repo)
            rows = (
                await s.execute(
                    select(User.id, User.username, User.kind, User.email, RepositoryPermission.role)
                    .join(User, User.id == RepositoryPermission.user_id)
                    .where(RepositoryPermission.repository_id == r.id)
                    .order_by(User.username)
                )
            ).all()
            members = await _org_members(s, ns, {row.id for row in rows})
            return [_user_permission(ns, *row, members) for row in rows]

    async def user_repository_roles(self, repo: RepoName, username: str) -> list[str]:
        """Quay's transitive permission: the roles of the user's direct permission and of
        its teams' permissions on the repository (empty for an unknown user)."""
        async with self.db.read() as s:
            r, _ns = await _repo(s, repo)
            user = await find_user(s, username)
            if user is None:
                return []
            direct = select(RepositoryPermission.role).where(
                RepositoryPermission.repository_id == r.id,
                RepositoryPermission.user_id == user.id,
            )
            via_teams = (
                select(RepositoryPermission.role)
                .join(TeamMember, TeamMember.team_id == RepositoryPermission.team_id)
                .where(RepositoryPermission.repository_id == r.id, TeamMember.user_id == user.id)
            )
            return list((await s.execute(direct.union_all(via_teams))).scalars())

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
                raise InvalidDelegate(f"No team {team} in organization {ns.name}", team=team)
            await _set_team_role(s, r.id, t.id, role)
            who = performer_of(await find_user(s, performer) if performer else None, ip)
            _record_in_repo(s, "change_repo_permission", r, ns, who, {"team": team, "role": role})
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
            if not result.rowcount:  # type: ignore[attr-defined]  # rowcount: a DML result is a CursorResult
                raise PermissionNotFound("Team")
            who = performer_of(await find_user(s, performer) if performer else None, ip)
            _record_in_repo(s, "delete_repo_permission", r, ns, who, {"team": team})

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
            _record_in_repo(
                s, "change_repo_visibility", r, ns, who,
                {"visibility": "public" if public else "private"},
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
        """A default permission. ``delegate_user`` may be a robot of the organization;
        ``activating_user`` (users and robots, as in Quay) limits it to the repositories
        that account creates."""
        _check_role(role)
        if (delegate_user is None) == (delegate_team is None):
            raise InvalidDelegate("Missing delegate user or team")
        async with self.db.write() as s:
            ns = await get_org(s, org)
            activating = None
            if activating_user:
                activating = await find_user(s, activating_user)
                if activating is None:
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
                await _require_own_robot(s, user, ns)
                proto.delegate_user_id = user.id
            else:
                team = (
                    await s.execute(
                        select(Team).where(Team.namespace_id == ns.id, Team.name == delegate_team)
                    )
                ).scalar_one_or_none()
                if team is None:
                    raise InvalidDelegate("Missing delegate user or team", team=delegate_team)
                proto.delegate_team_id = team.id
            s.add(proto)
            await s.flush()
            info = (await self._prototypes(s, ns, only=proto.uuid))[0]
            who = performer_of(await find_user(s, performer) if performer else None, ip)
            _record_prototype(s, "create_prototype_permission", ns, who, info)
            return info

    async def list_prototypes(self, org: str) -> list[PrototypeInfo]:
        async with self.db.read() as s:
            ns = await get_org(s, org)
            return await self._prototypes(s, ns)

    async def _prototypes(
        self, s: AsyncSession, ns: Namespace, only: str | None = None
    ) -> list[PrototypeInfo]:
        delegate_user = User.__table__.alias("delegate_user")
        activating = User.__table__.alias("activating")
        people = (delegate_user, activating)
        stmt = (
            select(
                Prototype.uuid,
                Prototype.role,
                Team.name,
                *(c for u in people for c in (u.c.id, u.c.username, u.c.kind, u.c.email)),
            )
            .outerjoin(delegate_user, delegate_user.c.id == Prototype.delegate_user_id)
            .outerjoin(Team, Team.id == Prototype.delegate_team_id)
            .outerjoin(activating, activating.c.id == Prototype.activating_user_id)
            .where(Prototype.namespace_id == ns.id)
            .order_by(Prototype.id)
        )
        if only is not None:
            stmt = stmt.where(Prototype.uuid == only)
        rows = (await s.execute(stmt)).all()
        members = await _org_members(s, ns, {i for row in rows for i in (row[3], row[7]) if i})

        def person(uid: int | None, name: str, kind: str, email: str | None) -> PrototypeUser:
            robot = kind == "robot"
            return PrototypeUser(name, robot, robot or uid in members, email)

        out = []
        for pid, role, team, *cols in rows:
            d, a = person(*cols[:4]), (person(*cols[4:]) if cols[4] is not None else None)
            delegate = (
                PrototypeDelegate("user", d.name, d.is_robot, d.is_org_member, d.email)
                if cols[0] is not None
                else PrototypeDelegate("team", team)
            )
            out.append(PrototypeInfo(pid, role, delegate, a))
        return out

    async def _prototype(self, s: AsyncSession, ns: Namespace, prototype_id: str) -> PrototypeInfo:
        found = await self._prototypes(s, ns, only=prototype_id)
        if not found:
            raise PrototypeNotFound(prototype_id)
        return found[0]

    async def update_prototype(
        self, org: str, prototype_id: str, role: str, *, performer: str | None = None,
        ip: str | None = None,
    ) -> PrototypeInfo:  # fmt: skip
        _check_role(role)
        async with self.db.write() as s:
            ns = await get_org(s, org)
            old = await self._prototype(s, ns, prototype_id)
            await s.execute(
                update(Prototype)
                .where(Prototype.namespace_id == ns.id, Prototype.uuid == prototype_id)
                .values(role=role)
            )
            info = replace(old, role=role)
            who = performer_of(await find_user(s, performer) if performer else None, ip)
            _record_prototype(
                s, "modify_prototype_permission", ns, who, info, original_role=old.role
            )
            return info

    async def delete_prototype(
        self, org: str, prototype_id: str, *, performer: str | None = None, ip: str | None = None
    ) -> None:
        async with self.db.write() as s:
            ns = await get_org(s, org)
            info = await self._prototype(s, ns, prototype_id)
            await s.execute(
                delete(Prototype).where(
                    Prototype.namespace_id == ns.id, Prototype.uuid == prototype_id
                )
            )
            who = performer_of(await find_user(s, performer) if performer else None, ip)
            _record_prototype(s, "delete_prototype_permission", ns, who, info)

    # -- questions for the API layer --
    async def repository_access(
        self, repo: RepoName, principal: Principal
    ) -> tuple[RepositoryFacts, RepoRole | None]:
        """The repository's facts and the principal's effective (uncapped) role there."""
        async with self.db.read() as s:
            facts = await access_facts(s, repo, principal)
        return facts, effective_role(principal, facts)

    async def repository_role(self, repo: RepoName, principal: Principal) -> RepoRole | None:
        """The principal's effective role on the repository (admin for namespace admins)."""
        async with self.db.read() as s:
            facts = await access_facts(s, repo, principal)
        return effective_role(principal, facts)


def effective_role(principal: Principal, facts: RepositoryFacts) -> RepoRole | None:
    return repository_role(principal, facts)


def _record_prototype(
    s: AsyncSession, kind: str, ns: Namespace, who: Performer | None, info: PrototypeInfo,
    **extra: str,
) -> None:  # fmt: skip
    """Quay's prototype log entry: id, performer, activating user, role and delegate."""
    delegate_key = "delegate_user" if info.delegate.kind == "user" else "delegate_team"
    metadata = {
        "prototypeid": info.id,
        "username": who.name if who else None,
        "activating_username": info.activating_user.name if info.activating_user else None,
        "role": info.role,
        delegate_key: info.delegate.name,
        **extra,
    }
    record(s, kind, ns.name, who, metadata=metadata, namespace_id=ns.id)
