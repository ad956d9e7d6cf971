"""Quota events: a namespace crossed a Warning limit (``quota_warning``), reached a Reject
limit or had a push refused by one (``quota_error``).

``QuotaEvents`` is what the enforcement reports to. ``LoggedQuotaEvents`` writes each event
as a usage-log entry of the namespace (kind ``quota_warning``/``quota_error``), in the unit
it is given: the push's own transaction for crossings, a unit of its own for refusals (the
refused push rolled back). ``NotifiedQuotaEvents`` does that and hands the crossing to the
notifications' dispatcher (given by the composition root), which enqueues the deliveries of
the namespace's ``quota_*`` notifications in the same unit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from berth.audit.services import insert_logs, log_values
from berth.db.fast import Unit

QUOTA_WARNING = "quota_warning"
QUOTA_ERROR = "quota_error"


@dataclass(frozen=True, slots=True)
class Crossing:
    namespace_id: int
    namespace: str
    event: str  # QUOTA_WARNING | QUOTA_ERROR
    usage_bytes: int  # the namespace's bytes with the push (refused: what it would have been)
    limit_bytes: int  # the quota's limit
    threshold_percent: int  # the limit that was crossed
    refused: bool = False


class QuotaEvents(Protocol):
    async def crossed(self, s: Unit, crossing: Crossing) -> None:
        """Report one crossing, inside the unit ``s``."""
        ...


class LoggedQuotaEvents:
    """Each crossing becomes a usage-log entry of its namespace."""

    async def crossed(self, s: Unit, crossing: Crossing) -> None:
        meta = {
            "namespace": crossing.namespace,
            "usage_bytes": crossing.usage_bytes,
            "limit_bytes": crossing.limit_bytes,
            "threshold_percent": crossing.threshold_percent,
            "refused": crossing.refused,
        }
        await insert_logs(
            s,
            [
                log_values(
                    crossing.event,
                    crossing.namespace,
                    None,
                    None,
                    meta,
                    namespace_id=crossing.namespace_id,
                )
            ],
        )


class NotifiedQuotaEvents(LoggedQuotaEvents):
    """Each crossing is logged, then given to ``notify`` (the namespace's notifications)."""

    def __init__(self, notify: Callable[[Unit, Crossing], Awaitable[object]]) -> None:
        self._notify = notify

    async def crossed(self, s: Unit, crossing: Crossing) -> None:
        await super().crossed(s, crossing)
        await self._notify(s, crossing)
