"""Per-namespace rate limits, set by superusers (``/api/v1/superuser/ratelimits/``).

Each change writes a usage-log entry of the namespace (``change_namespace_rate_limit``,
``delete_namespace_rate_limit``, Berth's kinds) in its transaction. The limiter reads them
through ``OverrideCache`` (``overrides``), never on a request.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select

from berth.audit.services import Performer, record
from berth.db.base import now_ms
from berth.db.session import Database
from berth.namespaces.models import Namespace
from berth.ratelimits.errors import InvalidOverride, NamespaceNotFound
from berth.ratelimits.limiter import Overrides
from berth.ratelimits.models import RateLimitOverride
from berth.ratelimits.settings import SURFACES, RateLimit, rate_limit


@dataclass(frozen=True, slots=True)
class NamespaceLimits:
    namespace: str
    limits: dict[str, RateLimit]  # surface -> limit


class RateLimitService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def overrides(self) -> Overrides:
        async with self.db.read() as s:
            rows = await s.execute(
                select(
                    Namespace.name,
                    RateLimitOverride.surface,
                    RateLimitOverride.caller_limit,
                    RateLimitOverride.namespace_limit,
                    RateLimitOverride.window_s,
                ).join(Namespace, Namespace.id == RateLimitOverride.namespace_id)
            )
            return {(ns, sf): RateLimit(c, n, w) for ns, sf, c, n, w in rows}

    async def list(self) -> list[NamespaceLimits]:
        by_ns: dict[str, dict[str, RateLimit]] = {}
        for (ns, surface), limit in sorted((await self.overrides()).items()):
            by_ns.setdefault(ns, {})[surface] = limit
        return [NamespaceLimits(ns, limits) for ns, limits in by_ns.items()]

    async def get(self, namespace: str) -> NamespaceLimits:
        async with self.db.read() as s:
            if (
                await s.execute(select(Namespace.id).where(Namespace.name == namespace))
            ).scalar() is None:
                raise NamespaceNotFound(namespace)
        return next(
            (n for n in await self.list() if n.namespace == namespace),
            NamespaceLimits(namespace, {}),
        )

    async def set(
        self, namespace: str, body: dict[str, object], *, performer: Performer | None = None
    ) -> NamespaceLimits:
        """Replace the namespace's limits with ``{v2: {caller, namespace, window}, api: ...}``."""
        try:
            unknown = sorted(set(body) - set(SURFACES))
            if unknown:
                raise ValueError(f"unknown surface {', '.join(unknown)}: surfaces are v2, api")
            limits = {sf: rate_limit(v, sf) for sf, v in body.items() if v is not None}
        except ValueError as e:
            raise InvalidOverride(str(e)) from e
        async with self.db.write() as s:
            ns_id = (
                await s.execute(select(Namespace.id).where(Namespace.name == namespace))
            ).scalar()
            if ns_id is None:
                raise NamespaceNotFound(namespace)
            await s.execute(
                delete(RateLimitOverride).where(RateLimitOverride.namespace_id == ns_id)
            )
            for surface, limit in limits.items():
                s.add(
                    RateLimitOverride(
                        namespace_id=ns_id,
                        surface=surface,
                        caller_limit=limit.caller,
                        namespace_limit=limit.namespace,
                        window_s=limit.window_s,
                        updated_at=now_ms(),
                    )
                )
            meta = {
                sf: {"caller": lim.caller, "namespace": lim.namespace, "window": lim.window_s}
                for sf, lim in limits.items()
            }
            record(
                s,
                "change_namespace_rate_limit",
                namespace,
                performer,
                None,
                meta,
                namespace_id=ns_id,
            )
        return NamespaceLimits(namespace, limits)

    async def delete(self, namespace: str, *, performer: Performer | None = None) -> None:
        async with self.db.write() as s:
            ns_id = (
                await s.execute(select(Namespace.id).where(Namespace.name == namespace))
            ).scalar()
            if ns_id is None:
                raise NamespaceNotFound(namespace)
            await s.execute(
                delete(RateLimitOverride).where(RateLimitOverride.namespace_id == ns_id)
            )
            record(
                s, "delete_namespace_rate_limit", namespace, performer, None, {}, namespace_id=ns_id
            )
