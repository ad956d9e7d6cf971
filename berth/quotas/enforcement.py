"""Quotas as the registry's ``QuotaGuard`` (``berth.registry.quota``).

The namespace's limits are read inside the push's size UPDATE (``returning``: three scalar
subqueries over the updated ``namespaces`` row, so the check adds no round trip): the
quota's bytes (no quota: the system default, DEFAULT_SYSTEM_REJECT_QUOTA_BYTES, as a
Reject limit at 100%), the lowest Reject line and the highest Warning percentage the push
crossed. Lines are compared as ``limit_bytes * percent`` against ``bytes * 100`` (no
rounding). ``admit`` refuses a push whose new total exceeds the Reject line and reports a
crossing when the push takes the total from below a line to at or above it:
``quota_warning`` for a Warning limit, ``quota_error`` for a Reject line reached exactly.
A refused push reports ``quota_error`` from a unit of its own (``refused``). The guard
sees every push's before/after under the namespace row's lock, so each crossing is seen by
exactly one push. Each event of a namespace is reported at most once per
QUOTA_NOTIFICATION_COOLDOWN_SECONDS (``quota_notices``, claimed with one conditional
UPDATE or INSERT, safe against concurrent claims).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, Insert, bindparam, literal_column, select, update

from berth.db.base import now_ms
from berth.db.fast import Unit, dialect_name
from berth.db.session import Database
from berth.namespaces.models import Namespace
from berth.quotas.events import QUOTA_ERROR, QUOTA_WARNING, Crossing, QuotaEvents
from berth.quotas.models import QuotaNotice
from berth.registry.errors import QuotaExceeded

WARNING = "Warning"
REJECT = "Reject"

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


# Scalar subqueries over the row the push's UPDATE changes (``namespaces``, its new
# size_bytes), written out with qualified names: SQLAlchemy renders a RETURNING clause's
# columns unqualified, which SQLite then finds ambiguous inside a join.
_LIMITS_OF_ROW = (
    "FROM quota_limits AS ql JOIN namespace_quotas AS nq ON nq.id = ql.quota_id "
    "WHERE ql.namespace_id = namespaces.id"
)
_QUOTA_BYTES = (
    "(SELECT nq.limit_bytes FROM namespace_quotas AS nq WHERE nq.namespace_id = namespaces.id)"
)
_REJECT_LINE = (
    f"(SELECT min(nq.limit_bytes * ql.percent) {_LIMITS_OF_ROW} AND ql.kind = '{REJECT}')"
)
_WARNING_REACHED = (
    f"(SELECT max(ql.percent) {_LIMITS_OF_ROW} AND ql.kind = '{WARNING}' "
    "AND nq.limit_bytes * ql.percent <= namespaces.size_bytes * 100)"
)
_NO_QUOTA = (
    "NOT EXISTS (SELECT 1 FROM namespace_quotas AS nq WHERE nq.namespace_id = namespaces.id)"
)


def _checks(default_reject_bytes: int) -> tuple[Any, ...]:
    """(quota bytes, lowest Reject line x100, highest Warning percent reached), evaluated
    in the namespace's size UPDATE ... RETURNING."""
    quota_bytes, reject = _QUOTA_BYTES, _REJECT_LINE
    if default_reject_bytes > 0:
        default = int(default_reject_bytes)
        quota_bytes = f"coalesce({quota_bytes}, CASE WHEN {_NO_QUOTA} THEN {default} END)"
        reject = f"coalesce({reject}, CASE WHEN {_NO_QUOTA} THEN {default * 100} END)"
    return tuple(literal_column(sql, BigInteger) for sql in (quota_bytes, reject, _WARNING_REACHED))


class QuotaEnforcer:
    """``QuotaGuard`` over the quota tables."""

    def __init__(
        self, db: Database, events: QuotaEvents, *, default_reject_bytes: int, cooldown_s: int
    ) -> None:
        self.db = db
        self.events = events
        self.default_reject_bytes = default_reject_bytes
        self.cooldown_ms = cooldown_s * 1000
        self.returning = _checks(default_reject_bytes)
        self._insert = {d: _insert_notice(d) for d in ("postgresql", "sqlite")}

    async def admit(
        self, s: Unit, namespace_id: int, before: int, after: int, checks: Sequence[Any]
    ) -> None:
        quota_bytes, reject, warning = checks
        if quota_bytes is None or not quota_bytes:
            return
        quota_bytes = int(quota_bytes)
        if reject is not None:
            reject = int(reject)
            if after * 100 > reject:
                raise QuotaExceeded(namespace_id, before, after, quota_bytes, reject // quota_bytes)
        now = now_ms()
        if warning is not None and quota_bytes * int(warning) > before * 100:
            crossing = Crossing(namespace_id, "", QUOTA_WARNING, after, quota_bytes, int(warning))
            await self._report(s, crossing, now)
        if reject is not None and before * 100 < reject <= after * 100:
            crossing = Crossing(
                namespace_id, "", QUOTA_ERROR, after, quota_bytes, reject // quota_bytes
            )
            await self._report(s, crossing, now)

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
