"""Queries shared by the registry services (kept here so the hot ones are easy to index-check)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import Delete, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from berth.db.fast import Unit, dialect_name
from berth.namespaces.models import Namespace
from berth.registry.models import Blob, Repository, RepositoryBlob, Upload

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql, sqlite


def _insert_for(s: Unit) -> Callable[[Any], postgresql.Insert | sqlite.Insert]:
    """The dialect's INSERT with ON CONFLICT (imported on first use: SQLAlchemy's PostgreSQL
    package costs ~50 ms to import, which the embedded default's start need not pay)."""
    if dialect_name(s) == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


async def insert_ignore(s: Unit, model: Any, values: dict[str, Any], conflict: list[str]) -> None:
    stmt = _insert_for(s)(model).values(**values).on_conflict_do_nothing(index_elements=conflict)
    await s.execute(stmt)


async def upsert(
    s: AsyncSession,
    model: Any,
    values: dict[str, Any],
    conflict: list[str],
    update: dict[str, Any],
) -> None:
    stmt = _insert_for(s)(model).values(**values)
    stmt = stmt.on_conflict_do_update(index_elements=conflict, set_=update)
    await s.execute(stmt)


async def linked_blob_size(s: AsyncSession, repository_id: int, digest: str) -> int | None:
    return (
        await s.execute(
            select(Blob.size)
            .join(RepositoryBlob, RepositoryBlob.blob_id == Blob.id)
            .where(RepositoryBlob.repository_id == repository_id, Blob.digest == digest)
        )
    ).scalar()


async def linked_blob_id(s: AsyncSession, repository_id: int, digest: str) -> int | None:
    return (
        await s.execute(
            select(Blob.id)
            .join(RepositoryBlob, RepositoryBlob.blob_id == Blob.id)
            .where(RepositoryBlob.repository_id == repository_id, Blob.digest == digest)
        )
    ).scalar()


async def named_blob_size(
    s: AsyncSession, namespace: str, repository: str, digest: str
) -> int | None:
    return (
        await s.execute(
            select(Blob.size)
            .join(RepositoryBlob, RepositoryBlob.blob_id == Blob.id)
            .join(Repository, Repository.id == RepositoryBlob.repository_id)
            .join(Namespace, Namespace.id == Repository.namespace_id)
            .where(
                Namespace.name == namespace, Repository.name == repository, Blob.digest == digest
            )
        )
    ).scalar()


def unlink_blob(repository_id: int, blob_id: int) -> Delete:
    return delete(RepositoryBlob).where(
        RepositoryBlob.repository_id == repository_id, RepositoryBlob.blob_id == blob_id
    )


def delete_upload(upload_id: str) -> Delete:
    return delete(Upload).where(Upload.id == upload_id)
