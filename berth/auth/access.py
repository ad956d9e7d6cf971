"""The access decision, in one place.

``AccessPolicy.decide`` answers which registry actions (``pull``, ``push``, ``*``) a principal
has on a repository, and whether it may create it. Every path that grants access (the token
endpoint, HTTP Basic on /v2) asks this and nothing else.

Interim rule until organizations, teams and permissions land: a user may do everything in
its own namespace, superusers everywhere, anyone may pull a public repository (when
FEATURE_ANONYMOUS_ACCESS), anonymous callers nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


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

    @property
    def subject(self) -> str:
        return self.name or "(anonymous)"

    @property
    def is_anonymous(self) -> bool:
        return self.kind == "anonymous"


ANONYMOUS = Principal(kind="anonymous")


@dataclass(frozen=True)
class RepositoryFacts:
    """What the policy needs to know about a repository (None fields: it doesn't exist)."""

    namespace: str
    name: str
    exists: bool
    is_public: bool = False
    state: str = "NORMAL"
    namespace_exists: bool = True
    namespace_enabled: bool = True


@dataclass(frozen=True)
class Decision:
    actions: frozenset[str]
    create: bool = False  # push allowed because the principal may create the repository


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
            granted = set(requested & ALL_ACTIONS)
            if repo.exists and repo.state != "NORMAL":
                granted -= {Action.PUSH, Action.DELETE}
            if not repo.exists:
                granted.discard(Action.DELETE)
            return Decision(frozenset(granted), create=Action.PUSH in granted and not repo.exists)
        owner = principal.is_superuser or (
            principal.kind == "user" and principal.name == repo.namespace
        )
        granted: set[str] = set()
        if (
            # Owners may "pull" a repository that doesn't exist yet: they learn NAME_UNKNOWN;
            # everyone else learns nothing about the namespace.
            Action.PULL in requested
            and (
                owner
                or (
                    repo.exists
                    and repo.is_public
                    and (self.anonymous_access or not principal.is_anonymous)
                )
            )
        ):
            granted.add(Action.PULL)
        create = False
        if Action.PUSH in requested and owner:
            if repo.exists:
                if repo.state == "NORMAL":
                    granted.add(Action.PUSH)
            elif repo.namespace_exists or principal.is_superuser:
                granted.add(Action.PUSH)
                create = True
        if Action.DELETE in requested and owner and repo.exists and repo.state == "NORMAL":
            granted.add(Action.DELETE)
        return Decision(frozenset(granted), create)
