"""The access decision, in one place.

``AccessPolicy.decide`` answers which registry actions (``pull``, ``push``, ``*``) a principal
has on a repository, and whether it may create it. Every path that grants access (the token
endpoint, HTTP Basic on /v2, the API's repository checks) asks this and nothing else.

It is pure: the facts it decides on (repository state and visibility, the principal's
repository role and its team role in the namespace) come from one indexed query,
``access_facts`` beside the permission service. Quay's rules:

* repository role: namespace owner (user namespaces) and org ``admin`` teams -> admin;
  otherwise the strongest of the direct permission and the permissions of the principal's
  teams. Superusers are admin everywhere. Global read-only superusers
  (GLOBAL_READONLY_SUPER_USERS, LDAP_GLOBAL_READONLY_SUPERUSER_FILTER) read every existing
  repository: at least ``read`` everywhere, nothing more from that standing. A token's
  scopes cap the role (``roles``).
* pull: read role, or a public repository (anonymous callers only with
  FEATURE_ANONYMOUS_ACCESS).
* push: write role and a state that accepts pushes (NORMAL); a missing repository needs
  create rights on the namespace (own user namespace, org team role ``creator`` or
  ``admin``, superuser).
* ``*`` (delete): admin role and a state that accepts pushes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from berth.authz.roles import RepoRole, TeamRole, at_least, capped, stronger
from berth.authz.states import RepositoryState


class Action(StrEnum):
    PULL = "pull"
    PUSH = "push"
    DELETE = "*"


ALL_ACTIONS = frozenset(a.value for a in Action)


@dataclass(frozen=True)
class Principal:
    kind: str  # "user" | "robot" | "anonymous"
    name: str | None = None
    is_superuser: bool = False
    user_id: int | None = None
    # OAuth logins: the strongest repository role the token's scopes allow (None: no role;
    # ADMIN, the default: the principal's own roles, uncapped) and whether it may create
    # repositories (``repo:create``).
    role_cap: RepoRole | None = RepoRole.ADMIN
    may_create_repos: bool = True
    # FEATURE_RESTRICTED_USERS: a user outside RESTRICTED_USERS_WHITELIST creates nothing in
    # its own namespace (org teams and permissions still apply).
    restricted: bool = False
    # A credential bound to one repository ("ns/name"; a build's push token): exactly
    # ``role_cap`` there, no role anywhere else.
    only_repository: str | None = None
    # A global read-only superuser: reads (pulls) every existing repository, writes only
    # where its own roles allow.
    readonly_superuser: bool = False

    @property
    def subject(self) -> str:
        return self.name or "(anonymous)"

    @property
    def is_anonymous(self) -> bool:
        return self.kind == "anonymous"

    @property
    def is_robot(self) -> bool:
        return self.kind == "robot"


ANONYMOUS = Principal(kind="anonymous")


@dataclass(frozen=True)
class RepositoryFacts:
    """What the policy needs to know about a repository and the principal's roles there."""

    namespace: str
    name: str
    exists: bool
    is_public: bool = False
    state: RepositoryState = RepositoryState.NORMAL
    namespace_exists: bool = True
    namespace_enabled: bool = True
    namespace_id: int | None = None
    namespace_kind: str | None = None  # "user" | "org"
    repository_id: int | None = None
    repo_role: RepoRole | None = None  # strongest direct or team permission
    org_role: TeamRole | None = None  # strongest team role in the namespace
    # The namespace is a proxy-cache organization: its members pull any repository (it
    # appears on first pull), nobody pushes (the content comes from the upstream).
    is_proxy_cache: bool = False


@dataclass(frozen=True)
class Decision:
    actions: frozenset[str]
    create: bool = False  # push allowed because the principal may create the repository


def owns_namespace(principal: Principal, facts: RepositoryFacts) -> bool:
    return (
        principal.kind == "user"
        and principal.name == facts.namespace
        and (facts.namespace_kind in (None, "user"))
    )


def is_namespace_admin(principal: Principal, facts: RepositoryFacts) -> bool:
    return (
        principal.is_superuser
        or owns_namespace(principal, facts)
        or (facts.namespace_kind == "org" and facts.org_role is TeamRole.ADMIN)
    )


def may_create(principal: Principal, facts: RepositoryFacts) -> bool:
    """Create rights on the namespace: its owner (unless restricted), org teams
    ``creator``/``admin``, superusers."""
    if principal.is_superuser:
        return True
    if owns_namespace(principal, facts):
        return not principal.restricted
    return facts.namespace_kind == "org" and at_least(facts.org_role, TeamRole.CREATOR)


def repository_role(principal: Principal, facts: RepositoryFacts) -> RepoRole | None:
    """The principal's role on the repository, ignoring visibility and scope caps (None:
    no role)."""
    if principal.is_anonymous:
        return None
    if principal.only_repository is not None:
        bound = principal.only_repository == f"{facts.namespace}/{facts.name}"
        return principal.role_cap if bound and facts.exists else None
    if is_namespace_admin(principal, facts):
        return RepoRole.ADMIN
    if not facts.exists:
        return None
    if principal.readonly_superuser:
        return stronger(facts.repo_role, RepoRole.READ)
    return facts.repo_role


class AccessPolicy:
    def __init__(self, *, anonymous_access: bool, open_registry: bool = False) -> None:
        self.anonymous_access = anonymous_access
        # BERTH_OPEN_REGISTRY: everyone, anonymous included, may do everything (like CNCF
        # distribution without auth); for throwaway CI registries and conformance runs.
        self.open_registry = open_registry

    def decide(
        self, principal: Principal, repo: RepositoryFacts, requested: frozenset[str]
    ) -> Decision:
        if not repo.namespace_enabled:
            return Decision(frozenset())
        if self.open_registry:
            granted: set[str] = set(requested & ALL_ACTIONS)
            if repo.exists and not repo.state.accepts_pushes:
                granted -= {Action.PUSH, Action.DELETE}
            if not repo.exists:
                granted.discard(Action.DELETE)
            if repo.is_proxy_cache:
                granted.discard(Action.PUSH)
            return Decision(frozenset(granted), create=Action.PUSH in granted and not repo.exists)
        role = capped(repository_role(principal, repo), principal.role_cap)
        granted = set()
        if Action.PULL in requested:
            # Quay: a proxy-cache organization's members pull any of its repositories,
            # existing or not (it appears on first pull).
            member_pull = repo.is_proxy_cache and (
                repo.org_role is not None or principal.is_superuser
            )
            if repo.exists:
                if (
                    at_least(role, RepoRole.READ)
                    or (repo.is_public and (self.anonymous_access or not principal.is_anonymous))
                    or member_pull
                ):
                    granted.add(Action.PULL)
            elif member_pull:
                granted.add(Action.PULL)
            elif is_namespace_admin(principal, repo) and repo.namespace_exists:
                # Namespace admins may "pull" a repository that doesn't exist yet: they
                # learn NAME_UNKNOWN; everyone else learns nothing about the namespace.
                granted.add(Action.PULL)
        create = False
        if Action.PUSH in requested and not repo.is_proxy_cache:
            if repo.exists:
                if at_least(role, RepoRole.WRITE) and repo.state.accepts_pushes:
                    granted.add(Action.PUSH)
            elif principal.may_create_repos and (
                (repo.namespace_exists and may_create(principal, repo)) or principal.is_superuser
            ):
                granted.add(Action.PUSH)
                create = True
        if (
            Action.DELETE in requested
            and at_least(role, RepoRole.ADMIN)
            and repo.exists
            and repo.state.accepts_pushes
        ):
            granted.add(Action.DELETE)
        return Decision(frozenset(granted), create)
