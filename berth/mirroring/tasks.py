"""Mirroring's job kinds: the scheduler's sweep and one repository's sync (both in the long
lane: a sync never delays a webhook).

``SCHEDULE_MIRRORS`` runs every REPO_MIRROR_INTERVAL seconds (deduplicated across
replicas) and enqueues a ``SYNC_MIRROR`` for every mirror that is due. ``SYNC_MIRROR``
claims its mirror with a conditional update before it starts, so a mirror due twice, or a
job run twice after a crash, syncs once at a time. The handlers live in ``sync.py``; the
composition root binds them.
"""

from __future__ import annotations

from dataclasses import dataclass

from berth.jobs import JobKind, Lane, NoPayload


@dataclass(frozen=True)
class SyncMirror:
    config_id: int


SCHEDULE_MIRRORS = JobKind("schedule_mirrors", NoPayload, lane=Lane.LONG, max_attempts=1)
# One attempt: a failed sync is retried by the mirror's own schedule (sync_retries_remaining).
SYNC_MIRROR = JobKind("sync_mirror", SyncMirror, lane=Lane.LONG, max_attempts=1)
