"""``berth backup`` and ``berth restore`` for the embedded default.

A backup is a directory: ``berth.db`` (a snapshot taken with SQLite's online backup API, so
the server keeps serving pushes and pulls meanwhile), ``storage/`` with every blob that
snapshot references (read through the storage driver; blobs pushed after the snapshot are
not referenced by it and not needed), ``secrets/`` (the keys that decrypt stored
credentials), and ``backup.json`` (what it holds). Restoring copies the database into the
target data directory and writes each blob into the target's storage.

PostgreSQL + S3 deployments are backed up with their own tools (pg_dump, the bucket's
versioning or a copy); see docs/deploy.md.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from berth.storage.base import BlobNotFound, BlobStorage

__all__ = ["BackupError", "copy_blobs", "finish_backup", "prepare_restore", "snapshot"]

FORMAT = 1
DB_FILES = ("berth.db", "berth.db-wal", "berth.db-shm")
Progress = Callable[[str], None]


class BackupError(Exception):
    """What stops a backup or a restore; the message says what to do."""


def sqlite_path(db_url: str) -> Path:
    if not db_url.startswith("sqlite"):
        raise BackupError(
            "berth backup covers the embedded default (SQLite + blobs); a PostgreSQL "
            "deployment is backed up with pg_dump and a copy of its bucket (docs/deploy.md)"
        )
    return Path(db_url.split("///", 1)[-1])


def _referenced(db: Path) -> list[str]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return [str(d) for (d,) in conn.execute("SELECT digest FROM blobs ORDER BY id")]


async def _copy_blob(src: BlobStorage, dst: BlobStorage, digest: str) -> int:
    algorithm, _, expected = digest.partition(":")
    hasher = hashlib.new(algorithm)
    size = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal size
        async for chunk in src.read_blob(digest):
            data = bytes(chunk)
            hasher.update(data)
            size += len(data)
            yield data

    await dst.write_blob(digest, chunks())
    if hasher.hexdigest() != expected:
        raise BackupError(f"blob {digest} is damaged in the source storage (its digest differs)")
    return size


def snapshot(*, db_url: str, data_dir: Path, dest: Path, progress: Progress) -> list[str]:
    """The database snapshot and secrets into ``dest``; the digests of the blobs it needs."""
    db = sqlite_path(db_url)
    if not db.exists():
        raise BackupError(f"no registry database at {db}: give --data-dir or --config")
    if dest.exists() and any(dest.iterdir()):
        raise BackupError(f"{dest} is not empty: back up into a new directory")
    dest.mkdir(parents=True, exist_ok=True, mode=0o700)
    target_db = dest / "berth.db"
    # SQLite's online backup: a consistent copy while the server writes (it restarts the
    # copy of pages a writer changes meanwhile; WAL readers never block writers).
    with sqlite3.connect(db) as source, sqlite3.connect(target_db) as target:
        source.backup(target, pages=4096)
    target_db.chmod(0o600)
    if (data_dir / "secrets").is_dir():
        shutil.copytree(data_dir / "secrets", dest / "secrets")
    digests = _referenced(target_db)
    progress(f"database: {db} -> {target_db} ({len(digests)} blobs referenced)")
    return digests


async def copy_blobs(
    src: BlobStorage, dst: BlobStorage, digests: list[str], progress: Progress, *, what: str
) -> int:
    """Each blob from ``src`` to ``dst``, its digest checked; the bytes copied."""
    total = 0
    for n, digest in enumerate(digests, 1):
        try:
            total += await _copy_blob(src, dst, digest)
        except BlobNotFound as e:
            raise BackupError(f"blob {digest} {what}") from e
        if n % 500 == 0:
            progress(f"blobs: {n}/{len(digests)}")
    return total


def finish_backup(dest: Path, data_dir: Path, digests: list[str], total: int) -> None:
    manifest = {
        "format": FORMAT,
        "created_at": int(time.time()),
        "source": str(data_dir),
        "blobs": len(digests),
        "bytes": total,
    }
    (dest / "backup.json").write_text(json.dumps(manifest, indent=2) + "\n")


def prepare_restore(
    *, src: Path, db_url: str, data_dir: Path, local_storage: Path | None, force: bool,
    progress: Progress,
) -> list[str]:  # fmt: skip
    """The backup's database and secrets into ``data_dir``; the digests of its blobs."""
    try:
        manifest = json.loads((src / "backup.json").read_text())
    except (OSError, ValueError) as e:
        raise BackupError(f"{src} is not a Berth backup (no readable backup.json)") from e
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{src}: backup format {manifest.get('format')} is not {FORMAT}")
    db = sqlite_path(db_url)
    if _has_registry(data_dir, local_storage) and not force:
        raise BackupError(
            f"{data_dir} already holds a registry: restore into an empty data directory, or "
            "give --force to replace its database (stop its server first)"
        )
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    for name in DB_FILES:
        (db.parent / name).unlink(missing_ok=True)
    with sqlite3.connect(src / "berth.db") as source, sqlite3.connect(db) as target:
        source.backup(target)
    db.chmod(0o600)
    if (src / "secrets").is_dir():
        shutil.copytree(src / "secrets", data_dir / "secrets", dirs_exist_ok=True)
    progress(f"database: {src / 'berth.db'} -> {db}")
    return _referenced(db)


def _has_registry(data_dir: Path, storage_path: Path | None) -> bool:
    if any((data_dir / name).exists() for name in DB_FILES):
        return True
    return storage_path is not None and storage_path.is_dir() and any(storage_path.iterdir())
