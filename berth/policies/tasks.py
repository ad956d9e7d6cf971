"""Auto-prune jobs: a periodic sweep enqueues one small job per namespace."""

from __future__ import annotations

from dataclasses import dataclass

from berth.db.session import Database
from berth.jobs import JobKind, Lane, NoPayload, enqueue
from berth.policies.pruning import Pruner


@dataclass(frozen=True)
class PruneNamespace:
    namespace_id: int


AUTOPRUNE_SWEEP = JobKind("autoprune_sweep", NoPayload, lane=Lane.LONG)
PRUNE_NAMESPACE = JobKind("prune_namespace", PruneNamespace, lane=Lane.LONG)


async def autoprune_sweep(_payload: NoPayload, db: Database, pruner: Pruner) -> int:
    """Enqueue ``prune_namespace`` for every namespace with policies; how many."""
    namespace_ids = await pruner.namespaces()
    async with db.write() as s:
        for namespace_id in namespace_ids:
            await enqueue(
                s,
                PRUNE_NAMESPACE,
                PruneNamespace(namespace_id=namespace_id),
                dedupe_key=f"{PRUNE_NAMESPACE.name}:{namespace_id}",
            )
    return len(namespace_ids)


async def prune_namespace(payload: PruneNamespace, pruner: Pruner) -> int:
    """Run one namespace's policies on each of its repositories; how many tags were pruned.
    Idempotent: a second run finds nothing more to prune."""
    pruned = 0
    for target in await pruner.targets(payload.namespace_id):
        pruned += len(await pruner.prune(target))
    return pruned
