"""Importing upstream vulnerability data: formats, bundles, refusals, atomic swap, changed keys."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from berth.scanner import vulndb
from berth.scanner.errors import ImportRefused

from . import fixtures as F


def _keys(directory: Path) -> set[tuple[str, str]]:
    path = vulndb.current_path(directory)
    assert path is not None
    conn = sqlite3.connect(path)
    try:
        return {(r[0], r[1]) for r in conn.execute("SELECT * FROM changed_key")}
    finally:
        conn.close()


def test_single_files_of_each_format(tmp_path: Path) -> None:
    db = tmp_path / "db"
    deb = tmp_path / "debian.json"
    deb.write_text(json.dumps(F.debian_tracker()))
    r = vulndb.import_path(db, deb)
    assert r.generation == 1
    assert r.sources == ["debian-tracker"]
    assert r.advisories == 4  # the "0" (never affected) entry is not imported

    alpine = tmp_path / "main.json"
    alpine.write_text(json.dumps(F.alpine_secdb()))
    r = vulndb.import_path(db, alpine)
    assert r.generation == 2
    assert r.sources == ["alpine-secdb:v3.19/main"]
    assert _keys(db) == {("alpine:3.19", "openssl"), ("alpine:3.19", "busybox")}

    allzip = F.osv_zip(
        tmp_path / "all.zip",
        [
            F.osv("PYSEC-2024-1", "PyPI", "Requests", [{"introduced": "0"}, {"fixed": "2.32.0"}]),
            F.osv(
                "GHSA-xxxx",
                "npm",
                "lodash",
                [{"introduced": "4.0.0"}, {"fixed": "4.17.21"}],
                database_specific={"severity": "HIGH"},
            ),
            F.osv("OLD-1", "PyPI", "x", [{"introduced": "0"}], withdrawn="2025-01-01T00:00:00Z"),
        ],
    )
    r = vulndb.import_path(db, allzip)
    assert r.generation == 3
    assert r.sources == ["osv:PyPI", "osv:npm"]

    st = vulndb.status(db)
    assert st.generation == 3
    assert [(s["name"], s["format"], s["advisories"]) for s in st.sources] == [
        ("alpine-secdb:v3.19/main", "alpine-secdb", 3),
        ("debian-tracker", "debian-tracker", 4),
        ("osv:PyPI", "osv-zip", 1),
        ("osv:npm", "osv-zip", 1),
    ]
    assert st.advisories == 9
    # Only the current and the previous generation stay on disk.
    assert sorted(p.name for p in db.glob("vulndb-*.sqlite")) == [
        "vulndb-2.sqlite",
        "vulndb-3.sqlite",
    ]


def test_reimporting_a_source_replaces_it_and_reports_changed_keys(tmp_path: Path) -> None:
    db = tmp_path / "db"
    deb = tmp_path / "debian.json"
    data = F.debian_tracker()
    deb.write_text(json.dumps(data))
    vulndb.import_path(db, deb)
    vulndb.import_path(db, deb)
    assert _keys(db) == set()  # same data: nothing to re-match
    del data["curl"]
    deb.write_text(json.dumps(data))
    r = vulndb.import_path(db, deb)
    assert r.changed_keys == 1
    assert _keys(db) == {("debian:bookworm", "curl")}
    assert vulndb.status(db).advisories == 3


def test_bundles_folder_and_tar(tmp_path: Path) -> None:
    folder = F.bundle_dir(
        tmp_path / "bundle",
        {
            "debian.json": ("debian-tracker", json.dumps(F.debian_tracker()).encode()),
            "alpine-v3.19-main.json": ("alpine-secdb", json.dumps(F.alpine_secdb()).encode()),
        },
    )
    r = vulndb.import_path(tmp_path / "db1", folder)
    assert r.sources == ["alpine-secdb:v3.19/main", "debian-tracker"]
    tar = F.bundle_tar(tmp_path / "bundle.tar.gz", folder)
    r = vulndb.import_path(tmp_path / "db2", tar)
    assert r.sources == ["alpine-secdb:v3.19/main", "debian-tracker"]
    assert r.advisories == 7


def test_a_folder_of_osv_files(tmp_path: Path) -> None:
    folder = tmp_path / "osv"
    folder.mkdir()
    (folder / "DSA-1.json").write_text(
        json.dumps(
            F.osv(
                "DSA-1",
                "Debian:12",
                "openssl",
                [{"introduced": "0"}, {"fixed": "3.0.13-1~deb12u1"}],
            )
        )
    )
    r = vulndb.import_path(tmp_path / "db", folder)
    assert r.sources == ["osv:Debian"]


def _refused(db: Path, path: Path, match: str) -> None:
    before = vulndb.status(db)
    with pytest.raises(ImportRefused, match=match):
        vulndb.import_path(db, path)
    after = vulndb.status(db)
    assert (after.generation, after.advisories, after.path) == (
        before.generation,
        before.advisories,
        before.path,
    )
    assert not list(db.glob(".*tmp"))


def test_bad_input_is_refused_and_the_old_data_stays(tmp_path: Path) -> None:
    db = tmp_path / "db"
    good = tmp_path / "debian.json"
    good.write_text(json.dumps(F.debian_tracker()))
    vulndb.import_path(db, good)

    # a wrong checksum
    folder = F.bundle_dir(
        tmp_path / "b1", {"main.json": ("alpine-secdb", json.dumps(F.alpine_secdb()).encode())}
    )
    (folder / "main.json").write_text(json.dumps(F.alpine_secdb()) + " ")
    _refused(db, folder, "checksum mismatch")
    _refused(db, F.bundle_tar(tmp_path / "b1.tar", folder), "checksum mismatch")
    # an unknown bundle version, an unknown format
    folder = F.bundle_dir(
        tmp_path / "b2", {"main.json": ("alpine-secdb", json.dumps(F.alpine_secdb()).encode())}
    )
    m = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps({**m, "berth_vulndb_bundle": 99}))
    _refused(db, folder, "unknown bundle format")
    m["files"][0]["format"] = "nvd"
    (folder / "manifest.json").write_text(json.dumps(m))
    _refused(db, folder, "unknown format 'nvd'")
    # a truncated zip, truncated JSON, JSON of no known format
    whole = F.osv_zip(
        tmp_path / "all.zip",
        [F.osv(f"PYSEC-{i}", "PyPI", "x", [{"introduced": "0"}]) for i in range(50)],
    ).read_bytes()
    (tmp_path / "cut.zip").write_bytes(whole[: len(whole) // 2])
    _refused(db, tmp_path / "cut.zip", "zip")
    (tmp_path / "cut.json").write_text(json.dumps(F.debian_tracker())[:100])
    _refused(db, tmp_path / "cut.json", "not valid JSON")
    (tmp_path / "odd.json").write_text("[1, 2]")
    _refused(db, tmp_path / "odd.json", "unrecognised JSON")
    # a tar with a path escaping the bundle
    import io
    import tarfile

    evil = tmp_path / "evil.tar"
    with tarfile.open(evil, "w") as t:
        info = tarfile.TarInfo("../manifest.json")
        info.size = 2
        t.addfile(info, io.BytesIO(b"{}"))
    _refused(db, evil, "bad path")
    assert vulndb.status(db).generation == 1
