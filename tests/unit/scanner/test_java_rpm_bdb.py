"""Java archives (Maven coordinates from pom.properties / MANIFEST.MF, nested archives)
matched against OSV's Maven records, and rpm's Berkeley DB ``Packages`` (a real BDB file
written by Berkeley DB's db_load and read back by Debian's rpm) matched against Rocky
Linux 8 advisories; corrupt BDB files fail their layer."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path

import pytest

from berth.scanner import vulndb
from berth.scanner.errors import LayerRejected
from berth.scanner.indexer import coalesce
from berth.scanner.layers import read_layer
from berth.scanner.packages import bdb_hash_values, java_archive_info, parse_java_info

from . import fixtures as F
from .test_matcher import _report, _vulns

LOG4J = F.jar(
    {
        "META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\r\nImplementation-Title: log4j-core\r\n",
        "META-INF/maven/org.apache.logging.log4j/log4j-core/pom.properties": F.pom_properties(
            "org.apache.logging.log4j", "log4j-core", "2.14.1"
        ),
        "org/apache/logging/log4j/core/Logger.class": b"\xca\xfe\xba\xbe",
    }
)
JACKSON = F.jar(
    {
        "META-INF/maven/com.fasterxml.jackson.core/jackson-databind/pom.properties": (
            F.pom_properties("com.fasterxml.jackson.core", "jackson-databind", "2.13.1")
        )
    }
)
# No pom.properties: the manifest's Implementation-* names it.
MANIFEST_ONLY = F.jar(
    {
        "META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\r\n"
        b"Implementation-Vendor-Id: commons-collections\r\n"
        b"Implementation-Title: commons-collections\r\n"
        b"Implementation-Version: 3.2.1\r\n\r\nName: extra\r\nImplementation-Version: 9\r\n"
    }
)
# A Spring Boot jar holding jackson, inside a war: two levels of nesting.
BOOT = F.jar(
    {
        "META-INF/maven/com.example/app/pom.properties": F.pom_properties(
            "com.example", "app", "1.0.0"
        ),
        "BOOT-INF/lib/jackson-databind-2.13.1.jar": JACKSON,
    }
)
WAR = F.jar({"WEB-INF/lib/app.jar": BOOT, "WEB-INF/web.xml": b"<web-app/>"})

# OSV's Maven records (ids, ranges and severities as published).
MAVEN_OSV = [
    F.osv(
        "GHSA-jfh8-c2jp-5v3q", "Maven", "org.apache.logging.log4j:log4j-core",
        [{"introduced": "2.0-beta9"}, {"fixed": "2.15.0"}],
        aliases=["CVE-2021-44228"], database_specific={"severity": "CRITICAL"},
    ),
    F.osv(
        "GHSA-57j2-w4cx-62h2", "Maven", "com.fasterxml.jackson.core:jackson-databind",
        [{"introduced": "2.13.0"}, {"fixed": "2.13.2.1"}],
        aliases=["CVE-2020-36518"], database_specific={"severity": "HIGH"},
    ),
    F.osv(
        "GHSA-fjq5-5j5f-mvxh", "Maven", "commons-collections:commons-collections",
        [{"introduced": "3.0"}, {"fixed": "3.2.2"}],
        aliases=["CVE-2015-6420"], database_specific={"severity": "HIGH"},
    ),
]  # fmt: skip


def test_java_coordinates_from_poms_manifests_and_nested_archives() -> None:
    got = parse_java_info(java_archive_info(WAR, "srv/app.war") or b"", "srv/app.war")
    assert sorted((p.name, p.version, p.package_db) for p in got) == [
        ("com.example:app", "1.0.0", "srv/app.war!/WEB-INF/lib/app.jar"),
        (
            "com.fasterxml.jackson.core:jackson-databind",
            "2.13.1",
            "srv/app.war!/WEB-INF/lib/app.jar!/BOOT-INF/lib/jackson-databind-2.13.1.jar",
        ),
    ]
    (cc,) = parse_java_info(java_archive_info(MANIFEST_ONLY, "x.jar") or b"", "x.jar")
    assert (cc.kind, cc.name, cc.version) == (
        "maven",
        "commons-collections:commons-collections",
        "3.2.1",
    )
    assert java_archive_info(b"PK\x03\x04 truncated", "broken.jar") is None
    assert java_archive_info(F.jar({"a.txt": b"x"}), "plain.jar") is None


def test_java_archives_matched_with_osv_maven(tmp_path: Path) -> None:
    db = tmp_path / "db"
    vulndb.import_path(db, F.osv_zip(tmp_path / "Maven-all.zip", MAVEN_OSV))
    base = F.layer(
        {
            "etc/os-release": F.DEBIAN_OS_RELEASE,
            "opt/app/lib/log4j-core-2.14.1.jar": LOG4J,
            "opt/app/lib/commons-collections-3.2.1.jar": MANIFEST_ONLY,
            "usr/local/tomcat/webapps/app.war": WAR,
        }
    )
    report = _report(db, base)
    assert _vulns(report) == {
        "com.example:app": [],
        "com.fasterxml.jackson.core:jackson-databind": [
            ("GHSA-57j2-w4cx-62h2", "2.13.2.1", "High", "osv:Maven")
        ],
        "commons-collections:commons-collections": [
            ("GHSA-fjq5-5j5f-mvxh", "3.2.2", "High", "osv:Maven")
        ],
        "org.apache.logging.log4j:log4j-core": [
            ("GHSA-jfh8-c2jp-5v3q", "2.15.0", "Critical", "osv:Maven")
        ],
    }
    # A later layer deletes log4j (a whiteout) and upgrades commons-collections.
    top = F.layer(
        {
            "opt/app/lib/log4j-core-2.14.1.jar": None,
            "opt/app/lib/commons-collections-3.2.1.jar": None,
            "opt/app/lib/commons-collections-3.2.2.jar": F.jar(
                {
                    "META-INF/maven/commons-collections/commons-collections/pom.properties": (
                        F.pom_properties("commons-collections", "commons-collections", "3.2.2")
                    )
                }
            ),
        }
    )
    vulns = _vulns(_report(db, base, top))
    assert "org.apache.logging.log4j:log4j-core" not in vulns
    assert vulns["commons-collections:commons-collections"] == []


def test_rpm_berkeley_db_matched_with_rocky_8(tmp_path: Path) -> None:
    # 512: every header spans a chain of overflow pages; big-endian: an s390x host's file
    for pagesize, big in ((4096, False), (512, False), (512, True)):
        work = tmp_path / f"{pagesize}-{big}"
        work.mkdir()
        packages = F.rpmdb_bdb(work, pagesize, big_endian=big)
        assert packages[12:16] == (b"\x00\x06\x15\x61" if big else b"\x61\x15\x06\x00")
        layer = F.layer({"etc/os-release": F.ROCKY8_OS_RELEASE, "var/lib/rpm/Packages": packages})
        inv = coalesce([(F.digest(layer), read_layer(io.BytesIO(layer)))])
        assert [
            (f.package.name, f.package.version, f.package.source_name) for f in inv.packages
        ] == [("openssl-libs", "1:3.0.7-24.el9", "openssl")]
    db = tmp_path / "db"
    records = [
        F.osv("RLSA-2024:0001", "Rocky Linux:8", "openssl",
              [{"introduced": "0"}, {"fixed": "1:3.0.7-25.el9"}],
              database_specific={"severity": "MODERATE"}),
        F.osv("RLSA-2023:0002", "Rocky Linux:8", "openssl",
              [{"introduced": "0"}, {"fixed": "1:3.0.1-1.el9"}]),
        F.osv("RLSA-2024:0003", "Rocky Linux:9", "openssl",
              [{"introduced": "0"}, {"fixed": "1:3.0.7-26.el9"}]),
    ]  # fmt: skip
    vulndb.import_path(db, F.osv_zip(tmp_path / "Rocky-all.zip", records))
    layer = F.layer(
        {"etc/os-release": F.ROCKY8_OS_RELEASE, "var/lib/rpm/Packages": F.rpmdb_bdb(tmp_path)}
    )
    assert _vulns(_report(db, layer)) == {
        "openssl-libs": [("RLSA-2024:0001", "1:3.0.7-25.el9", "Medium", "osv:Rocky Linux:8")]
    }


def _overflow_pages(data: bytes, pagesize: int) -> list[int]:
    return [n for n in range(1, len(data) // pagesize) if data[n * pagesize + 25] == 7]


def test_corrupt_berkeley_db_files_fail_their_layer(tmp_path: Path) -> None:
    real = F.rpmdb_bdb(tmp_path, 512)
    assert len(bdb_hash_values(real, "Packages")) == 2  # rpm's counter and one header
    first = _overflow_pages(real, 512)[0] * 512
    bad_length = bytearray(real)
    struct.pack_into("<H", bad_length, first + 22, 4000)  # more bytes than a page holds
    loop = bytearray(real)
    struct.pack_into("<I", loop, first + 16, first // 512)  # the chain points at itself
    bad_magic = bytearray(real)
    bad_magic[12:16] = b"\0\0\0\0"
    keep_going = bytearray(real)  # the chain's end cut: fewer bytes than the item's length
    struct.pack_into("<I", keep_going, first + 16, 0)
    cases = {
        "bytes, not": bytes(keep_going),
        "claims 4000 bytes": bytes(bad_length),
        "broken overflow chain": bytes(loop),
        "not a Berkeley DB hash": bytes(bad_magic),
        "too short": real[:100],
        "broken overflow chain at page": real[: len(real) - 512],  # the last page cut off
    }
    for reason, data in cases.items():
        with pytest.raises(LayerRejected, match=reason):
            read_layer(io.BytesIO(F.layer({"var/lib/rpm/Packages": data})))


def test_java_summary_is_what_the_layer_keeps() -> None:
    got = read_layer(io.BytesIO(F.layer({"app/lib/x.jar": LOG4J, "app/lib/y.jar": b"junk"})))
    assert set(got.files) == {"app/lib/x.jar/.berth-java-archive"}
    assert json.loads(got.files["app/lib/x.jar/.berth-java-archive"])[0]["version"] == "2.14.1"
