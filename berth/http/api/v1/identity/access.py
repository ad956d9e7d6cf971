"""Quay's organization permissions for /api/v1 handlers (``AdministerOrganizationPermission``,
``OrganizationMemberPermission``, ``ViewTeamPermission``), and identity errors as Quay
answers them. Organizations and teams use ``org_access``/``administered_org``; robots and
prototypes the simpler ``org_standing``/``require_org_admin`` on top of them.

A caller's organization role is the strongest role of its teams there (its own user
namespace counts as ``admin``), capped by its token's scopes as Quay caps team roles:
``org:admin`` allows up to admin, ``repo:create`` up to creator, other scopes nothing;
browser sessions are not capped. Superusers pass the admin checks only with
FEATURE_SUPERUSERS_FULL_ACCESS. Global read-only superusers pass the admin checks on reads
(GET) only, and see every organization as a member does; their writes are refused as any
non-member's. Permission comes before existence: an unknown organization
answers 401/403 to whoever could not administer it anyway, and 404 only to those who pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from berth.authz import TeamRole, capped, strongest, team_role_cap
from berth.http.api.v1.errors import (
    not_found,
    unauthorized,
)
from berth.http.api.v1.framework import SAFE_METHODS, ApiCaller, Ctx
from berth.identity.accounts import UserRecord
from berth.identity.orgs import Standing


def caller_team_role_cap(caller: ApiCaller) -> TeamRole | None:
    """The strongest team role the caller's credential allows (sessions: admin; robots and
    anonymous callers: none)."""
    if caller.user is None or caller.user.kind != "user":
        return None
    return team_role_cap(caller.scopes)


@dataclass(frozen=True)
class OrgAccess:
    """A namespace the request addresses, and the caller's (scope-capped) roles there."""

    name: str
    standing: Standing
    role: TeamRole | None  # strongest role (None: not a member)
    team_roles: dict[str, TeamRole]  # team -> role, the caller's teams that still count
    superuser: bool  # a superuser with FEATURE_SUPERUSERS_FULL_ACCESS
    readonly_superuser: bool = False  # a global read-only superuser: reads, never writes
    reading: bool = False  # the request is a read (GET/HEAD)

    @property
    def reads_all(self) -> bool:
        """Sees every team and member: a superuser with full access, or a global read-only
        superuser."""
        return self.superuser or self.readonly_superuser

    @property
    def may_read_as_admin(self) -> bool:
        """Passes Quay's admin check for this request: administrators, and global read-only
        superusers on a read."""
        return self.may_administer or (self.readonly_superuser and self.reading)

    @property
    def is_admin(self) -> bool:
        return self.role is TeamRole.ADMIN

    @property
    def is_member(self) -> bool:
        return self.role is not None

    @property
    def may_administer(self) -> bool:
        return self.is_admin or self.superuser

    def can_view_team(self, team: str) -> bool:
        return self.is_admin or team in self.team_roles

    def require_org(self) -> OrgAccess:
        """404 unless the namespace is an organization."""
        if not self.standing.is_org:
            raise not_found()
        return self


async def org_access(ctx: Ctx, name: str) -> OrgAccess:
    """What the caller may do in namespace ``name``, without refusing anything."""
    user = ctx.caller.user
    standing = await ctx.api.svc.orgs.standing(name, user.id if user else None)
    cap = caller_team_role_cap(ctx.caller)
    team_roles = {
        team: TeamRole(role)
        for team, role in standing.teams
        if capped(TeamRole(role), cap) is not None
    }
    roles = [capped(role, cap) for role in team_roles.values()]
    if standing.owner:
        roles.append(capped(TeamRole.ADMIN, cap))
    role = strongest(roles)
    superuser = ctx.caller.is_superuser and ctx.api.settings.api.superusers_full_access
    return OrgAccess(
        name,
        standing,
        role,
        team_roles,
        superuser,
        readonly_superuser=ctx.is_readonly_superuser,
        reading=ctx.request.method in SAFE_METHODS,
    )


async def administered_org(ctx: Ctx, name: str) -> OrgAccess:
    """Quay's ``AdministerOrganizationPermission`` (or a superuser with full access; on a
    read, a global read-only superuser): 401 anonymous, 403 otherwise. Existence is the
    handler's business (``require_org``)."""
    access = await org_access(ctx, name)
    if not access.may_read_as_admin:
        raise unauthorized(ctx.caller.user is not None)
    return access


@dataclass(frozen=True)
class OrgStanding:
    """May the caller administer the namespace, is it a member (superusers with full
    access count as both)?"""

    is_admin: bool
    is_member: bool


async def org_standing(ctx: Ctx, namespace: str) -> OrgStanding:
    access = await org_access(ctx, namespace)
    return OrgStanding(access.may_read_as_admin, access.is_member or access.reads_all)


async def require_org_admin(ctx: Ctx, namespace: str) -> UserRecord:
    """401 anonymous, 403 unless the caller administers ``namespace``; the caller."""
    await administered_org(ctx, namespace)
    assert ctx.caller.user is not None
    return ctx.caller.user


def actor(ctx: Ctx) -> dict[str, Any]:
    """The acting user and its address, as the services record them in usage logs."""
    user = ctx.caller.user
    return {"performer": user.username if user else None, "ip": ctx.actor_ip}
