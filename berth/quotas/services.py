"""Namespace quotas and their limits: create, read, update, delete, report, recount.

One quota per namespace (Quay supports only one), with Warning and Reject limits in percent
of its bytes. Values arrive as the API parsed them; this module checks what Quay checks
(positive bytes, one quota, a known limit type, 1-100 percent, no duplicate limit) and
writes Quay's usage-log entries in the same transaction: ``org_create_quota``,
``org_change_quota``, ``org_delete_quota``, ``org_create_quota_limit``,
``org_change_quota_limit``, ``org_delete_quota_limit`` (for user namespaces too).
"""

from __future__ import annotations

import builtins
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from berth.audit.services import Performer, record
from berth.db.session import Database
from berth.namespaces.models import Namespace
from berth.quotas.enforcement import REJECT, WARNING
from berth.quotas.errors import InvalidQuota, QuotaNotFound
from berth.quotas.models import NamespaceQuota, QuotaLimit
from berth.registry import accounting
from berth.registry.models import Repository

LIMIT_TYPES = (WARNING, REJECT)


@dataclass(frozen=True, slots=True)
class Limit:
    id: int | None
    kind: str
    percent: int


@dataclass(frozen=True, slots=True)
class Quota:
    id: int | None  # None: the system default (DEFAULT_SYSTEM_REJECT_QUOTA_BYTES)
    limit_bytes: int
    limits: tuple[Limit, ...]

    @property
    def is_default(self) -> bool:
        return self.id is None


@dataclass(frozen=True, slots=True)
class Report:
    """Quay's ``quota_report``: bytes used and the limit that applies (None: none)."""

    quota_bytes: int
    configured_quota: int | None


@dataclass(frozen=True, slots=True)
class Backfill:
    repositories: int  # rows whose stored size changed
    namespaces: int


def check_limit_bytes(limit_bytes: int) -> int:
    if limit_bytes <= 0:
        raise InvalidQuota(f"Invalid quota size limit value: '{limit_bytes}'")
    return limit_bytes


def check_limit(kind: str, percent: int) -> None:
    if kind not in LIMIT_TYPES:
        raise InvalidQuota(f"Quota type must be one of [{', '.join(LIMIT_TYPES)}]")
    if not 1 <= percent <= 100:
        raise InvalidQuota("Quota limit threshold percent must be between 1 and 100")


class QuotaService:
    def __init__(self, db: Database, *, default_reject_bytes: int = 0) -> None:
        self.db = db
        self.default_reject_bytes = default_reject_bytes

    # ---- reads ---------------------------------------------------------------------------
    @property
    def default_quota(self) -> Quota | None:
        if self.default_reject_bytes <= 0:
            return None
        return Quota(None, self.default_reject_bytes, (Limit(None, REJECT, 100),))

    async def _namespace(
        self, s: AsyncSession, name: str, kind: str | None, *, lock: bool = False
    ) -> int:
        stmt = select(Namespace.id).where(Namespace.name == name)
        if kind is not None:
            stmt = stmt.where(Namespace.kind == kind)
        if lock:
            stmt = stmt.with_for_update()
        ns_id = (await s.execute(stmt)).scalar()
        if ns_id is None:
            raise QuotaNotFound(f"namespace {name} not found")
        return int(ns_id)

    async def _quotas(self, s: AsyncSession, namespace_ids: Collection[int]) -> dict[int, Quota]:
        if not namespace_ids:
            return {}
        rows = await s.execute(
            select(NamespaceQuota.namespace_id, NamespaceQuota.id, NamespaceQuota.limit_bytes)
            .where(NamespaceQuota.namespace_id.in_(list(namespace_ids)))
            .order_by(NamespaceQuota.id)
        )
        quotas = {ns: (qid, int(b)) for ns, qid, b in rows}
        limits: dict[int, list[Limit]] = {qid: [] for qid, _ in quotas.values()}
        if limits:
            for qid, lid, kind, pct in await s.execute(
                select(QuotaLimit.quota_id, QuotaLimit.id, QuotaLimit.kind, QuotaLimit.percent)
                .where(QuotaLimit.quota_id.in_(list(limits)))
                .order_by(QuotaLimit.id)
            ):
                limits[qid].append(Limit(lid, kind, pct))
        return {
            ns: Quota(qid, limit_bytes, tuple(limits[qid]))
            for ns, (qid, limit_bytes) in quotas.items()
        }

    async def quotas(self, namespace: str, kind: str | None = None) -> builtins.list[Quota]:
        """The namespace's quota (a list, as Quay answers; empty: none)."""
        async with self.db.read() as s:
            ns_id = await self._namespace(s, namespace, kind)
            found = (await self._quotas(s, [ns_id])).get(ns_id)
        return [found] if found else []

    async def quota(self, namespace: str, quota_id: int, kind: str | None = None) -> Quota:
        for q in await self.quotas(namespace, kind):
            if q.id == quota_id:
                return q
        raise QuotaNotFound(f"quota {quota_id} not found")

    async def limit(
        self, namespace: str, quota_id: int, limit_id: int, kind: str | None = None
    ) -> Limit:
        for lim in (await self.quota(namespace, quota_id, kind)).limits:
            if lim.id == limit_id:
                return lim
        raise QuotaNotFound(f"limit {limit_id} not found")

    async def overview(self, namespaces: Collection[str]) -> dict[str, tuple[Quota | None, Report]]:
        """Each namespace's own quota (None: none) and report, in two queries."""
        if not namespaces:
            return {}
        async with self.db.read() as s:
            rows = (
                await s.execute(
                    select(Namespace.name, Namespace.id, Namespace.size_bytes).where(
                        Namespace.name.in_(list(namespaces))
                    )
                )
            ).all()
            quotas = await self._quotas(s, [r[1] for r in rows])
        out: dict[str, tuple[Quota | None, Report]] = {}
        for name, ns_id, size in rows:
            own = quotas.get(ns_id)
            configured = own.limit_bytes if own else (self.default_reject_bytes or None)
            out[name] = (own, Report(int(size), configured))
        return out

    # ---- writes --------------------------------------------------------------------------
    async def create(
        self,
        namespace: str,
        limit_bytes: int,
        *,
        kind: str | None = None,
        performer: Performer | None = None,
    ) -> int:
        check_limit_bytes(limit_bytes)
        async with self.db.write() as s:
            ns_id = await self._namespace(s, namespace, kind, lock=True)
            exists = await s.execute(
                select(NamespaceQuota.id).where(NamespaceQuota.namespace_id == ns_id)
            )
            if exists.scalar() is not None:
                raise InvalidQuota(f"Organization quota for '{namespace}' already exists")
            quota = NamespaceQuota(namespace_id=ns_id, limit_bytes=limit_bytes)
            s.add(quota)
            await s.flush()
            self._log(s, "org_create_quota", namespace, ns_id, performer, limit_bytes=limit_bytes)
        return quota.id

    async def _owned(
        self, s: AsyncSession, namespace: str, quota_id: int, kind: str | None
    ) -> tuple[int, int]:
        """(namespace id, quota bytes) of a quota of the namespace, the namespace locked."""
        ns_id = await self._namespace(s, namespace, kind, lock=True)
        row = (
            await s.execute(
                select(NamespaceQuota.limit_bytes).where(
                    NamespaceQuota.id == quota_id, NamespaceQuota.namespace_id == ns_id
                )
            )
        ).first()
        if row is None:
            raise QuotaNotFound(f"quota {quota_id} not found")
        return ns_id, int(row[0])

    async def update(
        self,
        namespace: str,
        quota_id: int,
        limit_bytes: int | None,
        *,
        kind: str | None = None,
        performer: Performer | None = None,
    ) -> Quota:
        """Change the quota's bytes (``None``: nothing to change, Quay's empty PUT)."""
        if limit_bytes is not None:
            check_limit_bytes(limit_bytes)
        async with self.db.write() as s:
            ns_id, _ = await self._owned(s, namespace, quota_id, kind)
            if limit_bytes is not None:
                await s.execute(
                    update(NamespaceQuota)
                    .where(NamespaceQuota.id == quota_id)
                    .values(limit_bytes=limit_bytes)
                )
                self._log(
                    s,
                    "org_change_quota",
                    namespace,
                    ns_id,
                    performer,
                    quota_id=quota_id,
                    limit_bytes=limit_bytes,
                )
        return await self.quota(namespace, quota_id, kind)

    async def delete(
        self,
        namespace: str,
        quota_id: int,
        *,
        kind: str | None = None,
        performer: Performer | None = None,
    ) -> None:
        async with self.db.write() as s:
            ns_id, _ = await self._owned(s, namespace, quota_id, kind)
            await s.execute(delete(QuotaLimit).where(QuotaLimit.quota_id == quota_id))
            await s.execute(delete(NamespaceQuota).where(NamespaceQuota.id == quota_id))
            self._log(s, "org_delete_quota", namespace, ns_id, performer, quota_id=quota_id)

    async def _limit_rows(self, s: AsyncSession, quota_id: int) -> builtins.list[Limit]:
        rows = await s.execute(
            select(QuotaLimit.id, QuotaLimit.kind, QuotaLimit.percent).where(
                QuotaLimit.quota_id == quota_id
            )
        )
        return [Limit(i, k, p) for i, k, p in rows]

    async def create_limit(
        self,
        namespace: str,
        quota_id: int,
        limit_type: str,
        percent: int,
        *,
        kind: str | None = None,
        performer: Performer | None = None,
    ) -> int:
        check_limit(limit_type, percent)
        async with self.db.write() as s:
            ns_id, _ = await self._owned(s, namespace, quota_id, kind)
            existing = await self._limit_rows(s, quota_id)
            if any(lim.kind == limit_type and lim.percent == percent for lim in existing):
                raise InvalidQuota("Quota limit already exists")
            if limit_type == REJECT and any(lim.kind == REJECT for lim in existing):
                raise InvalidQuota("Only one quota limit of type 'Reject' allowed.")
            row = QuotaLimit(
                quota_id=quota_id, namespace_id=ns_id, kind=limit_type, percent=percent
            )
            s.add(row)
            await s.flush()
            self._log(
                s,
                "org_create_quota_limit",
                namespace,
                ns_id,
                performer,
                quota_id=quota_id,
                type=limit_type,
                threshold_percent=percent,
            )
        return row.id

    async def update_limit(
        self,
        namespace: str,
        quota_id: int,
        limit_id: int,
        limit_type: str | None,
        percent: int | None,
        *,
        kind: str | None = None,
        performer: Performer | None = None,
    ) -> Quota:
        async with self.db.write() as s:
            ns_id, _ = await self._owned(s, namespace, quota_id, kind)
            existing = {lim.id: lim for lim in await self._limit_rows(s, quota_id)}
            current = existing.get(limit_id)
            if current is None:
                raise QuotaNotFound(f"limit {limit_id} not found")
            new_type = limit_type if limit_type is not None else current.kind
            new_pct = percent if percent is not None else current.percent
            check_limit(new_type, new_pct)
            others = [lim for lid, lim in existing.items() if lid != limit_id]
            if new_type == REJECT and any(lim.kind == REJECT for lim in others):
                raise InvalidQuota("Only one quota limit of type 'Reject' allowed.")
            if any(lim.kind == new_type and lim.percent == new_pct for lim in others):
                raise InvalidQuota("Quota limit already exists")
            await s.execute(
                update(QuotaLimit)
                .where(QuotaLimit.id == limit_id)
                .values(kind=new_type, percent=new_pct)
            )
            self._log(
                s,
                "org_change_quota_limit",
                namespace,
                ns_id,
                performer,
                quota_id=quota_id,
                limit_id=limit_id,
                type=new_type,
                threshold_percent=new_pct,
            )
        return await self.quota(namespace, quota_id, kind)

    async def delete_limit(
        self,
        namespace: str,
        quota_id: int,
        limit_id: int,
        *,
        kind: str | None = None,
        performer: Performer | None = None,
    ) -> None:
        async with self.db.write() as s:
            ns_id, _ = await self._owned(s, namespace, quota_id, kind)
            gone = await s.execute(
                delete(QuotaLimit).where(QuotaLimit.id == limit_id, QuotaLimit.quota_id == quota_id)
            )
            if not gone.rowcount:  # type: ignore[attr-defined]  # CursorResult of a DELETE
                raise QuotaNotFound(f"limit {limit_id} not found")
            self._log(
                s,
                "org_delete_quota_limit",
                namespace,
                ns_id,
                performer,
                quota_id=quota_id,
                limit_id=limit_id,
            )

    @staticmethod
    def _log(
        s: AsyncSession,
        kind: str,
        namespace: str,
        ns_id: int,
        performer: Performer | None,
        **meta: Any,
    ) -> None:
        record(
            s,
            kind,
            namespace,
            performer,
            None,
            {"namespace": namespace, **meta},
            namespace_id=ns_id,
        )

    # ---- QUOTA_BACKFILL ------------------------------------------------------------------
    async def backfill(self) -> Backfill:
        """Recount every repository's and namespace's size and correct the stored numbers.

        The recount and the stored numbers are read in one snapshot (PostgreSQL:
        REPEATABLE READ; SQLite: one transaction), and corrections are applied as deltas
        (``size_bytes + (recount - stored)``), so pushes and collections that commit
        meanwhile keep their own deltas: the result is what a recount at the end gives.
        """
        async with self.db.read() as s:
            # One transaction (autobegun): on PostgreSQL at REPEATABLE READ, one snapshot.
            if not self.db.is_sqlite:
                await s.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            counted = await accounting.recompute(s)
            stored = await accounting.stored(s)
        repo_fix = {
            k: v - stored.repositories.get(k, 0)
            for k, v in counted.repositories.items()
            if v != stored.repositories.get(k, 0)
        }
        ns_fix = {
            k: v - stored.namespaces.get(k, 0)
            for k, v in counted.namespaces.items()
            if v != stored.namespaces.get(k, 0)
        }
        if repo_fix or ns_fix:
            async with self.db.write() as s:
                for rid, delta in repo_fix.items():
                    await s.execute(
                        update(Repository)
                        .where(Repository.id == rid)
                        .values(size_bytes=Repository.size_bytes + delta)
                    )
                for nid, delta in ns_fix.items():
                    await s.execute(
                        update(Namespace)
                        .where(Namespace.id == nid)
                        .values(size_bytes=Namespace.size_bytes + delta)
                    )
        return Backfill(len(repo_fix), len(ns_fix))
