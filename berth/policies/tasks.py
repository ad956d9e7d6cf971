"""Auto-prune jobs: a periodic sweep enqueues one small job per namespace."""

from __future__ import annotations

from berth.db.jobs import enqueue
from berth.db.session import Database
from berth.policies.pruning import Pruner

AUTOPRUNE_SWEEP_JOB = "autoprune_sweep"
PRUNE_NAMESPACE_JOB = "prune_namespace"


async def autoprune_sweep(db: Database, pruner: Pruner) -> int:
    """Enqueue ``prune_namespace`` for every namespace with policies; how many."""
    namespace_ids = await pruner.namespaces()
    async with db.write() as s:
        for namespace_id in namespace_ids:
            await enqueue(
                s,
                PRUNE_NAMESPACE_JOB,
                {"namespace_id": namespace_id},
                dedupe_key=f"{PRUNE_NAMESPACE_JOB}:{namespace_id}",
            )
    return len(namespace_ids)


async def prune_namespace(pruner: Pruner, namespace_id: int) -> int:
    """Run one namespace's policies on each of its repositories; how many tags were pruned.
    Idempotent: a second run finds nothing more to prune."""
    pruned = 0
    for target in await pruner.targets(namespace_id):
        pruned += len(await pruner.prune(target))
    return pruned
