"""Layers and vulnerability data for the scanner tests, built here in the upstream formats."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import zipfile
from functools import partial
from pathlib import Path
from typing import Any

import zstandard

# A layer's content: path -> bytes, or None for a whiteout of that path, or "opaque" to make
# that directory opaque.
Entries = dict[str, "bytes | str | None"]


def tar_bytes(entries: Entries) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, content in entries.items():
            if content is None:
                parent, _, base = path.rpartition("/")
                name = f"{parent}/.wh.{base}" if parent else f".wh.{base}"
                data = b""
            elif content == "opaque":
                name, data = f"{path}/.wh..wh..opq", b""
            else:
                assert isinstance(content, bytes)
                name, data = path, content
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755 if data.startswith(b"\x7fELF") else 0o644
            info.mtime = 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def layer(entries: Entries, compression: str = "gzip") -> bytes:
    raw = tar_bytes(entries)
    if compression == "gzip":
        return gzip.compress(raw, mtime=0)
    if compression == "zstd":
        return zstandard.ZstdCompressor().compress(raw)
    return raw


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


REQUESTS_PATH = "usr/lib/python3.11/site-packages/requests-2.31.0.dist-info/METADATA"
REQUESTS_METADATA = b"Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\n"
PRIVATE_NPM = b'{"name": "@scope/thing", "version": "1.0.0", "private": true}'

DEBIAN_OS_RELEASE = b"""PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
"""

ALPINE_OS_RELEASE = b"""NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.19.1
PRETTY_NAME="Alpine Linux v3.19"
"""


def dpkg_status(*pkgs: tuple[str, str, str | None], extra: str = "") -> bytes:
    """(name, version, Source field or None) -> a dpkg status file."""
    out = []
    for name, version, source in pkgs:
        st = [
            f"Package: {name}",
            "Status: install ok installed",
            "Priority: required",
            "Architecture: amd64",
        ]
        if source:
            st.append(f"Source: {source}")
        st += [f"Version: {version}", "Description: a package", " with a continuation line"]
        out.append("\n".join(st))
    return ("\n\n".join(out) + "\n" + extra).encode()


def apk_installed(*pkgs: tuple[str, str, str]) -> bytes:
    """(name, version, origin) -> lib/apk/db/installed."""
    recs = []
    for name, version, origin in pkgs:
        recs.append(
            f"C:Q1abc=\nP:{name}\nV:{version}\nA:x86_64\nS:1000\nI:2000\nT:a package\n"
            f"o:{origin}\nm:Someone\nF:usr/lib\nR:lib{name}.so\n"
        )
    return "\n".join(recs).encode() + b"\n"


def osv(
    id_: str, ecosystem: str, name: str, events: list[dict[str, str]], **extra: Any
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "schema_version": "1.6.0",
        "id": id_,
        "modified": "2026-01-01T00:00:00Z",
        "summary": f"{id_} in {name}",
        "affected": [
            {
                "package": {"ecosystem": ecosystem, "name": name},
                "ranges": [{"type": "ECOSYSTEM", "events": events}],
            }
        ],
        "references": [{"type": "ADVISORY", "url": f"https://example.test/{id_}"}],
    }
    doc.update(extra)
    return doc


def osv_zip(path: Path, records: list[dict[str, Any]]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for r in records:
            z.writestr(f"{r['id']}.json", json.dumps(r))
    return path


def debian_tracker() -> dict[str, Any]:
    return {
        "openssl": {
            "CVE-2024-0001": {
                "description": "fixed in bookworm",
                "scope": "remote",
                "releases": {
                    "bookworm": {
                        "status": "resolved",
                        "repositories": {"bookworm": "3.0.11-1~deb12u2"},
                        "fixed_version": "3.0.11-1~deb12u3",
                        "urgency": "high",
                    }
                },
            },
            "CVE-2024-0002": {
                "description": "open, no fix",
                "releases": {
                    "bookworm": {
                        "status": "open",
                        "repositories": {"bookworm": "3.0.11-1~deb12u2"},
                        "urgency": "unimportant",
                    }
                },
            },
            "CVE-2024-0003": {
                "description": "never affected bookworm",
                "releases": {
                    "bookworm": {
                        "status": "resolved",
                        "repositories": {"bookworm": "3.0.11-1~deb12u2"},
                        "fixed_version": "0",
                        "urgency": "low",
                    }
                },
            },
            "CVE-2024-0004": {
                "description": "already fixed in the installed version",
                "releases": {
                    "bookworm": {
                        "status": "resolved",
                        "repositories": {"bookworm": "3.0.11-1~deb12u2"},
                        "fixed_version": "3.0.9-1",
                        "urgency": "medium",
                    }
                },
            },
        },
        "curl": {
            "CVE-2024-0005": {
                "description": "curl, removed in a later layer",
                "releases": {
                    "bookworm": {
                        "status": "resolved",
                        "repositories": {"bookworm": "7.88.1-10"},
                        "fixed_version": "7.88.1-10+deb12u5",
                        "urgency": "medium",
                    }
                },
            }
        },
    }


def alpine_secdb() -> dict[str, Any]:
    return {
        "apkurl": "{{urlprefix}}/{{distroversion}}/{{reponame}}/{{arch}}/"
        "{{pkg.name}}-{{pkg.ver}}.apk",
        "archs": ["x86_64"],
        "reponame": "main",
        "urlprefix": "https://dl-cdn.alpinelinux.org/alpine",
        "distroversion": "v3.19",
        "packages": [
            {
                "pkg": {
                    "name": "openssl",
                    "secfixes": {
                        "3.1.4-r1": ["CVE-2023-5678"],
                        "3.1.2-r0": ["CVE-2023-3817"],
                        "0": ["CVE-2022-9999"],
                    },
                }
            },
            {"pkg": {"name": "busybox", "secfixes": {"1.36.1-r16": ["CVE-2023-42363"]}}},
        ],
    }


def bundle_dir(root: Path, files: dict[str, tuple[str, bytes]]) -> Path:
    """files: path -> (format, bytes); writes them and manifest.json with their checksums."""
    root.mkdir(parents=True, exist_ok=True)
    listed = []
    for rel, (fmt, data) in files.items():
        (root / rel).write_bytes(data)
        listed.append({"path": rel, "format": fmt, "sha256": hashlib.sha256(data).hexdigest()})
    (root / "manifest.json").write_text(json.dumps({"berth_vulndb_bundle": 1, "files": listed}))
    return root


def bundle_tar(path: Path, folder: Path) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for f in sorted(folder.iterdir()):
            tar.add(f, arcname=f.name)
    return path


ROCKY_OS_RELEASE = b"""NAME="Rocky Linux"
VERSION="9.3 (Blue Onyx)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.3"
PRETTY_NAME="Rocky Linux 9.3 (Blue Onyx)"
"""

_SPEC = """Name: openssl
Epoch: 1
Version: 3.0.7
Release: 24.el9
Summary: a test package (Berth's scanner tests)
License: MIT
BuildArch: noarch
%description
test
%package libs
Summary: the libraries
%description libs
test
%files libs
"""


def rpmdb_sqlite(workdir: Path) -> bytes:
    """A real rpm sqlite database made by Debian's rpm tools: openssl-libs 1:3.0.7-24.el9
    (source openssl), installed with --justdb into an empty database."""
    import shutil
    import subprocess

    if not shutil.which("rpmbuild") or not shutil.which("rpm"):
        import pytest

        pytest.skip("Debian's rpm tools are not installed (scripts/install-test-deps)")
    (workdir / "openssl.spec").write_text(_SPEC)
    top, db = workdir / "top", workdir / "db"
    run = partial(subprocess.run, check=True, capture_output=True)
    run(["rpmbuild", "-bb", "--define", f"_topdir {top}", str(workdir / "openssl.spec")])
    (rpm_file,) = (top / "RPMS" / "noarch").glob("*.rpm")
    sqlite = ["--define", "_db_backend sqlite", "--dbpath", str(db)]
    run(["rpm", *sqlite, "--initdb"])
    run(["rpm", *sqlite, "-i", "--justdb", "--nodeps", "--noscripts", str(rpm_file)])
    return (db / "rpmdb.sqlite").read_bytes()


def _uvarint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def go_binary(go_version: str, modinfo: str) -> bytes:
    """A synthetic ELF file carrying Go >= 1.18 inline build info (no real Go binary)."""
    head = b"\x7fELF" + b"\0" * 60  # 64 bytes: the magic lands 16-byte aligned
    sentinel = b"\x30\x77\xaf\x0c\x92\x74\x08\x02\x41\xe1\xc1\x07\xe6\xd6\x18\xe6"
    info = b"\xff Go buildinf:" + b"\x08\x02" + b"\0" * 16
    ver = go_version.encode()
    mod = sentinel + modinfo.encode() + sentinel
    return head + info + _uvarint(len(ver)) + ver + _uvarint(len(mod)) + mod + b"\0" * 100


ROCKY8_OS_RELEASE = b"""NAME="Rocky Linux"
VERSION="8.9 (Green Obsidian)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="8.9"
PRETTY_NAME="Rocky Linux 8.9 (Green Obsidian)"
"""


def rpmdb_bdb(workdir: Path, pagesize: int = 4096, *, big_endian: bool = False) -> bytes:
    """A Berkeley DB ``Packages`` file as RHEL <= 8 has: Debian's rpm cannot write one (its
    backends are sqlite, bdb_ro and dummy), so the headers rpm installed into a sqlite
    database are loaded into a BDB hash file by Berkeley DB's own ``db_load`` (db5.3-util),
    keyed by instance number as rpm does (number 0 holds the next instance). Debian's rpm
    then reads it with ``--define '_db_backend bdb_ro'``: the file is one rpm accepts.
    ``big_endian``: the byte order of an s390x or ppc64 host's database (``db_lorder=4321``);
    rpm's own keys stay in the writer's order, so rpm on this host does not list it."""
    import shutil
    import sqlite3
    import struct
    import subprocess

    if not shutil.which("db5.3_load"):
        import pytest

        pytest.skip("Berkeley DB's db5.3_load is not installed (scripts/install-test-deps)")
    blob_db = workdir / "sqlite"
    blob_db.mkdir()
    conn = sqlite3.connect(":memory:")
    raw = rpmdb_sqlite(blob_db)
    conn.deserialize(raw[:18] + b"\x01\x01" + raw[20:])  # WAL mode: open it in memory
    rows = conn.execute("SELECT hnum, blob FROM Packages ORDER BY hnum").fetchall()
    conn.close()
    order = ">" if big_endian else "<"
    lines = ["VERSION=3", "format=bytevalue", "type=hash", f"db_pagesize={pagesize}"]
    lines += ["db_lorder=4321" if big_endian else "db_lorder=1234", "HEADER=END"]
    records = [(0, struct.pack(order + "I", rows[-1][0] + 1))] + [(h, bytes(b)) for h, b in rows]
    for hnum, value in records:
        lines += [" " + struct.pack(order + "I", hnum).hex(), " " + value.hex()]
    lines.append("DATA=END")
    db = workdir / "bdb"
    db.mkdir()
    (workdir / "dump.txt").write_text("\n".join(lines) + "\n")
    subprocess.run(
        ["db5.3_load", "-f", str(workdir / "dump.txt"), str(db / "Packages")],
        check=True,
        capture_output=True,
    )
    if big_endian:
        return (db / "Packages").read_bytes()
    listed = subprocess.run(
        ["rpm", "--dbpath", str(db), "--define", "_db_backend bdb_ro", "-qa",
         "--qf", "%{NAME}-%{EPOCH}:%{VERSION}-%{RELEASE}\\n"],
        check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    assert listed == ["openssl-libs-1:3.0.7-24.el9"], listed
    return (db / "Packages").read_bytes()


def jar(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return buf.getvalue()


def pom_properties(group: str, artifact: str, version: str) -> bytes:
    return (
        "#Generated by Maven\n#Mon Jan 01 00:00:00 UTC 2024\n"
        f"artifactId={artifact}\ngroupId={group}\nversion={version}\n"
    ).encode()


def _vex_product(pid: str, helper: dict[str, str], category: str = "product_version") -> Any:
    return {
        "category": category,
        "name": pid,
        "product": {"name": pid, "product_id": pid, "product_identification_helper": helper},
    }


def redhat_vex_curl() -> dict[str, Any]:
    """A Red Hat CSAF VEX document in the shape Red Hat publishes, cut down from the real
    CVE-2023-38545 file (https://security.access.redhat.com/data/csaf/v2/vex/2023/
    cve-2023-38545.json; CC BY 4.0, Red Hat, Inc.): RHEL 8's curl is not affected; RHEL 9
    fixed it in 7.76.1-26.el9_3.2 (main stream) and 7.76.1-23.el9_2.4 (9.2 EUS); a Satellite
    platform's component is not RHEL's."""
    platforms = [
        ("red_hat_enterprise_linux_8", "cpe:/o:redhat:enterprise_linux:8"),
        ("BaseOS-9.3.0.Z.MAIN", "cpe:/o:redhat:enterprise_linux:9::baseos"),
        ("BaseOS-9.2.0.Z.MAIN.EUS", "cpe:/o:redhat:enterprise_linux:9::baseos"),
        ("8Base-satellite-client-6", "cpe:/a:redhat:rhel_satellite_client:6::el8"),
    ]
    components = {
        "curl": "pkg:rpm/redhat/curl",
        "libcurl": "pkg:rpm/redhat/libcurl",
        "curl-0:7.76.1-26.el9_3.2.src": "pkg:rpm/redhat/curl@7.76.1-26.el9_3.2?arch=src",
        "curl-0:7.76.1-26.el9_3.2.x86_64": "pkg:rpm/redhat/curl@7.76.1-26.el9_3.2?arch=x86_64",
        "libcurl-0:7.76.1-26.el9_3.2.x86_64": (
            "pkg:rpm/redhat/libcurl@7.76.1-26.el9_3.2?arch=x86_64"
        ),
        "curl-0:7.76.1-23.el9_2.4.src": "pkg:rpm/redhat/curl@7.76.1-23.el9_2.4?arch=src",
        "puppet-agent-0:7.27.0-1.el8sat.src": (
            "pkg:rpm/redhat/puppet-agent@7.27.0-1.el8sat?arch=src"
        ),
    }
    pairs = [
        ("BaseOS-9.3.0.Z.MAIN", "curl-0:7.76.1-26.el9_3.2.src"),
        ("BaseOS-9.3.0.Z.MAIN", "curl-0:7.76.1-26.el9_3.2.x86_64"),
        ("BaseOS-9.3.0.Z.MAIN", "libcurl-0:7.76.1-26.el9_3.2.x86_64"),
        ("BaseOS-9.2.0.Z.MAIN.EUS", "curl-0:7.76.1-23.el9_2.4.src"),
        ("8Base-satellite-client-6", "puppet-agent-0:7.27.0-1.el8sat.src"),
        ("red_hat_enterprise_linux_8", "curl"),
        ("red_hat_enterprise_linux_8", "libcurl"),
    ]
    fixed = [f"{p}:{c}" for p, c in pairs[:5]]
    return {
        "document": {
            "aggregate_severity": {
                "namespace": "https://access.redhat.com/security/updates/classification/",
                "text": "Important",
            },
            "category": "csaf_vex",
            "csaf_version": "2.0",
            "publisher": {"category": "vendor", "name": "Red Hat Product Security",
                          "namespace": "https://www.redhat.com"},
            "title": "curl: heap based buffer overflow in the SOCKS5 proxy handshake",
            "tracking": {"id": "CVE-2023-38545", "status": "final", "version": "3",
                         "initial_release_date": "2023-10-11T00:00:00+00:00",
                         "current_release_date": "2025-11-21T14:31:32+00:00"},
        },
        "product_tree": {
            "branches": [
                {
                    "category": "vendor",
                    "name": "Red Hat",
                    "branches": [
                        {
                            "category": "product_family",
                            "name": "Red Hat Enterprise Linux",
                            "branches": [
                                _vex_product(pid, {"cpe": cpe}, "product_name")
                                for pid, cpe in platforms
                            ],
                        },
                        *(_vex_product(c, {"purl": purl}) for c, purl in components.items()),
                    ],
                }
            ],
            "relationships": [
                {
                    "category": "default_component_of",
                    "full_product_name": {"name": f"{c} as a component of {p}",
                                          "product_id": f"{p}:{c}"},
                    "product_reference": c,
                    "relates_to_product_reference": p,
                }
                for p, c in pairs
            ],
        },
        "vulnerabilities": [
            {
                "cve": "CVE-2023-38545",
                "title": "curl: heap based buffer overflow in the SOCKS5 proxy handshake",
                "notes": [
                    {"category": "description", "title": "Vulnerability description",
                     "text": "A heap-based buffer overflow flaw was found in the SOCKS5 proxy "
                             "handshake in the libcurl and curl packages."},
                ],
                "product_status": {
                    "fixed": fixed,
                    "known_not_affected": [
                        "red_hat_enterprise_linux_8:curl",
                        "red_hat_enterprise_linux_8:libcurl",
                    ],
                },
                "remediations": [
                    {"category": "vendor_fix", "product_ids": fixed[:3],
                     "url": "https://access.redhat.com/errata/RHSA-2023:5763"},
                ],
                "scores": [
                    {"cvss_v3": {"attackComplexity": "HIGH", "baseScore": 8.1,
                                 "vectorString": "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H",
                                 "version": "3.1"},
                     "products": fixed},
                ],
                "threats": [{"category": "impact", "details": "Important", "product_ids": fixed}],
            }
        ],
    }  # fmt: skip
