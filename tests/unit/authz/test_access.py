"""AccessPolicy.decide on facts: one table of principals x facts -> granted actions."""

from __future__ import annotations

import pytest

from berth.authz import (
    ANONYMOUS,
    AccessPolicy,
    Principal,
    RepoRole,
    RepositoryFacts,
    RepositoryState,
    TeamRole,
    is_namespace_admin,
    may_create,
    repository_role,
)

ALL = frozenset({"pull", "push", "*"})
ALICE = Principal("user", "alice")
BOB = Principal("user", "bob")
ROOT = Principal("user", "root", is_superuser=True)
BOT = Principal("robot", "acme+ci")
READ_ONLY, MIRROR = RepositoryState.READ_ONLY, RepositoryState.MIRROR


def org_repo(**kw: object) -> RepositoryFacts:
    base: dict[str, object] = {
        "namespace": "acme",
        "name": "app",
        "exists": True,
        "namespace_kind": "org",
    }
    return RepositoryFacts(**{**base, **kw})  # type: ignore[arg-type]


def user_repo(**kw: object) -> RepositoryFacts:
    base: dict[str, object] = {
        "namespace": "alice",
        "name": "app",
        "exists": True,
        "namespace_kind": "user",
    }
    return RepositoryFacts(**{**base, **kw})  # type: ignore[arg-type]


CASES = [
    # (id, principal, facts, granted, create)
    ("owner", ALICE, user_repo(), {"pull", "push", "*"}, False),
    ("owner missing repo", ALICE, user_repo(exists=False), {"pull", "push"}, True),
    ("stranger private", BOB, user_repo(), set(), False),
    ("stranger public", BOB, user_repo(is_public=True), {"pull"}, False),
    ("anonymous public", ANONYMOUS, user_repo(is_public=True), {"pull"}, False),
    ("anonymous private", ANONYMOUS, user_repo(), set(), False),
    ("read perm", BOB, user_repo(repo_role=RepoRole.READ), {"pull"}, False),
    ("write perm", BOB, user_repo(repo_role=RepoRole.WRITE), {"pull", "push"}, False),
    ("admin perm", BOB, user_repo(repo_role=RepoRole.ADMIN), {"pull", "push", "*"}, False),
    ("org admin team", BOB, org_repo(org_role=TeamRole.ADMIN), {"pull", "push", "*"}, False),
    ("org member team", BOB, org_repo(org_role=TeamRole.MEMBER), set(), False),
    ("org creator team", BOB, org_repo(org_role=TeamRole.CREATOR), set(), False),
    ("creator missing", BOT, org_repo(exists=False, org_role=TeamRole.CREATOR), {"push"}, True),
    ("member missing", BOB, org_repo(exists=False, org_role=TeamRole.MEMBER), set(), False),
    ("admin missing", BOB, org_repo(exists=False, org_role=TeamRole.ADMIN), {"pull", "push"}, True),
    ("robot write", BOT, org_repo(repo_role=RepoRole.WRITE), {"pull", "push"}, False),
    ("read only state", BOB, org_repo(repo_role=RepoRole.ADMIN, state=READ_ONLY), {"pull"}, False),
    ("mirror state", BOB, org_repo(repo_role=RepoRole.WRITE, state=MIRROR), {"pull"}, False),
    ("superuser", ROOT, org_repo(), {"pull", "push", "*"}, False),
    ("superuser no ns", ROOT, org_repo(exists=False, namespace_exists=False), {"push"}, True),
    ("no namespace", ALICE, org_repo(exists=False, namespace_exists=False), set(), False),
    ("disabled ns", ROOT, org_repo(namespace_enabled=False), set(), False),
    # A user named like an org's namespace does not own it.
    ("name is not ownership", Principal("user", "acme"), org_repo(), set(), False),
]


@pytest.mark.parametrize(
    ("principal", "facts", "granted", "create"),
    [pytest.param(*c[1:], id=c[0]) for c in CASES],
)
def test_decide(
    principal: Principal, facts: RepositoryFacts, granted: set[str], create: bool
) -> None:
    decision = AccessPolicy(anonymous_access=True).decide(principal, facts, ALL)
    assert set(decision.actions) == granted
    assert decision.create is create


def test_anonymous_access_off() -> None:
    policy = AccessPolicy(anonymous_access=False)
    assert not policy.decide(ANONYMOUS, user_repo(is_public=True), ALL).actions
    assert policy.decide(BOB, user_repo(is_public=True), ALL).actions == {"pull"}


def test_open_registry() -> None:
    policy = AccessPolicy(anonymous_access=False, open_registry=True)
    assert policy.decide(ANONYMOUS, user_repo(), ALL).actions == ALL
    d = policy.decide(ANONYMOUS, user_repo(exists=False), ALL)
    assert (set(d.actions), d.create) == ({"pull", "push"}, True)


def test_only_requested_actions() -> None:
    d = AccessPolicy(anonymous_access=True).decide(ALICE, user_repo(), frozenset({"pull"}))
    assert d.actions == {"pull"}


@pytest.mark.parametrize(
    ("cap", "granted"),
    [
        (RepoRole.ADMIN, {"pull", "push", "*"}),
        (RepoRole.WRITE, {"pull", "push"}),
        (RepoRole.READ, {"pull"}),
        (None, set()),
    ],
)
def test_token_scopes_cap_the_role(cap: RepoRole | None, granted: set[str]) -> None:
    """An OAuth token's scopes cap even the namespace owner's admin role."""
    owner = Principal("user", "alice", role_cap=cap)
    assert AccessPolicy(anonymous_access=True).decide(owner, user_repo(), ALL).actions == granted


def test_capped_token_still_pulls_public_repositories() -> None:
    bob = Principal("user", "bob", role_cap=None)
    policy = AccessPolicy(anonymous_access=False)
    assert policy.decide(bob, user_repo(is_public=True), ALL).actions == {"pull"}


def test_token_without_repo_create_creates_nothing() -> None:
    alice = Principal("user", "alice", may_create_repos=False)
    d = AccessPolicy(anonymous_access=True).decide(alice, user_repo(exists=False), ALL)
    assert (set(d.actions), d.create) == ({"pull"}, False)


def test_restricted_user_creates_nothing_in_its_namespace() -> None:
    alice = Principal("user", "alice", restricted=True)
    d = AccessPolicy(anonymous_access=True).decide(alice, user_repo(exists=False), ALL)
    assert (set(d.actions), d.create) == ({"pull"}, False)
    # Org teams still apply.
    d = AccessPolicy(anonymous_access=True).decide(
        alice, org_repo(exists=False, org_role=TeamRole.CREATOR), ALL
    )
    assert (set(d.actions), d.create) == ({"push"}, True)


@pytest.mark.parametrize("state", [RepositoryState.READ_ONLY, RepositoryState.MIRROR])
def test_open_registry_keeps_state_refusals(state: RepositoryState) -> None:
    policy = AccessPolicy(anonymous_access=False, open_registry=True)
    assert policy.decide(ANONYMOUS, user_repo(state=state), ALL).actions == {"pull"}


@pytest.mark.parametrize(
    ("principal", "facts", "role"),
    [
        (ANONYMOUS, user_repo(is_public=True), None),
        (ALICE, user_repo(), RepoRole.ADMIN),
        (ROOT, org_repo(), RepoRole.ADMIN),
        (BOB, org_repo(org_role=TeamRole.ADMIN), RepoRole.ADMIN),
        (BOB, org_repo(org_role=TeamRole.CREATOR, repo_role=RepoRole.READ), RepoRole.READ),
        (BOB, org_repo(exists=False, repo_role=RepoRole.WRITE), None),
        (BOT, org_repo(repo_role=RepoRole.WRITE), RepoRole.WRITE),
    ],
)
def test_repository_role(
    principal: Principal, facts: RepositoryFacts, role: RepoRole | None
) -> None:
    assert repository_role(principal, facts) is role


def test_namespace_admin_and_create_rights() -> None:
    assert is_namespace_admin(ALICE, user_repo())
    assert not is_namespace_admin(BOB, user_repo())
    assert is_namespace_admin(BOB, org_repo(org_role=TeamRole.ADMIN))
    assert not is_namespace_admin(BOB, org_repo(org_role=TeamRole.CREATOR))
    assert may_create(BOB, org_repo(org_role=TeamRole.CREATOR))
    assert not may_create(BOB, org_repo(org_role=TeamRole.MEMBER))


# ---- proxy-cache organizations ----------------------------------------------------------
@pytest.mark.parametrize(
    ("principal", "facts", "granted"),
    [
        # Members pull any repository of a proxy cache, existing or not; nobody pushes.
        (ALICE, org_repo(exists=False, is_proxy_cache=True, org_role=TeamRole.MEMBER), {"pull"}),
        (ALICE, org_repo(is_proxy_cache=True, org_role=TeamRole.MEMBER), {"pull"}),
        (ALICE, org_repo(exists=False, is_proxy_cache=True, org_role=TeamRole.ADMIN), {"pull"}),
        (
            ALICE,
            org_repo(is_proxy_cache=True, org_role=TeamRole.ADMIN, repo_role=RepoRole.ADMIN),
            {"pull", "*"},
        ),
        (ROOT, org_repo(exists=False, is_proxy_cache=True), {"pull"}),
        # Outsiders and anonymous callers learn nothing.
        (BOB, org_repo(exists=False, is_proxy_cache=True), set()),
        (ANONYMOUS, org_repo(exists=False, is_proxy_cache=True), set()),
    ],
)
def test_proxy_cache_organizations(
    principal: Principal, facts: RepositoryFacts, granted: set[str]
) -> None:
    decision = AccessPolicy(anonymous_access=True).decide(principal, facts, ALL)
    assert decision.actions == granted
    assert not decision.create


def test_open_registry_never_pushes_into_a_proxy_cache() -> None:
    facts = org_repo(exists=False, is_proxy_cache=True)
    decision = AccessPolicy(anonymous_access=True, open_registry=True).decide(ANONYMOUS, facts, ALL)
    assert decision.actions == {"pull"}
    assert not decision.create
