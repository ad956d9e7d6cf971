"""Auto-prune: what the RDO tag pruner does by hand, driven by policies.

For every repository (state NORMAL) of a namespace with policies, the namespace's policies
(or, for a namespace without any, the configured DEFAULT_NAMESPACE_AUTOPRUNE_POLICY) and the
repository's own policies each select tags; a tag selected by any of them is pruned (a
logical OR, as Quay). ``number_of_tags`` keeps the newest N tags among those its pattern
selects; ``creation_date`` selects those pushed longer ago than the duration;
``last_pull_date`` (Berth's) those whose last pull, by tag or of their manifest by digest,
is longer ago than the duration (a tag never pulled counts from its push). Immutable
tags (flag or immutability policy) keep their place in the count but are never deleted.

A prune ends the tag the way a user's delete does (``ManifestService.delete``), so it stays
restorable within the namespace's time-machine window, and writes one
``autoprune_tag_delete`` usage log per tag.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from email.utils import formatdate

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from berth.authz import RepositoryState
from berth.db.base import now_ms
from berth.db.session import Database
from berth.namespaces.models import Namespace
from berth.policies.models import AutoPrunePolicy
from berth.policies.rules import PruneRule
from berth.policies.services import Stored, prune_rule_of
from berth.registry.errors import ManifestUnknown, TagImmutable
from berth.registry.manifests import ManifestService
from berth.registry.models import Manifest, ManifestPullStat, Repository, Tag, TagPullStat
from berth.registry.repositories import RepoRow

log = logging.getLogger(__name__)

DEFAULT_POLICY_UUID = "default"  # how the configured default policy is named in reports
PERFORMER = "autoprune worker"


@dataclass(frozen=True, slots=True)
class PruneTarget:
    """One repository and the policies that apply to it."""

    repository: RepoRow
    namespace_id: int
    policies: tuple[Stored[PruneRule], ...]


@dataclass(frozen=True, slots=True)
class PrunedTag:
    namespace: str
    repository: str
    tag: str
    start_ts: int  # epoch ms the tag was pushed
    policy: str  # uuid of the first policy that selected it (or "default")
    last_pull: int | None = None  # epoch ms of its last pull (tag or manifest), if counted
    reason: str = ""  # why the policy selected it, for ``berth prune --dry-run``


@dataclass(frozen=True, slots=True)
class _LiveTag:
    name: str
    start_ts: int
    last_pull: int | None = None

    @property
    def last_used(self) -> int:
        return max(self.start_ts, self.last_pull or 0)


def select_for_pruning(
    tags: list[_LiveTag], policies: tuple[Stored[PruneRule], ...], now: int
) -> dict[str, str]:
    """tag name -> uuid of the first policy selecting it."""
    chosen: dict[str, str] = {}
    for stored in policies:
        rule = stored.rule
        candidates = [t for t in tags if rule.filter.selects(t.name)]
        keep = rule.keep_newest
        idle_s = rule.max_idle_s
        if keep is not None:
            candidates.sort(key=lambda t: (t.start_ts, t.name), reverse=True)
            picked = candidates[keep:]
        elif idle_s is not None:
            idle_cutoff = now - idle_s * 1000
            picked = [t for t in candidates if t.last_used < idle_cutoff]
        else:
            max_age_s = rule.max_age_s
            assert max_age_s is not None
            cutoff = now - max_age_s * 1000
            picked = [t for t in candidates if t.start_ts < cutoff]
        for tag in picked:
            chosen.setdefault(tag.name, stored.uuid)
    return chosen


def _when(ms: int) -> str:
    return formatdate(ms / 1000, usegmt=True)


def _reason(rule: PruneRule, tag: _LiveTag) -> str:
    if rule.keep_newest is not None:
        return f"not among the newest {rule.keep_newest} tags"
    if rule.max_idle_s is not None:
        if tag.last_pull is None:
            return f"never pulled, pushed {_when(tag.start_ts)}, idle over {rule.value}"
        return f"last pulled {_when(tag.last_pull)}, idle over {rule.value}"
    return f"pushed {_when(tag.start_ts)}, older than {rule.value}"


async def last_pulls(s: AsyncSession, repository_id: int, now: int) -> dict[str, int]:
    """Live tag name -> its last pull: by tag, or of the manifest it points at by any
    reference (pull counters, kept by the pull log's flush)."""
    by_tag = dict(
        (
            await s.execute(
                select(TagPullStat.tag_name, TagPullStat.last_pull_at).where(
                    TagPullStat.repository_id == repository_id
                )
            )
        ).all()
    )
    by_manifest = await s.execute(
        select(Tag.name, ManifestPullStat.last_pull_at)
        .join(Manifest, Manifest.id == Tag.manifest_id)
        .join(
            ManifestPullStat,
            (ManifestPullStat.repository_id == Tag.repository_id)
            & (ManifestPullStat.digest == Manifest.digest),
        )
        .where(
            Tag.repository_id == repository_id,
            Tag.hidden.is_(False),
            or_(Tag.end_ts.is_(None), Tag.end_ts > now),
        )
    )
    for name, at in by_manifest:
        by_tag[name] = max(by_tag.get(name, 0), at)
    return by_tag


class Pruner:
    def __init__(
        self,
        db: Database,
        manifests: ManifestService,
        *,
        default_rule: PruneRule | None = None,
    ) -> None:
        self.db = db
        self.manifests = manifests
        self.default = (
            Stored(DEFAULT_POLICY_UUID, default_rule) if default_rule is not None else None
        )

    async def namespaces(self) -> list[int]:
        """Namespaces a pass must visit: those with policies (every enabled one with
        repositories when a default policy is configured)."""
        async with self.db.read() as s:
            if self.default is not None:
                stmt = (
                    select(Repository.namespace_id)
                    .join(Namespace, Namespace.id == Repository.namespace_id)
                    .where(Namespace.enabled)
                )
            else:
                stmt = select(AutoPrunePolicy.namespace_id)
            return sorted(set((await s.execute(stmt)).scalars()))

    async def targets(self, namespace_id: int | None = None) -> list[PruneTarget]:
        """Every repository some policy applies to (in one namespace, or everywhere)."""
        async with self.db.read() as s:
            stmt = select(AutoPrunePolicy)
            if namespace_id is not None:
                stmt = stmt.where(AutoPrunePolicy.namespace_id == namespace_id)
            by_namespace: dict[int, list[Stored[PruneRule]]] = defaultdict(list)
            by_repository: dict[int, list[Stored[PruneRule]]] = defaultdict(list)
            for row in (
                await s.execute(stmt.order_by(AutoPrunePolicy.created_at, AutoPrunePolicy.id))
            ).scalars():
                bucket = (
                    by_namespace[row.namespace_id]
                    if row.repository_id is None
                    else by_repository[row.repository_id]
                )
                bucket.append(Stored(row.uuid, prune_rule_of(row)))
            repos = (
                select(
                    Repository.id,
                    Namespace.name,
                    Repository.name,
                    Repository.is_public,
                    Repository.state,
                    Repository.namespace_id,
                )
                .join(Namespace, Namespace.id == Repository.namespace_id)
                .where(Namespace.enabled, Repository.state == RepositoryState.NORMAL)
                .order_by(Namespace.name, Repository.name)
            )
            if namespace_id is not None:
                repos = repos.where(Repository.namespace_id == namespace_id)
            if self.default is None:
                repos = repos.where(
                    or_(
                        Repository.namespace_id.in_(list(by_namespace)),
                        Repository.id.in_(list(by_repository)),
                    )
                )
            rows = (await s.execute(repos)).all()
        out: list[PruneTarget] = []
        for rid, ns_name, name, public, state, ns_id in rows:
            level = by_namespace.get(ns_id) or ([self.default] if self.default else [])
            policies = (*level, *by_repository.get(rid, []))
            if policies:
                out.append(
                    PruneTarget(RepoRow(rid, ns_name, name, public, state, ns_id), ns_id, policies)
                )
        return out

    async def plan(self, target: PruneTarget, now: int | None = None) -> list[PrunedTag]:
        """The tags a prune of ``target`` deletes now (immutable ones left out), oldest first."""
        now = now_ms() if now is None else now
        repo = target.repository
        async with self.db.read() as s:
            rows = await s.execute(
                select(Tag.name, func.max(Tag.start_ts))
                .where(
                    Tag.repository_id == repo.id,
                    Tag.hidden.is_(False),
                    or_(Tag.end_ts.is_(None), Tag.end_ts > now),
                )
                .group_by(Tag.name)
            )
            tags = [_LiveTag(name, start) for name, start in rows]
            if any(p.rule.max_idle_s is not None for p in target.policies):
                pulls = await last_pulls(s, repo.id, now)
                tags = [_LiveTag(t.name, t.start_ts, pulls.get(t.name)) for t in tags]
            chosen = select_for_pruning(tags, target.policies, now)
            chosen_set = set(chosen)
            protected = (
                await self.manifests.guard.immutable_names(s, repo.id, chosen_set, now)
                if chosen
                else set()
            )
        rules = {p.uuid: p.rule for p in target.policies}
        return [
            PrunedTag(
                repo.namespace,
                repo.name,
                t.name,
                t.start_ts,
                chosen[t.name],
                t.last_pull,
                _reason(rules[chosen[t.name]], t),
            )
            for t in sorted(tags, key=lambda t: (t.start_ts, t.name))
            if t.name in chosen_set and t.name not in protected
        ]

    async def prune(self, target: PruneTarget, *, dry_run: bool = False) -> list[PrunedTag]:
        """Delete what ``plan`` selects (nothing with ``dry_run``); the tags deleted."""
        planned = await self.plan(target)
        if dry_run:
            return planned
        done: list[PrunedTag] = []
        for tag in planned:
            try:
                await self.manifests.delete(
                    target.repository,
                    tag.tag,
                    started_at=tag.start_ts,
                    log_kind="autoprune_tag_delete",  # in the delete's transaction
                    log_meta={"performer": PERFORMER, "policy_uuid": tag.policy},
                )
            except (ManifestUnknown, TagImmutable):
                continue  # deleted or moved meanwhile, or made immutable since the plan
            done.append(tag)
        if done:
            log.info(
                "autoprune: deleted %d tags from %s/%s",
                len(done),
                target.repository.namespace,
                target.repository.name,
            )
        return done
