"""Role order, caps, and the caps OAuth scopes put on roles."""

from __future__ import annotations

import json

import pytest

from berth.authz import (
    RepoRole,
    TeamRole,
    at_least,
    capped,
    from_rank,
    rank,
    repo_role_cap,
    stronger,
    strongest,
    team_role_cap,
)


def test_values_are_the_stored_strings() -> None:
    """Rows and JSON answers keep the strings Quay uses."""
    assert [r.value for r in RepoRole] == ["read", "write", "admin"]
    assert [r.value for r in TeamRole] == ["member", "creator", "admin"]
    assert RepoRole("write") is RepoRole.WRITE
    assert TeamRole.CREATOR == "creator"
    assert json.dumps({"role": RepoRole.ADMIN}) == '{"role": "admin"}'


def test_ranks_weakest_first() -> None:
    assert [rank(r) for r in (None, *RepoRole)] == [0, 1, 2, 3]
    assert [rank(r) for r in (None, *TeamRole)] == [0, 1, 2, 3]
    assert [from_rank(RepoRole, n) for n in (None, 0, 1, 2, 3)] == [
        None,
        None,
        RepoRole.READ,
        RepoRole.WRITE,
        RepoRole.ADMIN,
    ]
    assert from_rank(TeamRole, 2) is TeamRole.CREATOR


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (None, None, None),
        (None, RepoRole.READ, RepoRole.READ),
        (RepoRole.WRITE, None, RepoRole.WRITE),
        (RepoRole.READ, RepoRole.ADMIN, RepoRole.ADMIN),
        (RepoRole.ADMIN, RepoRole.WRITE, RepoRole.ADMIN),
        (TeamRole.MEMBER, TeamRole.CREATOR, TeamRole.CREATOR),
    ],
)
def test_stronger(a: RepoRole | None, b: RepoRole | None, expected: RepoRole | None) -> None:
    assert stronger(a, b) is expected
    assert stronger(b, a) is expected


def test_strongest() -> None:
    assert strongest([]) is None
    assert strongest([None, TeamRole.MEMBER, TeamRole.ADMIN, TeamRole.CREATOR]) is TeamRole.ADMIN


def test_at_least() -> None:
    assert at_least(RepoRole.ADMIN, RepoRole.WRITE)
    assert at_least(RepoRole.WRITE, RepoRole.WRITE)
    assert not at_least(RepoRole.READ, RepoRole.WRITE)
    assert not at_least(None, RepoRole.READ)
    assert at_least(TeamRole.ADMIN, TeamRole.CREATOR)
    assert not at_least(TeamRole.MEMBER, TeamRole.CREATOR)


@pytest.mark.parametrize(
    ("role", "cap", "expected"),
    [
        (RepoRole.ADMIN, RepoRole.ADMIN, RepoRole.ADMIN),
        (RepoRole.ADMIN, RepoRole.READ, RepoRole.READ),
        (RepoRole.READ, RepoRole.WRITE, RepoRole.READ),
        (RepoRole.WRITE, None, None),
        (None, RepoRole.ADMIN, None),
        (None, None, None),
        (TeamRole.ADMIN, TeamRole.CREATOR, TeamRole.CREATOR),
        (TeamRole.MEMBER, TeamRole.CREATOR, TeamRole.MEMBER),
    ],
)
def test_capped(role: RepoRole | None, cap: RepoRole | None, expected: RepoRole | None) -> None:
    assert capped(role, cap) is expected


@pytest.mark.parametrize(
    ("scopes", "cap"),
    [
        (None, RepoRole.ADMIN),  # a session: not capped
        (frozenset(), None),
        (frozenset({"user:read"}), None),
        (frozenset({"repo:read"}), RepoRole.READ),
        (frozenset({"repo:read", "repo:write"}), RepoRole.WRITE),
        (frozenset({"repo:admin", "repo:read"}), RepoRole.ADMIN),
        (frozenset({"repo:create"}), None),
    ],
)
def test_repo_role_cap(scopes: frozenset[str] | None, cap: RepoRole | None) -> None:
    assert repo_role_cap(scopes) is cap


@pytest.mark.parametrize(
    ("scopes", "cap"),
    [
        (None, TeamRole.ADMIN),
        (frozenset(), None),
        (frozenset({"repo:admin"}), None),
        (frozenset({"repo:create"}), TeamRole.CREATOR),
        (frozenset({"org:admin", "repo:create"}), TeamRole.ADMIN),
    ],
)
def test_team_role_cap(scopes: frozenset[str] | None, cap: TeamRole | None) -> None:
    assert team_role_cap(scopes) is cap
