"""The vulnerability database: a SQLite file per generation, swapped in atomically.

``import_path`` reads upstream data (one file, a folder of OSV files, an OSV ``all.zip``, or
a bundle: a folder or tar with a ``manifest.json`` listing files with their format and
sha256), writes a new database file holding the previous generation's advisories minus the
sources being replaced plus the new ones, checks it, and only then points ``CURRENT`` at it
(``os.replace``: readers see the old file or the new, never a mix). A refused import leaves
``CURRENT`` and the file it names untouched. The keys ``(namespace, package)`` whose
advisories changed are stored in the new file, for re-matching without re-indexing.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sqlite3
import tarfile
import tempfile
import time
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from berth.scanner import sources as src
from berth.scanner.errors import ImportRefused

BUNDLE_VERSION = 1
FORMATS = ("osv", "osv-zip", "debian-tracker", "alpine-secdb", "csaf-vex")
MAX_BUNDLE_BYTES = 8 * 1024**3
MAX_JSON_BYTES = 1024**3

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE source (name TEXT PRIMARY KEY, format TEXT NOT NULL, origin TEXT NOT NULL,
                     sha256 TEXT NOT NULL, advisories INTEGER NOT NULL, imported_at REAL NOT NULL);
CREATE TABLE advisory (pk INTEGER PRIMARY KEY, source TEXT NOT NULL, updater TEXT NOT NULL,
                       id TEXT NOT NULL, description TEXT NOT NULL, links TEXT NOT NULL,
                       severity TEXT NOT NULL, cvss_vector TEXT NOT NULL, cvss_score REAL,
                       aliases TEXT NOT NULL);
CREATE TABLE affected (advisory_pk INTEGER NOT NULL, namespace TEXT NOT NULL,
                       pkg_name TEXT NOT NULL, scheme TEXT NOT NULL, ranges TEXT NOT NULL,
                       versions TEXT NOT NULL, fixed_version TEXT NOT NULL, status TEXT NOT NULL);
CREATE TABLE key_hash (namespace TEXT NOT NULL, pkg_name TEXT NOT NULL, hash TEXT NOT NULL,
                       PRIMARY KEY (namespace, pkg_name));
CREATE TABLE changed_key (namespace TEXT NOT NULL, pkg_name TEXT NOT NULL,
                          PRIMARY KEY (namespace, pkg_name));
"""
_INDEXES = "CREATE INDEX affected_key ON affected (namespace, pkg_name);"


@dataclass(frozen=True, slots=True)
class Status:
    generation: int
    imported_at: float | None
    path: str | None
    advisories: int
    affected: int
    sources: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class ImportResult:
    generation: int
    sources: list[str]
    advisories: int
    changed_keys: int


def current_path(directory: str | os.PathLike[str]) -> Path | None:
    d = Path(directory)
    try:
        name = (d / "CURRENT").read_text().strip()
    except FileNotFoundError:
        return None
    return d / name if name else None


def connect(path: Path) -> sqlite3.Connection:
    """A read-only connection (the file is never written once it is current)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    return conn


def generation(directory: str | os.PathLike[str]) -> int:
    """The current generation (0: nothing imported): one small read."""
    path = current_path(directory)
    if path is None or not path.exists():
        return 0
    conn = connect(path)
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(row[0]) if row else 0
    finally:
        conn.close()


def changed_keys(directory: str | os.PathLike[str]) -> tuple[int, set[tuple[str, str]]]:
    """(generation, the (namespace, package) keys whose advisories differ from the
    previous generation's)."""
    path = current_path(directory)
    if path is None or not path.exists():
        return 0, set()
    conn = connect(path)
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        keys = {(r[0], r[1]) for r in conn.execute("SELECT namespace, pkg_name FROM changed_key")}
        return (int(row[0]) if row else 0), keys
    finally:
        conn.close()


def status(directory: str | os.PathLike[str]) -> Status:
    path = current_path(directory)
    if path is None or not path.exists():
        return Status(0, None, None, 0, 0, [])
    conn = connect(path)
    try:
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        return Status(
            generation=int(meta.get("generation", 0)),
            imported_at=float(meta["imported_at"]) if "imported_at" in meta else None,
            path=str(path),
            advisories=conn.execute("SELECT count(*) FROM advisory").fetchone()[0],
            affected=conn.execute("SELECT count(*) FROM affected").fetchone()[0],
            sources=[dict(r) for r in conn.execute("SELECT * FROM source ORDER BY name")],
        )
    finally:
        conn.close()


# --- reading the input --------------------------------------------------------------------


@dataclass(slots=True)
class _Piece:
    format: str
    origin: str
    sha256: str
    advisories: list[src.Advisory]


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _read_json(path: Path) -> Any:
    if path.stat().st_size > MAX_JSON_BYTES:
        raise ImportRefused(f"{path.name}: larger than {MAX_JSON_BYTES} bytes")
    return src.loads(path.read_bytes(), path.name)


def _osv_zip(path: Path) -> list[src.Advisory]:
    out: list[src.Advisory] = []
    try:
        with zipfile.ZipFile(path) as z:
            for info in z.infolist():
                if info.is_dir() or not info.filename.endswith(".json"):
                    continue
                if info.file_size > MAX_JSON_BYTES:
                    raise ImportRefused(f"{path.name}:{info.filename}: too large")
                out.extend(src.parse_osv(src.loads(z.read(info), info.filename), info.filename))
    except (zipfile.BadZipFile, EOFError, OSError, zlib.error) as e:
        raise ImportRefused(f"{path.name}: not a readable zip ({e})") from e
    return out


def _osv_folder(path: Path) -> list[src.Advisory]:
    """A folder of OSV records, or of CSAF VEX documents (Red Hat's VEX archive unpacked)."""
    out: list[src.Advisory] = []
    for f in sorted(path.rglob("*.json")):
        if f.name == "manifest.json" and f.parent == path:
            continue
        doc, where = _read_json(f), str(f.relative_to(path))
        if src.detect_json(doc) == "csaf-vex":
            out.extend(src.parse_csaf_vex(doc, where))
        else:
            out.extend(src.parse_osv(doc, where))
    return out


def _piece(path: Path, fmt: str | None) -> _Piece:
    if path.is_dir():
        if fmt not in (None, "osv"):
            raise ImportRefused(f"{path.name}: a folder must hold OSV files")
        return _Piece("osv", path.name, "", _osv_folder(path))
    digest = _sha256_file(path)
    if fmt == "osv-zip" or (fmt is None and zipfile.is_zipfile(path)):
        return _Piece("osv-zip", path.name, digest, _osv_zip(path))
    doc = _read_json(path)
    fmt = fmt or src.detect_json(doc)
    if fmt == "osv":
        advisories = src.parse_osv(doc, path.name)
    elif fmt == "debian-tracker":
        advisories = list(src.parse_debian_tracker(doc))
    elif fmt == "alpine-secdb":
        advisories = list(src.parse_alpine_secdb(doc))
    elif fmt == "csaf-vex":
        advisories = src.parse_csaf_vex(doc, path.name)
    else:
        raise ImportRefused(f"{path.name}: unknown format {fmt!r}")
    return _Piece(fmt, path.name, digest, advisories)


def detect_format(path: Path) -> str:
    """A downloaded file's format, from its content (a zip is an OSV export)."""
    if zipfile.is_zipfile(path):
        return "osv-zip"
    return src.detect_json(_read_json(path))


def _bundle(root: Path) -> list[_Piece]:
    try:
        manifest = json.loads((root / "manifest.json").read_bytes())
    except (OSError, ValueError) as e:
        raise ImportRefused(f"the bundle's manifest.json is unreadable ({e})") from e
    if not isinstance(manifest, dict) or manifest.get("berth_vulndb_bundle") != BUNDLE_VERSION:
        raise ImportRefused(
            f'unknown bundle format: manifest.json must say "berth_vulndb_bundle": {BUNDLE_VERSION}'
        )
    files = manifest.get("files")
    if not isinstance(files, list) or not files:
        raise ImportRefused("the bundle's manifest lists no files")
    pieces: list[_Piece] = []
    for entry in files:
        if not isinstance(entry, dict):
            raise ImportRefused("a manifest entry is not an object")
        rel, fmt, want = entry.get("path"), entry.get("format"), entry.get("sha256")
        if not isinstance(rel, str) or rel.startswith("/") or ".." in rel.split("/"):
            raise ImportRefused(f"bad path in the manifest: {rel!r}")
        if fmt not in FORMATS:
            raise ImportRefused(f"{rel}: unknown format {fmt!r} (known: {', '.join(FORMATS)})")
        path = root / rel
        if not path.is_file():
            raise ImportRefused(f"{rel}: listed in the manifest but missing")
        if not isinstance(want, str) or _sha256_file(path) != want.removeprefix("sha256:"):
            raise ImportRefused(f"{rel}: checksum mismatch")
        pieces.append(_piece(path, fmt))
    return pieces


def _extract_tar(path: Path, into: Path) -> None:
    total = 0
    try:
        with tarfile.open(path, "r:*") as tar:
            for m in tar:
                name = m.name.lstrip("./") if m.name.startswith("./") else m.name
                if name.startswith("/") or ".." in name.split("/"):
                    raise ImportRefused(f"bad path in the bundle: {m.name!r}")
                if m.isdir():
                    continue
                if not m.isfile():
                    raise ImportRefused(f"the bundle holds a non-file: {m.name!r}")
                total += m.size
                if total > MAX_BUNDLE_BYTES:
                    raise ImportRefused("the bundle is too large")
                dest = into / name
                dest.parent.mkdir(parents=True, exist_ok=True)
                f = tar.extractfile(m)
                assert f is not None
                with dest.open("wb") as out:
                    while chunk := f.read(1 << 20):
                        out.write(chunk)
                if dest.stat().st_size != m.size:
                    raise ImportRefused(f"{m.name}: truncated")
    except (tarfile.TarError, EOFError, OSError) as e:
        raise ImportRefused(f"{path.name}: not a readable tar ({e})") from e


def read_input(path: str | os.PathLike[str]) -> list[_Piece]:
    p = Path(path)
    if not p.exists():
        raise ImportRefused(f"{p}: no such file or folder")
    if p.is_dir():
        return _bundle(p) if (p / "manifest.json").exists() else [_piece(p, "osv")]
    if tarfile.is_tarfile(p) and not zipfile.is_zipfile(p):
        with tempfile.TemporaryDirectory(prefix="berth-bundle-") as tmp:
            _extract_tar(p, Path(tmp))
            if not (Path(tmp) / "manifest.json").exists():
                raise ImportRefused(f"{p.name}: a tar bundle needs a manifest.json")
            return _bundle(Path(tmp))
    return [_piece(p, None)]


# --- writing a generation -----------------------------------------------------------------


def _insert(conn: sqlite3.Connection, advisories: Iterable[src.Advisory]) -> int:
    n = 0
    for a in advisories:
        cur = conn.execute(
            "INSERT INTO advisory (source, updater, id, description, links, severity,"
            " cvss_vector, cvss_score, aliases) VALUES (?,?,?,?,?,?,?,?,?)",
            (
                a.source,
                a.updater,
                a.id,
                a.description,
                a.links,
                a.severity,
                a.cvss_vector,
                a.cvss_score,
                json.dumps(a.aliases),
            ),
        )
        conn.executemany(
            "INSERT INTO affected VALUES (?,?,?,?,?,?,?,?)",
            [
                (
                    cur.lastrowid,
                    f.namespace,
                    f.pkg_name,
                    f.scheme,
                    json.dumps(f.ranges),
                    json.dumps(f.versions),
                    f.fixed_version,
                    f.status,
                )
                for f in a.affected
            ],
        )
        n += 1
    return n


def _key_hashes(conn: sqlite3.Connection) -> Iterator[tuple[str, str, str]]:
    rows = conn.execute(
        "SELECT f.namespace, f.pkg_name, a.updater, a.id, a.description, a.links, a.severity,"
        " a.cvss_vector, f.scheme, f.ranges, f.versions, f.fixed_version, f.status"
        " FROM affected f JOIN advisory a ON a.pk = f.advisory_pk"
        " ORDER BY f.namespace, f.pkg_name"
    )
    key: tuple[str, str] | None = None
    parts: list[str] = []
    for r in rows:
        k = (r[0], r[1])
        if k != key:
            if key is not None:
                yield key[0], key[1], hashlib.sha256("\n".join(sorted(parts)).encode()).hexdigest()
            key, parts = k, []
        parts.append(json.dumps(list(r[2:])))
    if key is not None:
        yield key[0], key[1], hashlib.sha256("\n".join(sorted(parts)).encode()).hexdigest()


def import_path(directory: str | os.PathLike[str], path: str | os.PathLike[str]) -> ImportResult:
    """Import ``path`` into the database kept in ``directory``; ``ImportRefused`` on bad input."""
    pieces = read_input(path)
    advisories = [a for p in pieces for a in p.advisories]
    if not advisories:
        raise ImportRefused("the input holds no advisories Berth can match")
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    with (d / ".import.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one import at a time: each builds on the last
        return _write_generation(d, pieces, advisories)


def _write_generation(
    d: Path, pieces: list[_Piece], advisories: list[src.Advisory]
) -> ImportResult:
    old = current_path(d)
    old_gen = status(d).generation if old is not None and old.exists() else 0
    gen = old_gen + 1
    now = time.time()
    replaced = sorted({a.source for a in advisories})
    tmp = d / f".vulndb-{gen}.{os.getpid()}.tmp"
    tmp.unlink(missing_ok=True)
    conn = sqlite3.connect(tmp)
    try:
        conn.executescript(_SCHEMA)
        if old is not None and old.exists():
            conn.execute("ATTACH DATABASE ? AS old", (str(old),))
            marks = ",".join("?" * len(replaced))
            conn.execute(
                f"INSERT INTO advisory SELECT * FROM old.advisory WHERE source NOT IN ({marks})",  # noqa: S608 - only "?" marks
                replaced,
            )
            conn.execute(
                "INSERT INTO affected SELECT f.* FROM old.affected f"
                " JOIN advisory a ON a.pk = f.advisory_pk"
            )
            conn.execute(
                f"INSERT INTO source SELECT * FROM old.source WHERE name NOT IN ({marks})",  # noqa: S608 - only "?" marks
                replaced,
            )
            old_hashes = {(r[0], r[1]): r[2] for r in conn.execute("SELECT * FROM old.key_hash")}
            conn.commit()
            conn.execute("DETACH DATABASE old")
        else:
            old_hashes = {}
        count = _insert(conn, advisories)
        for p in pieces:
            for name in sorted({a.source for a in p.advisories}):
                conn.execute(
                    "INSERT OR REPLACE INTO source VALUES (?,?,?,?,?,?)",
                    (
                        name,
                        p.format,
                        p.origin,
                        p.sha256,
                        sum(1 for a in p.advisories if a.source == name),
                        now,
                    ),
                )
        conn.executescript(_INDEXES)
        new_hashes = {(ns, n): h for ns, n, h in _key_hashes(conn)}
        conn.executemany(
            "INSERT INTO key_hash VALUES (?,?,?)", [(*k, h) for k, h in new_hashes.items()]
        )
        changed = {
            k
            for k in new_hashes.keys() | old_hashes.keys()
            if new_hashes.get(k) != old_hashes.get(k)
        }
        conn.executemany("INSERT INTO changed_key VALUES (?,?)", sorted(changed))
        conn.executemany(
            "INSERT INTO meta VALUES (?,?)",
            [("generation", str(gen)), ("imported_at", repr(now)), ("previous", str(old_gen))],
        )
        conn.commit()
        if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise ImportRefused("the new database failed its integrity check")
    except BaseException:
        conn.close()
        tmp.unlink(missing_ok=True)
        raise
    conn.close()
    final = d / f"vulndb-{gen}.sqlite"
    os.replace(tmp, final)
    pointer = d / f".CURRENT.{os.getpid()}.tmp"
    pointer.write_text(final.name + "\n")
    os.replace(pointer, d / "CURRENT")
    # Keep the previous generation (a reader may still hold it open); drop older ones.
    for f in d.glob("vulndb-*.sqlite"):
        try:
            g = int(f.stem.split("-", 1)[1])
        except ValueError:
            continue
        if g < old_gen:
            f.unlink(missing_ok=True)
    return ImportResult(gen, replaced, count, len(changed))
