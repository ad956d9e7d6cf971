"""Which tags refuse moves, deletion, expiry and pruning.

A tag is immutable when its live row carries the ``immutable`` flag (set through the tags
API or by the ``quay.immutable`` label at push). Every path that ends or moves a tag asks
``immutable_names`` inside its write transaction and raises ``TagImmutable`` for a hit.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from berth.registry.errors import TagImmutable
from berth.registry.models import Tag


async def immutable_names(
    s: AsyncSession, repository_id: int, names: Iterable[str], now: int
) -> set[str]:
    """The names among ``names`` whose live tag is immutable."""
    wanted = set(names)
    if not wanted:
        return set()
    rows = await s.execute(
        select(Tag.name).where(
            Tag.repository_id == repository_id,
            Tag.name.in_(wanted),
            Tag.hidden.is_(False),
            Tag.immutable.is_(True),
            or_(Tag.end_ts.is_(None), Tag.end_ts > now),
        )
    )
    return set(rows.scalars())


async def ensure_mutable(
    s: AsyncSession, repository_id: int, names: Iterable[str], now: int, *, action: str
) -> None:
    """Raise ``TagImmutable`` naming the tags when any of ``names`` is immutable."""
    hits = await immutable_names(s, repository_id, names, now)
    if hits:
        listed = ", ".join(sorted(hits))
        raise TagImmutable(
            f"tag {listed} is immutable and cannot be {action}",
            {"tags": sorted(hits), "action": action},
        )
