"""Quay's ``require_repo_read`` / ``write`` / ``admin`` for /api/v1 handlers.

Permission is checked before existence (quay-api.md 2.4 and 8.6): a caller holding the role
(capped by its token's scopes) passes, and the handler then answers 404 for a repository that
doesn't exist; everyone else gets 401 when anonymous, 403 otherwise, whether or not the
repository exists. Read also passes for a public repository, anonymous callers included when
FEATURE_ANONYMOUS_ACCESS is on. Superusers pass everywhere only with
FEATURE_SUPERUSERS_FULL_ACCESS; without it their own roles decide, as any user's. Global
read-only superusers (``Ctx.is_readonly_superuser``) read every existing repository and list
them all; their writes are decided by their own roles, as any user's.
"""

from __future__ import annotations

from dataclasses import dataclass

from berth.authz import (
    ANONYMOUS,
    Principal,
    RepoRole,
    RepositoryFacts,
    at_least,
    capped,
    may_create,
    repo_role_cap,
)
from berth.http.api.v1.errors import not_found, unauthorized
from berth.http.api.v1.framework import SAFE_METHODS, ApiCaller, Ctx
from berth.registry.errors import NameInvalid
from berth.registry.repositories import RepoName, parse_repo_name
from berth.repos.services import Viewer


@dataclass(frozen=True)
class RepoAccess:
    """The repository a request addresses, and what the caller may do there."""

    repo: RepoName
    facts: RepositoryFacts
    role: RepoRole | None  # effective role after scope caps (None: no role)

    @property
    def exists(self) -> bool:
        return self.facts.exists

    @property
    def can_write(self) -> bool:
        return at_least(self.role, RepoRole.WRITE)

    @property
    def can_admin(self) -> bool:
        return at_least(self.role, RepoRole.ADMIN)

    def require_exists(self) -> RepoAccess:
        """404 (Quay's ``not_found``) when the repository doesn't exist."""
        if not self.facts.exists:
            raise not_found()
        return self


def principal_of(
    caller: ApiCaller,
    *,
    superuser_full_access: bool,
    restricted: bool = False,
    readonly_superuser: bool = False,
) -> Principal:
    user = caller.user
    if user is None:
        return ANONYMOUS
    return Principal(
        kind="robot" if user.kind == "robot" else "user",
        name=user.username,
        user_id=user.id,
        is_superuser=caller.is_superuser and superuser_full_access,
        may_create_repos=token_may_create(caller),
        restricted=restricted,
        readonly_superuser=readonly_superuser,
    )


def token_may_create(caller: ApiCaller) -> bool:
    """May the credential create repositories? ``repo:create``, or ``org:admin`` (which caps
    the caller's organization role at admin, and admins create); sessions always."""
    return caller.has_scope("repo:create") or caller.has_scope("org:admin")


def scope_cap(caller: ApiCaller) -> RepoRole | None:
    """The strongest repository role the caller's token allows (None: none; sessions:
    admin, i.e. not capped)."""
    return repo_role_cap(caller.scopes)


def repo_name(ctx: Ctx, param: str = "repository") -> RepoName:
    """``ns/name`` from the path (``%2F`` arrives decoded); a malformed name is 404."""
    try:
        return parse_repo_name(ctx.params[param], library=None)
    except NameInvalid as e:
        raise not_found() from e


def caller_principal(ctx: Ctx) -> Principal:
    """The API caller as the access policy sees it (scopes, superuser, restriction)."""
    user = ctx.caller.user
    return principal_of(
        ctx.caller,
        superuser_full_access=ctx.api.settings.api.superusers_full_access,
        restricted=user is not None
        and not ctx.caller.superuser_account
        and ctx.api.settings.is_restricted_user(user.username),
        readonly_superuser=ctx.is_readonly_superuser,
    )


async def repository_access(ctx: Ctx, repo: RepoName) -> RepoAccess:
    """What the caller may do on ``repo``, without refusing anything."""
    principal = caller_principal(ctx)
    facts, role = await ctx.api.svc.permissions.repository_access(repo, principal)
    return RepoAccess(repo, facts, capped(role, scope_cap(ctx.caller)))


async def require_repo(ctx: Ctx, role: RepoRole, *, param: str = "repository") -> RepoAccess:
    """Quay's ``require_repo_<role>``: 401/403 unless the caller holds ``role`` (read also
    passes on a public repository). Existence is the handler's business (``require_exists``)."""
    access = await repository_access(ctx, repo_name(ctx, param))
    if at_least(access.role, role):
        return access
    if ctx.is_readonly_superuser and ctx.request.method in SAFE_METHODS:
        return access  # Quay's allow_for_global_readonly_superuser: every read, any role
    public_read = role == RepoRole.READ and access.facts.exists and access.facts.is_public
    if public_read and (ctx.caller.user is not None or ctx.api.settings.auth.anonymous_access):
        return access
    raise unauthorized(ctx.caller.user is not None)


def list_viewer(ctx: Ctx) -> Viewer:
    """Who lists repositories (``GET /repository``, the web UI's list). Private
    repositories open through the caller's permissions unless its token can't read
    repositories; superusers see every repository with FEATURE_SUPERUSERS_FULL_ACCESS (as
    ``require_repo`` lets them read it), otherwise what their roles give them."""
    user = ctx.caller.user
    if user is None:
        return Viewer()
    reads = scope_cap(ctx.caller) is not None
    return Viewer(
        user_id=user.id,
        reads_as=user.username if reads else None,
        everything=reads
        and (
            (ctx.caller.is_superuser and ctx.api.settings.api.superusers_full_access)
            or ctx.is_readonly_superuser
        ),
    )


async def may_create_repo(ctx: Ctx, repo: RepoName, principal: Principal) -> bool:
    """Create rights as a push has them (own namespace, org creator/admin teams, superusers
    with full access), for a credential allowing ``repo:create``."""
    if not token_may_create(ctx.caller):
        return False
    facts, _role = await ctx.api.svc.permissions.repository_access(repo, principal)
    return facts.namespace_exists and facts.namespace_enabled and may_create(principal, facts)
