"""Roles and their order, and how a token's OAuth scopes cap them.

Repository roles: ``read`` < ``write`` < ``admin``. Team roles (a user's standing in an
organization): ``member`` < ``creator`` < ``admin``. No role at all is ``None`` and ranks
below every role. The values are the strings stored in ``repository_permissions.role``,
``teams.role`` and ``prototypes.role`` and answered by /api/v1, so ``RepoRole("write")``
and ``"write" == RepoRole.WRITE`` both hold.

A cap is the strongest role a credential allows (``None``: no role). Browser sessions,
passwords and robot tokens are capped at ``ADMIN``, which caps nothing. Quay's caps:

* repositories: ``repo:admin`` -> admin, ``repo:write`` -> write, ``repo:read`` -> read;
* teams: ``org:admin`` -> admin, ``repo:create`` -> creator.
"""

from __future__ import annotations

from collections.abc import Collection
from enum import StrEnum
from typing import TypeVar


class RepoRole(StrEnum):
    """A role on a repository, weakest first."""

    READ = "read"
    WRITE = "write"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANKS[self]


class TeamRole(StrEnum):
    """A team's role in its organization, weakest first."""

    MEMBER = "member"
    CREATOR = "creator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANKS[self]


_RANKS: dict[RepoRole | TeamRole, int] = {
    **{role: i for i, role in enumerate(RepoRole, start=1)},
    **{role: i for i, role in enumerate(TeamRole, start=1)},
}

Role = TypeVar("Role", RepoRole, TeamRole)


def rank(role: RepoRole | TeamRole | None) -> int:
    """0 for no role, then 1, 2, 3 from the weakest role up."""
    return 0 if role is None else role.rank


def from_rank(kind: type[Role], value: int | None) -> Role | None:
    """The role of ``kind`` with rank ``value`` (0 or None: no role)."""
    if not value:
        return None
    return list(kind)[value - 1]


def stronger(a: Role | None, b: Role | None) -> Role | None:
    """The stronger of two roles (None when neither is a role)."""
    return a if rank(a) >= rank(b) else b


def strongest(roles: Collection[Role | None]) -> Role | None:
    """The strongest of ``roles`` (None for none)."""
    best: Role | None = None
    for role in roles:
        best = stronger(best, role)
    return best


def at_least(role: RepoRole | TeamRole | None, required: RepoRole | TeamRole) -> bool:
    """Does ``role`` give what ``required`` gives?"""
    return rank(role) >= rank(required)


def capped(role: Role | None, cap: Role | None) -> Role | None:
    """``role`` limited to ``cap`` (a cap of None leaves no role)."""
    return role if rank(role) <= rank(cap) else cap


_REPO_SCOPE_CAPS = (
    ("repo:admin", RepoRole.ADMIN),
    ("repo:write", RepoRole.WRITE),
    ("repo:read", RepoRole.READ),
)
_TEAM_SCOPE_CAPS = (("org:admin", TeamRole.ADMIN), ("repo:create", TeamRole.CREATOR))


def repo_role_cap(scopes: Collection[str] | None) -> RepoRole | None:
    """The strongest repository role a token with ``scopes`` allows (``scopes`` None: a
    session or password, capped at admin, i.e. not capped)."""
    if scopes is None:
        return RepoRole.ADMIN
    return next((cap for scope, cap in _REPO_SCOPE_CAPS if scope in scopes), None)


def team_role_cap(scopes: Collection[str] | None) -> TeamRole | None:
    """The strongest team role a user's token with ``scopes`` allows (sessions: admin)."""
    if scopes is None:
        return TeamRole.ADMIN
    return next((cap for scope, cap in _TEAM_SCOPE_CAPS if scope in scopes), None)
