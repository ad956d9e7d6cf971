"""Exact, dedupe-aware storage accounting: ``repositories.size_bytes``, ``namespaces.size_bytes``.

What counts (the quota issue enforces limits on these numbers):
- a repository's size is the bytes of the distinct blobs its manifests reference, plus the
  bytes of those manifests themselves (their JSON is stored too);
- a namespace's size is the same over all its repositories, deduplicated by digest: a blob
  (or a manifest) present in two repositories of the namespace counts once.
Every manifest row counts, tagged or not, until garbage collection removes it: content in
the time-machine window still occupies storage. Blobs only uploaded or mounted (linked, no
manifest references them) do not count; they are freed after the grace period.

The numbers change in exactly two places, both incremental and in the transaction that
changes the reference graph: a manifest row is stored at push (``manifest_stored``) and
manifest rows are removed by garbage collection (``release_manifests``, called before the
rows go). Both hold the repository row (a push shares it with other pushes, the collector
holds it alone) and then lock the namespace row, in that order, and compute the delta in a
statement after that lock: two transactions never compute a delta from the same state. A
push accounts last, just before its commit, so pushes of one namespace queue on the
namespace row for a few statements only. ``recompute`` derives every number from scratch;
tests use it to prove the incremental numbers exact, operators to repair after manual
surgery.
"""

from __future__ import annotations

import weakref
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import BindParameter

from berth.db.fast import Unit, dialect_name
from berth.namespaces.models import Namespace
from berth.registry.models import Blob, Manifest, ManifestBlob, Repository
from berth.registry.quota import QuotaGuard


@dataclass(frozen=True, slots=True)
class Exclusive:
    """Bytes that exist only because of a set of manifests, per scope."""

    repository: int
    namespace: int


@dataclass(frozen=True, slots=True)
class Usage:
    repositories: dict[int, int]
    namespaces: dict[int, int]


def _zero(expr: Any) -> Any:
    return func.coalesce(expr, 0)


_REPOSITORY = Repository.__table__
_NAMESPACE = Namespace.__table__
_MANIFEST = Manifest.__table__
_MANIFEST_BLOB = ManifestBlob.__table__
_BLOB = Blob.__table__

_NAMESPACE_OF = select(_REPOSITORY.c.namespace_id).where(
    _REPOSITORY.c.id == bindparam("repository_id")
)
_LOCK_NAMESPACE = (
    select(_NAMESPACE.c.id)
    .where(_NAMESPACE.c.id == bindparam("namespace_id"))
    .with_for_update(key_share=True)
)


def _exclusive_statement() -> Any:
    """Both scopes' exclusive bytes in one statement, built once (see ``exclusive_bytes``).

    Parameters: ``repository_id``, ``namespace_id`` and ``ids`` (expanding). Built at import
    so every push reuses its compiled form: constructing it (aliases, subqueries) cost more
    CPU than running it.
    """
    ids: BindParameter[int] = bindparam("ids", expanding=True)
    repository_id: BindParameter[int] = bindparam("repository_id")
    namespace_id: BindParameter[int] = bindparam("namespace_id")
    blobs = select(_MANIFEST_BLOB.c.blob_id).where(_MANIFEST_BLOB.c.manifest_id.in_(ids))

    def blob_bytes(scope: Any) -> Any:
        # Probes of ix_manifest_blobs_blob_scope (blob, namespace[, repository]).
        other = _MANIFEST_BLOB.alias("other")
        elsewhere = exists().where(
            other.c.blob_id == _BLOB.c.id, *scope(other), other.c.manifest_id.not_in(ids)
        )
        return select(_zero(func.sum(_BLOB.c.size))).where(_BLOB.c.id.in_(blobs), ~elsewhere)

    # Another manifest with this digest in the namespace: the copies of the digest
    # (ix_manifests_digest, few), each asked for its repository's namespace. A scalar
    # subquery, so no planner starts from the namespace's repositories (thousands).
    same = _MANIFEST.alias("same_digest")
    owner = _REPOSITORY.alias("owner")
    namespace_of_same = (
        select(owner.c.namespace_id).where(owner.c.id == same.c.repository_id).scalar_subquery()
    )
    ns_manifests = select(_zero(func.sum(_MANIFEST.c.size))).where(
        _MANIFEST.c.id.in_(ids),
        ~exists().where(
            same.c.digest == _MANIFEST.c.digest,
            same.c.id.not_in(ids),
            namespace_of_same == namespace_id,
        ),
    )
    repo_manifests = select(_zero(func.sum(_MANIFEST.c.size))).where(_MANIFEST.c.id.in_(ids))
    in_repository = blob_bytes(
        lambda m: (m.c.namespace_id == namespace_id, m.c.repository_id == repository_id)
    )
    in_namespace = blob_bytes(lambda m: (m.c.namespace_id == namespace_id,))
    return select(
        in_repository.scalar_subquery() + repo_manifests.scalar_subquery(),
        in_namespace.scalar_subquery() + ns_manifests.scalar_subquery(),
    )


_EXCLUSIVE = _exclusive_statement()
_ADD_TO_REPOSITORY = (
    update(_REPOSITORY)
    .where(_REPOSITORY.c.id == bindparam("owner"))
    .values(size_bytes=_REPOSITORY.c.size_bytes + bindparam("delta"))
)
_ADD_TO_NAMESPACE = (
    update(_NAMESPACE)
    .where(_NAMESPACE.c.id == bindparam("owner"))
    .values(size_bytes=_NAMESPACE.c.size_bytes + bindparam("delta"))
)
# The same, answering the new total and a quota guard's checks (no extra round trip);
# built once per guard.
_GROW_NAMESPACE: weakref.WeakKeyDictionary[QuotaGuard, Any] = weakref.WeakKeyDictionary()


def _grow_namespace(quota: QuotaGuard) -> Any:
    stmt = _GROW_NAMESPACE.get(quota)
    if stmt is None:
        stmt = _ADD_TO_NAMESPACE.returning(_NAMESPACE.c.size_bytes, *quota.returning)
        _GROW_NAMESPACE[quota] = stmt
    return stmt


async def lock_namespace_of(
    s: Unit, repository_id: int, namespace_id: int | None = None
) -> int | None:
    """The namespace of a repository, its row locked (PostgreSQL; SQLite serializes writers).

    ``namespace_id`` when the caller knows it already (saves a query)."""
    if namespace_id is None:
        namespace_id = (await s.execute(_NAMESPACE_OF, {"repository_id": repository_id})).scalar()
    if namespace_id is not None and dialect_name(s) != "sqlite":
        await s.execute(_LOCK_NAMESPACE, {"namespace_id": namespace_id})
    return namespace_id


async def exclusive_bytes(
    s: Unit, repository_id: int, namespace_id: int, manifest_ids: Collection[int]
) -> Exclusive:
    """Bytes the manifests ``manifest_ids`` (all in ``repository_id``) alone account for.

    A blob or manifest digest counts when no other manifest of the repository (namespace)
    outside the set references it.
    """
    ids = list(manifest_ids)
    if not ids:
        return Exclusive(0, 0)
    params = {"repository_id": repository_id, "namespace_id": namespace_id, "ids": ids}
    row = (await s.execute(_EXCLUSIVE, params)).one()
    return Exclusive(int(row[0]), int(row[1]))


async def _add(s: Unit, repository_id: int, namespace_id: int, delta: Exclusive, sign: int) -> None:
    if delta.repository:
        await s.execute(
            _ADD_TO_REPOSITORY, {"owner": repository_id, "delta": sign * delta.repository}
        )
    if delta.namespace:
        await s.execute(_ADD_TO_NAMESPACE, {"owner": namespace_id, "delta": sign * delta.namespace})


async def manifest_stored(
    s: Unit,
    repository_id: int,
    manifest_id: int,
    namespace_id: int | None = None,
    *,
    quota: QuotaGuard | None = None,
) -> None:
    """A new manifest row and its blob references were inserted: count what they add.

    With a ``quota`` guard, a push that grows the namespace is admitted (or refused with
    ``QuotaExceeded``) against the new total the namespace's UPDATE returns
    (``berth.registry.quota`` states the guarantee)."""
    namespace_id = await lock_namespace_of(s, repository_id, namespace_id)
    if namespace_id is None:
        return
    delta = await exclusive_bytes(s, repository_id, namespace_id, [manifest_id])
    if quota is None or delta.namespace <= 0:
        await _add(s, repository_id, namespace_id, delta, +1)
        return
    if delta.repository:
        await s.execute(_ADD_TO_REPOSITORY, {"owner": repository_id, "delta": delta.repository})
    params = {"owner": namespace_id, "delta": delta.namespace}
    row = (await s.execute(_grow_namespace(quota), params)).one()
    after = int(row[0])
    await quota.admit(s, namespace_id, after - delta.namespace, after, row[1:])


async def release_manifests(
    s: AsyncSession, repository_id: int, manifest_ids: Collection[int]
) -> Exclusive:
    """Manifest rows are about to be deleted: subtract what only they accounted for."""
    namespace_id = await lock_namespace_of(s, repository_id)
    if namespace_id is None or not manifest_ids:
        return Exclusive(0, 0)
    delta = await exclusive_bytes(s, repository_id, namespace_id, manifest_ids)
    await _add(s, repository_id, namespace_id, delta, -1)
    return delta


async def release_repository(s: AsyncSession, repository_id: int) -> Exclusive:
    """A whole repository is about to be deleted: its namespace loses what only it held."""
    ids = (
        await s.execute(select(Manifest.id).where(Manifest.repository_id == repository_id))
    ).scalars()
    return await release_manifests(s, repository_id, list(ids))


async def _sum_by_owner(s: AsyncSession, owners: Any, *sums: Any) -> dict[int, int]:
    """Every owner id (0 if nothing) plus the ``(owner, total)`` rows of each query."""
    totals: dict[int, int] = dict.fromkeys((await s.execute(owners)).scalars(), 0)
    for query in sums:
        for owner, total in await s.execute(query):
            totals[owner] += int(total)
    return totals


async def recompute(s: AsyncSession, *, write: bool = False) -> Usage:
    """Every repository's and namespace's size from scratch (and store them if ``write``)."""
    repo_blobs = (
        select(Manifest.repository_id.label("owner"), ManifestBlob.blob_id)
        .join(ManifestBlob, ManifestBlob.manifest_id == Manifest.id)
        .distinct()
        .subquery()
    )
    repo_sizes = await _sum_by_owner(
        s,
        select(Repository.id),
        select(repo_blobs.c.owner, func.sum(Blob.size))
        .join(Blob, Blob.id == repo_blobs.c.blob_id)
        .group_by(repo_blobs.c.owner),
        select(Manifest.repository_id, func.sum(Manifest.size)).group_by(Manifest.repository_id),
    )
    ns_blobs = (
        select(Repository.namespace_id.label("owner"), ManifestBlob.blob_id)
        .join(Manifest, Manifest.repository_id == Repository.id)
        .join(ManifestBlob, ManifestBlob.manifest_id == Manifest.id)
        .distinct()
        .subquery()
    )
    ns_manifests = (
        select(Repository.namespace_id.label("owner"), Manifest.digest, Manifest.size)
        .join(Manifest, Manifest.repository_id == Repository.id)
        .distinct()
        .subquery()
    )
    ns_sizes = await _sum_by_owner(
        s,
        select(Namespace.id),
        select(ns_blobs.c.owner, func.sum(Blob.size))
        .join(Blob, Blob.id == ns_blobs.c.blob_id)
        .group_by(ns_blobs.c.owner),
        select(ns_manifests.c.owner, func.sum(ns_manifests.c.size)).group_by(ns_manifests.c.owner),
    )

    if write:
        for repo_id, size in repo_sizes.items():
            await s.execute(
                update(Repository).where(Repository.id == repo_id).values(size_bytes=size)
            )
        for ns_id, size in ns_sizes.items():
            await s.execute(update(Namespace).where(Namespace.id == ns_id).values(size_bytes=size))
    return Usage(repo_sizes, ns_sizes)


async def stored(s: AsyncSession) -> Usage:
    """The incrementally kept numbers, in the shape ``recompute`` returns."""
    repos = dict((await s.execute(select(Repository.id, Repository.size_bytes))).all())
    namespaces = dict((await s.execute(select(Namespace.id, Namespace.size_bytes))).all())
    return Usage(repos, namespaces)


__all__ = [
    "Exclusive",
    "Usage",
    "exclusive_bytes",
    "manifest_stored",
    "recompute",
    "release_manifests",
    "release_repository",
    "stored",
]
