"""Which tags refuse moves, deletion, expiry and pruning: the one check every such path asks.

A tag is immutable when its live row carries the ``immutable`` flag (set through the tags
API or by the ``quay.immutable`` label at push), or when a rule of a feature selects its name
(immutability policies today: ``berth.policies.immutability``). The registry does not know
those features: the composition root hands it a ``TagGuard`` built over their rules
(``ImmutabilityRules``), so the core never imports a feature. Every path that ends or moves a
tag calls ``TagGuard.ensure_mutable`` inside its write transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from sqlalchemy import or_, select

from berth.db.fast import Unit
from berth.registry.errors import TagImmutable
from berth.registry.models import Tag

NameSelector = Callable[[str], bool]


def _selects_nothing(_name: str) -> bool:
    return False


class ImmutabilityRules(Protocol):
    """Rules outside the tag rows that make names immutable in a repository."""

    async def selector(self, s: Unit, repository_id: int) -> NameSelector:
        """A predicate on tag names, read in the caller's transaction (one query at most)."""
        ...


class NoRules:
    """Only the tags' own flags count."""

    async def selector(self, s: Unit, repository_id: int) -> NameSelector:
        return _selects_nothing


class TagGuard:
    """The immutability check of the registry core, over the rules it was given."""

    def __init__(self, rules: ImmutabilityRules | None = None) -> None:
        self.rules: ImmutabilityRules = rules or NoRules()

    async def selector(self, s: Unit, repository_id: int) -> NameSelector:
        """Names the rules protect in the repository, whether or not such a tag exists."""
        return await self.rules.selector(s, repository_id)

    async def protects(self, s: Unit, repository_id: int, name: str) -> bool:
        """Does a rule select ``name`` (tag or not)?"""
        return (await self.selector(s, repository_id))(name)

    async def immutable_names(
        self, s: Unit, repository_id: int, names: Iterable[str], now: int
    ) -> set[str]:
        """The names among ``names`` whose live tag is immutable (flag or rule).

        At most two queries: the live tags among ``names``, then (only if some of them are
        not flagged) the rules.
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
            selects = await self.selector(s, repository_id)
            hits |= {name for name in unflagged if selects(name)}
        return hits

    async def ensure_mutable(
        self,
        s: Unit,
        repository_id: int,
        names: Iterable[str],
        now: int,
        *,
        action: str,
    ) -> None:
        """Raise ``TagImmutable`` naming the tags when any of ``names`` is immutable."""
        hits = await self.immutable_names(s, repository_id, names, now)
        if hits:
            listed = ", ".join(sorted(hits))
            raise TagImmutable(
                f"tag {listed} is immutable and cannot be {action}",
                {"tags": sorted(hits), "action": action},
            )
