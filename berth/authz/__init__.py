"""Authorization policy: who may do what, decided in one place for /v2 and /api/v1 alike.

Pure: no I/O, only the standard library. The facts a decision needs come from the
database (``access_facts`` beside the permission service); the rules live here.

* ``roles``: repository roles (read < write < admin), team roles (member < creator <
  admin), their order (``stronger``, ``at_least``, ``capped``) and the caps a token's OAuth
  scopes put on them;
* ``states``: repository states, and which of them accept pushes;
* ``access``: the principal, the repository facts and the decision (``AccessPolicy``).
"""

from berth.authz.access import (
    ALL_ACTIONS,
    ANONYMOUS,
    AccessPolicy,
    Action,
    Decision,
    Principal,
    RepositoryFacts,
    is_namespace_admin,
    may_create,
    owns_namespace,
    repository_role,
)
from berth.authz.roles import (
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
from berth.authz.states import SETTABLE_STATES, RepositoryState

__all__ = [
    "ALL_ACTIONS",
    "ANONYMOUS",
    "SETTABLE_STATES",
    "AccessPolicy",
    "Action",
    "Decision",
    "Principal",
    "RepoRole",
    "RepositoryFacts",
    "RepositoryState",
    "TeamRole",
    "at_least",
    "capped",
    "from_rank",
    "is_namespace_admin",
    "may_create",
    "owns_namespace",
    "rank",
    "repo_role_cap",
    "repository_role",
    "stronger",
    "strongest",
    "team_role_cap",
]
