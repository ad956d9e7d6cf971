"""Expired upload sessions are purged from the database and from storage."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import select, update

from berth.db.session import Database
from berth.namespaces.models import Namespace
from berth.registry.blobs import BlobService
from berth.registry.models import Repository, Upload
from berth.registry.repositories import RepoName, create_repository
from berth.registry.tasks import purge_expired_uploads
from berth.schema.migrate import upgrade
from berth.storage.filesystem import FilesystemBlobStorage


async def _chunks(*parts: bytes):
    for p in parts:
        yield p


async def test_expired_sessions_and_orphaned_staging_are_purged(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
    await upgrade(url)
    db = Database(url)
    storage = FilesystemBlobStorage(str(tmp_path / "blobs"))
    try:
        async with db.write() as s:
            s.add(Namespace(name="alice", kind="user"))
            await s.flush()
            repo = await create_repository(s, RepoName("alice", "app"))
        blobs = BlobService(db, storage)
        old = await blobs.start_upload(repo)
        await blobs.append(repo, old.id, _chunks(b"x" * 1000))
        fresh = await blobs.start_upload(repo)
        await storage.create_upload("orphan-id")  # staging that no session row tracks

        async with db.write() as s:
            await s.execute(update(Upload).where(Upload.id == old.id).values(updated_at=0))
        for path in (tmp_path / "blobs" / "uploads" / "orphan-id").rglob("*"):
            os.utime(path, (0, 0))
        os.utime(tmp_path / "blobs" / "uploads" / "orphan-id", (0, 0))
        result = await purge_expired_uploads(db, storage, expiry_s=3600)

        async with db.read() as s:
            left = set((await s.execute(select(Upload.id))).scalars())
        assert left == {fresh.id}
        staged = {uid async for uid, _ in storage.list_uploads()}
        assert old.id not in staged
        assert "orphan-id" not in staged
        assert result == {"expired": 1, "orphans": 1}
        async with db.read() as s:
            assert (await s.execute(select(Repository.name))).scalars().all() == ["app"]
    finally:
        await storage.close()
        await db.dispose()
