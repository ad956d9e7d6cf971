"""``delete_repository(repository_id)``: remove a deleted repository's rows.

The API has already hidden the repository (``MARKED_FOR_DELETION``, renamed). This job
cancels its upload sessions, then removes its tags, manifests (with their blob and child
links), blob links and finally the repository row (permissions go with it), in small
transactions so other writers are never held up for long. Afterwards no row of the
repository references a blob; garbage collection frees the blobs nothing else references.

Idempotent: a repository already gone (or not marked for deletion) is left alone, and a run
interrupted half-way is finished by the next.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Delete, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from berth.authz import RepositoryState
from berth.db.session import Database
from berth.jobs import JobKind, Lane
from berth.registry import accounting
from berth.registry.models import Manifest, ManifestChild, Repository, RepositoryBlob, Tag, Upload
from berth.storage.base import BlobStorage

log = logging.getLogger(__name__)

BATCH = 500
MARKED_FOR_DELETION = RepositoryState.MARKED_FOR_DELETION  # the state of a deleted repository


@dataclass(frozen=True)
class DeleteRepository:
    repository_id: int


DELETE_REPOSITORY = JobKind("delete_repository", DeleteRepository, lane=Lane.LONG)


async def _marked(db: Database, repository_id: int) -> bool:
    # A write unit: a pooled read connection may still hold a snapshot from before the
    # delete committed, and the job would then leave the repository's rows in place.
    async with db.write() as s:
        state = (
            await s.execute(select(Repository.state).where(Repository.id == repository_id))
        ).scalar()
    return state == MARKED_FOR_DELETION


async def _cancel_uploads(db: Database, storage: BlobStorage, repository_id: int) -> None:
    async with db.read() as s:
        uploads = (
            await s.execute(
                select(Upload.id, Upload.storage_state).where(Upload.repository_id == repository_id)
            )
        ).all()
    for upload_id, state in uploads:
        await storage.abort_upload(upload_id, state)
        async with db.write() as s:
            await s.execute(delete(Upload).where(Upload.id == upload_id))


async def _delete_in_batches(
    db: Database,
    model: Any,
    key: Any,
    where: Any,
    *,
    first: Callable[[list[Any]], list[Delete]] | None = None,
    account: Callable[[AsyncSession, list[Any]], Awaitable[Any]] | None = None,
) -> int:
    """Delete the rows matching ``where``, BATCH at a time by ``key`` (after the statements
    ``first`` gives for each batch, and ``account`` in the same transaction: the namespace's
    size drops with each batch, berth.registry.accounting); how many went."""
    total = 0
    while True:
        async with db.write() as s:
            ids = list((await s.execute(select(key).where(where).limit(BATCH))).scalars())
            if not ids:
                return total
            if account:
                await account(s, ids)
            for stmt in first(ids) if first else []:
                await s.execute(stmt)
            await s.execute(delete(model).where(where, key.in_(ids)))
        total += len(ids)


def _child_links(manifest_ids: list[Any]) -> list[Delete]:
    """A manifest's index links, on either side (blob links go by cascade)."""
    return [
        delete(ManifestChild).where(
            or_(
                ManifestChild.parent_id.in_(manifest_ids),
                ManifestChild.child_id.in_(manifest_ids),
            )
        )
    ]


async def delete_repository(payload: DeleteRepository, db: Database, storage: BlobStorage) -> None:
    repository_id = payload.repository_id
    if not await _marked(db, repository_id):
        return
    await _cancel_uploads(db, storage, repository_id)
    tags = await _delete_in_batches(db, Tag, Tag.id, Tag.repository_id == repository_id)
    manifests = await _delete_in_batches(
        db,
        Manifest,
        Manifest.id,
        Manifest.repository_id == repository_id,
        first=_child_links,
        account=lambda s, ids: accounting.release_manifests(s, repository_id, ids),
    )
    await _delete_in_batches(
        db, RepositoryBlob, RepositoryBlob.blob_id, RepositoryBlob.repository_id == repository_id
    )
    async with db.write() as s:
        await s.execute(
            delete(Repository).where(
                Repository.id == repository_id, Repository.state == MARKED_FOR_DELETION
            )
        )
    log.info("deleted repository %d: %d tag rows, %d manifests", repository_id, tags, manifests)
