"""When a tag is alive and when a manifest is served: the time machine's two rules.

A tag row is alive while ``end_ts`` is NULL or in the future (a future ``end_ts`` is an
expiration); an ended row stays as history. A manifest is visible (served by digest, listed
as a referrer, addressable through the API) while a live tag points at it or at an index
that lists it. So deleting or expiring the last tag hides a manifest at once, and restoring
a tag within the namespace's time-machine window shows it again; garbage collection frees
it only after the window.

Expiry needs no worker: every read compares ``end_ts`` with the current time, and the read
cache keeps an answer no longer than the earliest expiration it depends on.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from berth.registry.models import Manifest, ManifestChild, Tag


def alive(now: Any) -> Any:
    """A condition on ``Tag``: the row has not ended at ``now`` (epoch ms, or a bind
    parameter in a statement built once)."""
    return or_(Tag.end_ts.is_(None), Tag.end_ts > now)


def visible(now: int) -> Any:
    """A condition on ``Manifest``: a live tag points at it or at an index listing it."""
    parent = Tag.__table__.alias("parent_tag")
    return or_(
        exists().where(Tag.manifest_id == Manifest.id, alive(now)),
        exists()
        .select_from(
            ManifestChild.__table__.join(parent, parent.c.manifest_id == ManifestChild.parent_id)
        )
        .where(
            ManifestChild.child_id == Manifest.id,
            or_(parent.c.end_ts.is_(None), parent.c.end_ts > now),
        ),
    )


async def visible_manifest_id(
    s: AsyncSession, repository_id: int, digest: str, now: int
) -> int | None:
    """The id of the manifest ``digest`` of the repository, if it is visible at ``now``."""
    return (
        await s.execute(
            select(Manifest.id).where(
                Manifest.repository_id == repository_id,
                Manifest.digest == digest,
                visible(now),
            )
        )
    ).scalar()
