"""Quotas as the registry's ``QuotaGuard`` (``berth.registry.quota``).

``admit`` reads the namespace's quota and limits in one indexed query (no quota row: the
system default, DEFAULT_SYSTEM_REJECT_QUOTA_BYTES, as a Reject limit at 100%), refuses a
push whose new total exceeds a Reject threshold (``limit_bytes * percent / 100``), and
reports a crossing when the push takes the total from below a threshold to at or above it:
``quota_warning`` for a Warning limit, ``quota_error`` for a Reject limit reached exactly.
A refused push reports ``quota_error`` from a unit of its own (``refused``). The guard
sees every push's before/after under the namespace row's lock, so each crossing is seen by
exactly one push. Each event of a namespace is reported at most once per
QUOTA_NOTIFICATION_COOLDOWN_SECONDS (``quota_notices``, claimed with one conditional
UPDATE or INSERT, safe against concurrent claims).
"""

from __future__ import annotations

from sqlalchemy import Insert, bindparam, select, update

from berth.db.base import now_ms
from berth.db.fast import Unit, dialect_name
from berth.db.session import Database
from berth.namespaces.models import Namespace
from berth.quotas.events import QUOTA_ERROR, QUOTA_WARNING, Crossing, QuotaEvents
from berth.quotas.models import NamespaceQuota, QuotaLimit, QuotaNotice
from berth.registry.errors import QuotaExceeded

WARNING = "Warning"
REJECT = "Reject"

_LIMITS = (
    select(NamespaceQuota.limit_bytes, QuotaLimit.kind, QuotaLimit.percent)
    .outerjoin(QuotaLimit, QuotaLimit.quota_id == NamespaceQuota.id)
    .where(NamespaceQuota.namespace_id == bindparam("namespace_id"))
)
_NAME = select(Namespace.name).where(Namespace.id == bindparam("namespace_id"))
_NOTICES = QuotaNotice.__table__
_RENEW_NOTICE = (
    update(_NOTICES)
    .where(
        _NOTICES.c.namespace_id == bindparam("ns"),
        _NOTICES.c.event == bindparam("ev"),
        _NOTICES.c.sent_at <= bindparam("due"),
    )
    .values(sent_at=bindparam("now"))
)


def _insert_notice(dialect: str) -> Insert:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(_NOTICES).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(_NOTICES).on_conflict_do_nothing()


def threshold(limit_bytes: int, percent: int) -> int:
    return limit_bytes * percent // 100


class QuotaEnforcer:
    """``QuotaGuard`` over the quota tables."""

    def __init__(
        self, db: Database, events: QuotaEvents, *, default_reject_bytes: int, cooldown_s: int
    ) -> None:
        self.db = db
        self.events = events
        self.default_reject_bytes = default_reject_bytes
        self.cooldown_ms = cooldown_s * 1000
        self._insert = {d: _insert_notice(d) for d in ("postgresql", "sqlite")}

    async def _limits(self, s: Unit, namespace_id: int) -> tuple[int, list[tuple[str, int]]]:
        """The quota's bytes and its (kind, percent) limits; (0, []) when none applies."""
        rows = (await s.execute(_LIMITS, {"namespace_id": namespace_id})).all()
        if not rows:
            if self.default_reject_bytes > 0:
                return self.default_reject_bytes, [(REJECT, 100)]
            return 0, []
        return int(rows[0][0]), [(kind, pct) for _, kind, pct in rows if kind is not None]

    async def admit(self, s: Unit, namespace_id: int, before: int, after: int) -> None:
        limit_bytes, limits = await self._limits(s, namespace_id)
        if not limits:
            return
        rejects = [threshold(limit_bytes, p) for kind, p in limits if kind == REJECT]
        if rejects and after > min(rejects):
            percent = min(p for kind, p in limits if kind == REJECT)
            raise QuotaExceeded(namespace_id, before, after, limit_bytes, percent)
        crossed: dict[str, int] = {}
        for kind, percent in limits:
            line = threshold(limit_bytes, percent)
            if before < line <= after:
                event = QUOTA_WARNING if kind == WARNING else QUOTA_ERROR
                crossed[event] = max(crossed.get(event, 0), percent)
        for event, percent in crossed.items():
            await self._report(
                s, Crossing(namespace_id, "", event, after, limit_bytes, percent), now_ms()
            )

    async def refused(self, exc: QuotaExceeded) -> None:
        crossing = Crossing(
            exc.namespace_id,
            "",
            QUOTA_ERROR,
            exc.after,
            exc.limit_bytes,
            exc.percent,
            refused=True,
        )
        async with self.db.write_fast() as s:
            await self._report(s, crossing, now_ms())

    async def _claim(self, s: Unit, namespace_id: int, event: str, now: int) -> bool:
        """May ``event`` be reported now (cooldown)? Claims it if so."""
        params = {"ns": namespace_id, "ev": event, "due": now - self.cooldown_ms, "now": now}
        renewed = await s.execute(_RENEW_NOTICE, params)
        if renewed.rowcount:  # type: ignore[union-attr]  # a DML result is a CursorResult
            return True
        values = {"namespace_id": namespace_id, "event": event, "sent_at": now}
        inserted = await s.execute(self._insert[dialect_name(s)], values)
        return bool(inserted.rowcount)  # type: ignore[union-attr]  # as above

    async def _report(self, s: Unit, crossing: Crossing, now: int) -> None:
        if not await self._claim(s, crossing.namespace_id, crossing.event, now):
            return
        name = (await s.execute(_NAME, {"namespace_id": crossing.namespace_id})).scalar()
        if name is None:
            return
        await self.events.crossed(
            s,
            Crossing(
                crossing.namespace_id,
                name,
                crossing.event,
                crossing.usage_bytes,
                crossing.limit_bytes,
                crossing.threshold_percent,
                crossing.refused,
            ),
        )
