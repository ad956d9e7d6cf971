"""The quota's job kind: QUOTA_BACKFILL's recount (``QuotaService.backfill``), scheduled
every QUOTA_TOTAL_DELAY_SECONDS when quota management and QUOTA_BACKFILL are on."""

from __future__ import annotations

from berth.jobs import JobKind, Lane, NoPayload
from berth.quotas.services import QuotaService

BACKFILL_QUOTA_TOTALS = JobKind("backfill_quota_totals", NoPayload, lane=Lane.LONG)


async def backfill_quota_totals(_payload: NoPayload, quotas: QuotaService) -> int:
    """Recount; how many stored sizes were corrected. Idempotent."""
    done = await quotas.backfill()
    return done.repositories + done.namespaces
