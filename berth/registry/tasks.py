"""Background jobs of the registry core."""

from __future__ import annotations

import logging
import time
from typing import Any

from sqlalchemy import delete, select

from berth.db.base import now_ms
from berth.db.session import Database
from berth.jobs import JobKind, Lane, NoPayload
from berth.registry.models import Upload
from berth.storage.base import BlobStorage

log = logging.getLogger(__name__)

PURGE_EXPIRED_UPLOADS = JobKind("purge_expired_uploads", NoPayload, lane=Lane.LONG)


async def purge_expired_uploads(
    db: Database, storage: BlobStorage, *, expiry_s: int
) -> dict[str, Any]:
    """Cancel upload sessions idle longer than ``expiry_s``, and staging nobody tracks.

    Idempotent: a session already gone is skipped; staging without a session row (a crash
    between creating the staging area and recording it) is removed once it is as old.
    """
    cutoff_ms = now_ms() - expiry_s * 1000
    async with db.read() as s:
        stale = (
            await s.execute(
                select(Upload.id, Upload.storage_state).where(Upload.updated_at < cutoff_ms)
            )
        ).all()
    for upload_id, state in stale:
        await storage.abort_upload(upload_id, state)
        async with db.write() as s:
            await s.execute(
                delete(Upload).where(Upload.id == upload_id, Upload.updated_at < cutoff_ms)
            )
    orphans = 0
    cutoff_s = time.time() - expiry_s
    async with db.read() as s:
        known = set((await s.execute(select(Upload.id))).scalars())
    async for upload_id, modified in storage.list_uploads():
        if upload_id not in known and modified < cutoff_s:
            await storage.abort_upload(upload_id, {})
            orphans += 1
    if stale or orphans:
        log.info(
            "purged %d expired upload sessions and %d orphaned staging areas", len(stale), orphans
        )
    return {"expired": len(stale), "orphans": orphans}
