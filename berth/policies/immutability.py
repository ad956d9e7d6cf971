"""Immutability policies as rules of the registry's tag guard.

A policy of a repository, or of the repository's namespace, selects tag names by a pattern
that must match from the start of the name (``tag_pattern_matches`` false selects the names
that do not match). ``ImmutabilityPolicies`` gives the registry's ``TagGuard`` (see
``berth.registry.immutability``) the predicate of a repository's policies.
"""

from __future__ import annotations

from sqlalchemy import and_, or_, select

from berth.db.fast import Unit
from berth.policies.models import ImmutabilityPolicy
from berth.policies.rules import TagFilter
from berth.registry.immutability import NameSelector
from berth.registry.models import Repository


async def policy_filters(s: Unit, repository_id: int) -> list[TagFilter]:
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


class ImmutabilityPolicies:
    """``ImmutabilityRules`` from the repository's and namespace's policies."""

    async def selector(self, s: Unit, repository_id: int) -> NameSelector:
        filters = await policy_filters(s, repository_id)
        return lambda name: any(f.selects(name) for f in filters)
