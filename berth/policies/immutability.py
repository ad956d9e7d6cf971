"""Which tags refuse moves, deletion, expiry and pruning.

A tag is immutable when its live row carries the ``immutable`` flag (set through the tags
API or by the ``quay.immutable`` label at push), or when its name is selected by an
immutability policy of its repository or of the repository's namespace (a pattern that
must match from the start of the name; ``tag_pattern_matches`` false selects the names
that do not match). Every path that ends or moves a tag asks ``immutable_names`` inside
its write transaction and raises ``TagImmutable`` for a hit.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from berth.policies.models import ImmutabilityPolicy
from berth.policies.rules import TagFilter
from berth.registry.errors import TagImmutable
from berth.registry.models import Repository, Tag


async def policy_filters(s: AsyncSession, repository_id: int) -> list[TagFilter]:
    """The immutability policies of the repository and of its namespace (one query)."""
    namespace_of_repo = (
        select(Repository.namespace_id).where(Repository.id == repository_id).scalar_subquery()
    )
    rows = await s.execute(
        select(ImmutabilityPolicy.tag_pattern, ImmutabilityPolicy.tag_pattern_matches).where(
            or_(
                ImmutabilityPolicy.repository_id == repository_id,
                and_(
                    ImmutabilityPolicy.repository_id.is_(None),
                    ImmutabilityPolicy.namespace_id == namespace_of_repo,
                ),
            )
        )
    )
    return [TagFilter(pattern, matches, anchored=True) for pattern, matches in rows]


async def policy_protects(s: AsyncSession, repository_id: int, name: str) -> bool:
    """Does an immutability policy select ``name`` (whether or not such a tag exists yet)?"""
    return any(f.selects(name) for f in await policy_filters(s, repository_id))


async def immutable_names(
    s: AsyncSession, repository_id: int, names: Iterable[str], now: int
) -> set[str]:
    """The names among ``names`` whose live tag is immutable (flag or policy).

    At most two queries: the live tags among ``names``, then (only if some of them are
    not flagged) the repository's and namespace's policies.
    """
    wanted = set(names)
    if not wanted:
        return set()
    rows = await s.execute(
        select(Tag.name, Tag.immutable).where(
            Tag.repository_id == repository_id,
            Tag.name.in_(wanted),
            Tag.hidden.is_(False),
            or_(Tag.end_ts.is_(None), Tag.end_ts > now),
        )
    )
    live: dict[str, bool] = {}
    for name, flagged in rows:
        live[name] = live.get(name, False) or flagged
    hits = {name for name, flagged in live.items() if flagged}
    unflagged = live.keys() - hits
    if unflagged:
        filters = await policy_filters(s, repository_id)
        hits |= {name for name in unflagged if any(f.selects(name) for f in filters)}
    return hits


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
