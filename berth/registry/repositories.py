"""Repository lookup and creation, and the one place pushes are refused for state."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from berth.authz import RepositoryState
from berth.db.base import now_ms
from berth.db.fast import Unit
from berth.namespaces.models import Namespace
from berth.oci.names import InvalidName, is_valid_namespace, split_repository
from berth.registry.errors import NameInvalid, NameUnknown, RepositoryReadOnly
from berth.registry.models import Repository


@dataclass(frozen=True, slots=True)
class RepoName:
    namespace: str
    name: str

    @property
    def full(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class RepoRow:
    id: int
    namespace: str
    name: str
    is_public: bool
    state: str
    namespace_id: int


def parse_repo_name(raw: str, *, library: str | None) -> RepoName:
    """``org/team/app`` -> (org, team/app); ``busybox`` -> (library, busybox) when enabled."""
    if "/" not in raw and library and raw:
        raw = f"{library}/{raw}"
    try:
        namespace, name = split_repository(raw)
    except InvalidName as e:
        raise NameInvalid(str(e), {"name": raw}) from e
    if not is_valid_namespace(namespace):
        raise NameInvalid(
            f"invalid namespace {namespace!r}: 2-255 characters of a-z, 0-9 and . _ -",
            {"name": raw},
        )
    return RepoName(namespace, name)


_NS = Namespace.__table__
_REPO = Repository.__table__
# Built once: every registry request looks its repository up.
_FIND_REPOSITORY = (
    select(_REPO.c.id, _NS.c.name, _REPO.c.name, _REPO.c.is_public, _REPO.c.state, _NS.c.id)
    .join(_NS, _NS.c.id == _REPO.c.namespace_id)
    .where(_NS.c.name == bindparam("namespace"), _REPO.c.name == bindparam("name"))
)


async def find_repository(session: Unit, repo: RepoName) -> RepoRow | None:
    params = {"namespace": repo.namespace, "name": repo.name}
    row = (await session.execute(_FIND_REPOSITORY, params)).first()
    return RepoRow(*row) if row else None


async def get_repository(session: AsyncSession, repo: RepoName) -> RepoRow:
    found = await find_repository(session, repo)
    if found is None:
        raise NameUnknown("repository name not known to registry", {"name": repo.full})
    return found


async def create_repository(
    session: AsyncSession,
    repo: RepoName,
    *,
    is_public: bool = False,
    create_namespace: bool = False,
    namespace_expiration_s: int = 1209600,
    on_create: Callable[[AsyncSession, RepoRow], Awaitable[None]] | None = None,
) -> RepoRow:
    """Create (or return) a repository; the namespace must exist unless create_namespace.

    ``on_create`` runs in the same transaction for a repository created by this call (the
    creator's permissions, default permissions and the audit record)."""
    ns = (
        await session.execute(select(Namespace).where(Namespace.name == repo.namespace))
    ).scalar_one_or_none()
    if ns is None:
        if not create_namespace:
            raise NameUnknown("namespace not known to registry", {"namespace": repo.namespace})
        try:
            async with session.begin_nested():
                ns = Namespace(
                    name=repo.namespace, kind="org", tag_expiration_s=namespace_expiration_s
                )
                session.add(ns)
                await session.flush()
        except IntegrityError:  # created by a concurrent request (PostgreSQL)
            ns = (
                await session.execute(select(Namespace).where(Namespace.name == repo.namespace))
            ).scalar_one()
    existing = await find_repository(session, repo)
    if existing:
        return existing
    row = Repository(
        namespace_id=ns.id,
        name=repo.name,
        full_name=repo.full,
        is_public=is_public,
        created_at=now_ms(),
    )
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        # Clients fetch tokens for one push in parallel; another request created it first.
        raced = await find_repository(session, repo)
        if raced is None:
            raise
        return raced
    created = RepoRow(row.id, repo.namespace, repo.name, row.is_public, row.state, ns.id)
    if on_create is not None:
        await on_create(session, created)
    return created


# Quay's answers (405) to writes into a repository that isn't NORMAL.
_STATE_REFUSALS = {
    RepositoryState.READ_ONLY: "{repo} is in read-only mode.",
    RepositoryState.MIRROR: (
        "Repository {repo} is a mirror. Mirrored repositories cannot be modified directly."
    ),
}


def ensure_writable(repo: RepoRow, *, registry_read_only: bool) -> None:
    """Pushes and deletes are refused here and only here."""
    if registry_read_only:
        raise RepositoryReadOnly("the registry is in read-only mode", {"is_readonly": True})
    state = RepositoryState(repo.state)
    if not state.accepts_pushes:
        message = _STATE_REFUSALS.get(state, "repository is in {state} state and cannot be written")
        raise RepositoryReadOnly(
            message.format(repo=f"{repo.namespace}/{repo.name}", state=repo.state),
            {"is_readonly": True, "state": repo.state},
        )
