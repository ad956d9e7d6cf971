"""Inventory x database -> exactly the expected vulnerabilities, with fixed-in versions, in
Quay's security shape."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from berth.scanner import vulndb
from berth.scanner.indexer import coalesce
from berth.scanner.layers import read_layer
from berth.scanner.matcher import match, quay_layer

from . import fixtures as F


def _report(db: Path, *layers: bytes) -> dict:  # type: ignore[type-arg]
    inv = coalesce([(F.digest(b), read_layer(io.BytesIO(b))) for b in layers])
    path = vulndb.current_path(db)
    assert path is not None
    conn = vulndb.connect(path)
    try:
        return quay_layer("sha256:" + "ab" * 32, inv, match(conn, inv))
    finally:
        conn.close()


def _vulns(report: dict) -> dict[str, list[tuple[str, str, str, str]]]:  # type: ignore[type-arg]
    return {
        f["Name"]: sorted(
            (v["Name"], v["FixedBy"], v["Severity"], v["NamespaceName"])
            for v in f["Vulnerabilities"]
        )
        for f in report["Layer"]["Features"]
    }


def test_debian_image_against_the_tracker_and_osv(tmp_path: Path) -> None:
    db = tmp_path / "db"
    (tmp_path / "debian.json").write_text(json.dumps(F.debian_tracker()))
    vulndb.import_path(db, tmp_path / "debian.json")
    osv_dir = tmp_path / "osv"
    osv_dir.mkdir()
    (osv_dir / "DSA-9.json").write_text(
        json.dumps(
            F.osv(
                "DSA-9999-1",
                "Debian:12",
                "bash",
                [{"introduced": "0"}, {"fixed": "5.2.15-2+deb12u1"}],
                severity=[
                    {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}
                ],
                references=[
                    {"type": "ADVISORY", "url": "https://www.debian.org/security/dsa-9999"},
                    {"type": "WEB", "url": "https://nvd.example/CVE-2024-7777"},
                ],
            )
        )
    )
    vulndb.import_path(db, osv_dir)

    base = F.layer(
        {
            "etc/os-release": F.DEBIAN_OS_RELEASE,
            "var/lib/dpkg/status": F.dpkg_status(
                ("libssl3", "3.0.11-1~deb12u2", "openssl"),
                ("bash", "5.2.15-2+b8", "bash (5.2.15-2)"),
                ("curl", "7.88.1-10", None),
            ),
        }
    )
    # The next layer removes curl: its CVE must not be reported.
    top = F.layer(
        {
            "var/lib/dpkg/status": F.dpkg_status(
                ("libssl3", "3.0.11-1~deb12u2", "openssl"),
                ("bash", "5.2.15-2+b8", "bash (5.2.15-2)"),
            )
        }
    )
    report = _report(db, base, top)
    assert _vulns(report) == {
        "bash": [("DSA-9999-1", "5.2.15-2+deb12u1", "Critical", "osv:Debian:12")],
        "libssl3": [
            ("CVE-2024-0001", "3.0.11-1~deb12u3", "High", "debian-tracker:bookworm"),
            ("CVE-2024-0002", "", "Negligible", "debian-tracker:bookworm"),
        ],
    }
    bash = next(f for f in report["Layer"]["Features"] if f["Name"] == "bash")
    assert bash["AddedBy"] == F.digest(base)
    assert bash["Version"] == "5.2.15-2+b8"
    assert bash["BaseScores"] == [9.8]
    assert bash["CVEIds"] == ["CVE-2024-7777"]
    v = bash["Vulnerabilities"][0]
    assert v["Link"] == "https://www.debian.org/security/dsa-9999 https://nvd.example/CVE-2024-7777"
    assert v["Metadata"] == {
        "UpdatedBy": "osv:Debian:12",
        "RepoName": None,
        "RepoLink": None,
        "DistroName": "Debian GNU/Linux 12 (bookworm)",
        "DistroVersion": "12",
        "NVD": {
            "CVSSv3": {"Vectors": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "Score": 9.8}
        },
    }
    assert set(report["Layer"]) == {
        "Name",
        "ParentName",
        "NamespaceName",
        "IndexedByVersion",
        "Features",
    }
    assert report["Layer"]["IndexedByVersion"] == 4


def test_alpine_and_language_packages(tmp_path: Path) -> None:
    db = tmp_path / "db"
    (tmp_path / "main.json").write_text(json.dumps(F.alpine_secdb()))
    vulndb.import_path(db, tmp_path / "main.json")
    vulndb.import_path(
        db,
        F.osv_zip(
            tmp_path / "all.zip",
            [
                F.osv(
                    "PYSEC-2024-1", "PyPI", "Requests", [{"introduced": "0"}, {"fixed": "2.32.0"}]
                ),
                F.osv(
                    "PYSEC-2024-2",
                    "PyPI",
                    "requests",
                    [{"introduced": "0"}, {"last_affected": "2.30.0"}],
                ),
                F.osv(
                    "GHSA-aaaa",
                    "npm",
                    "lodash",
                    [{"introduced": "4.0.0"}, {"fixed": "4.17.21"}],
                    database_specific={"severity": "HIGH"},
                ),
                F.osv("GHSA-bbbb", "npm", "lodash", [{"introduced": "0"}], versions=["4.17.20"])
                | {
                    "affected": [
                        {"package": {"ecosystem": "npm", "name": "lodash"}, "versions": ["4.17.20"]}
                    ]
                },
                F.osv("GHSA-cccc", "npm", "lodash", [{"introduced": "5.0.0"}]),
            ],
        ),
    )
    image = F.layer(
        {
            "etc/os-release": F.ALPINE_OS_RELEASE,
            "lib/apk/db/installed": F.apk_installed(
                ("libcrypto3", "3.1.4-r0", "openssl"),
                ("busybox", "1.36.1-r16", "busybox"),
                ("musl", "1.2.4_git20230717-r4", "musl"),
            ),
            F.REQUESTS_PATH: F.REQUESTS_METADATA,
            "app/node_modules/lodash/package.json": b'{"name": "lodash", "version": "4.17.20"}',
        }
    )
    assert _vulns(_report(db, image)) == {
        "libcrypto3": [("CVE-2023-5678", "3.1.4-r1", "Unknown", "alpine-secdb:v3.19-main")],
        "busybox": [],
        "musl": [],
        "requests": [("PYSEC-2024-1", "2.32.0", "Unknown", "osv:PyPI")],
        "lodash": [
            ("GHSA-aaaa", "4.17.21", "High", "osv:npm"),
            ("GHSA-bbbb", "", "Unknown", "osv:npm"),
        ],
    }


def test_rocky_image_with_a_real_rpm_database(tmp_path: Path) -> None:
    db = tmp_path / "vdb"
    osv_dir = tmp_path / "osv"
    osv_dir.mkdir()
    (osv_dir / "RLSA.json").write_text(
        json.dumps(
            F.osv(
                "RLSA-2024:1234",
                "Rocky Linux:9",
                "openssl",
                [{"introduced": "0"}, {"fixed": "1:3.0.7-25.el9_3"}],
                database_specific={"severity": "MODERATE"},
            )
        )
    )
    (osv_dir / "old.json").write_text(
        json.dumps(
            F.osv(
                "RLSA-2023:1",
                "Rocky Linux:9",
                "openssl",
                [{"introduced": "0"}, {"fixed": "1:3.0.1-1.el9"}],
            )
        )
    )
    vulndb.import_path(db, osv_dir)
    image = F.layer(
        {
            "etc/os-release": F.ROCKY_OS_RELEASE,
            "var/lib/rpm/rpmdb.sqlite": F.rpmdb_sqlite(tmp_path),
        }
    )
    report = _report(db, image)
    assert _vulns(report) == {
        "openssl-libs": [("RLSA-2024:1234", "1:3.0.7-25.el9_3", "Medium", "osv:Rocky Linux:9")]
    }
    (feature,) = report["Layer"]["Features"]
    assert feature["Version"] == "1:3.0.7-24.el9"


def test_go_binaries_build_info(tmp_path: Path) -> None:
    modinfo = (
        "path\texample.com/app\n"
        "mod\texample.com/app\t(devel)\t\n"
        "dep\tgolang.org/x/net\tv0.17.0\th1:abc=\n"
        "dep\tgithub.com/old/lib\tv1.0.0\th1:def=\n"
        "=>\tgithub.com/new/lib\tv1.2.0\th1:ghi=\n"
        "build\t-compiler=gc\n"
    )
    binary = F.go_binary("go1.21.3", modinfo)
    db = tmp_path / "vdb"
    vulndb.import_path(
        db,
        F.osv_zip(
            tmp_path / "all.zip",
            [
                F.osv(
                    "GO-2023-2102",
                    "Go",
                    "golang.org/x/net",
                    [{"introduced": "0"}, {"fixed": "0.17.0"}],
                ),
                F.osv("GO-2023-2185", "Go", "stdlib", [{"introduced": "0"}, {"fixed": "1.21.4"}]),
                F.osv(
                    "GO-2024-9",
                    "Go",
                    "github.com/new/lib",
                    [{"introduced": "1.1.0"}, {"fixed": "1.2.1"}],
                ),
            ],
        ),
    )
    image = F.layer({"usr/local/bin/app": binary, "usr/local/bin/script": b"#!/bin/sh\n"})
    assert _vulns(_report(db, image)) == {
        "stdlib": [("GO-2023-2185", "1.21.4", "Unknown", "osv:Go")],
        "golang.org/x/net": [],
        "github.com/new/lib": [("GO-2024-9", "1.2.1", "Unknown", "osv:Go")],
    }
    # The binary deleted by a later layer takes its modules with it.
    gone = F.layer({"usr/local/bin/app": None})
    assert _report(db, image, gone)["Layer"]["Features"] == []


GO_VULNDB = Path("/usr/share/gocode/src/golang.org/x/vuln/client/testdata/vulndb/ID")


def test_real_go_vulndb_records(tmp_path: Path) -> None:
    """Real OSV records: the Go vulnerability database's test data as Debian ships it
    (golang-golang-x-vuln-dev, BSD-3-Clause), imported unmodified."""
    records = sorted(GO_VULNDB.glob("GO-*.json"))
    if not records:
        pytest.skip("golang-golang-x-vuln-dev is not installed (scripts/install-test-deps)")
    folder = tmp_path / "go"
    folder.mkdir()
    for r in records:
        (folder / r.name).write_bytes(r.read_bytes())
    db = tmp_path / "vdb"
    vulndb.import_path(db, folder)
    modinfo = "path\texample.com/web\nmod\texample.com/web\t(devel)\t\n"
    modinfo += "dep\tgithub.com/beego/beego/v2\tv2.0.2\th1:x=\n"
    image = F.layer({"app/web": F.go_binary("go1.4.2", modinfo)})
    got = {name: [(v[0], v[1]) for v in vs] for name, vs in _vulns(_report(db, image)).items()}
    assert got == {
        "stdlib": [("GO-2021-0157", "1.4.3"), ("GO-2021-0159", "1.4.3")],
        "github.com/beego/beego/v2": [
            ("GO-2022-0463", "2.0.3"),
            ("GO-2022-0569", "2.0.4"),
            ("GO-2022-0572", "2.0.3"),
        ],
    }
