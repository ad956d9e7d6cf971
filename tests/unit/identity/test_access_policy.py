"""AccessPolicy.decide on facts: one table of principals x facts -> granted actions."""

from __future__ import annotations

import pytest

from berth.auth.access import ANONYMOUS, AccessPolicy, Principal, RepositoryFacts

ALL = frozenset({"pull", "push", "*"})
ALICE = Principal("user", "alice")
BOB = Principal("user", "bob")
ROOT = Principal("user", "root", is_superuser=True)
BOT = Principal("robot", "acme+ci")


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
    ("read perm", BOB, user_repo(repo_role="read"), {"pull"}, False),
    ("write perm", BOB, user_repo(repo_role="write"), {"pull", "push"}, False),
    ("admin perm", BOB, user_repo(repo_role="admin"), {"pull", "push", "*"}, False),
    ("org admin team", BOB, org_repo(org_role="admin"), {"pull", "push", "*"}, False),
    ("org member team", BOB, org_repo(org_role="member"), set(), False),
    ("org creator team", BOB, org_repo(org_role="creator"), set(), False),
    ("creator missing", BOT, org_repo(exists=False, org_role="creator"), {"push"}, True),
    ("member missing", BOB, org_repo(exists=False, org_role="member"), set(), False),
    ("admin missing", BOB, org_repo(exists=False, org_role="admin"), {"pull", "push"}, True),
    ("robot write", BOT, org_repo(repo_role="write"), {"pull", "push"}, False),
    ("read only state", BOB, org_repo(repo_role="admin", state="READ_ONLY"), {"pull"}, False),
    ("mirror state", BOB, org_repo(repo_role="write", state="MIRROR"), {"pull"}, False),
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
