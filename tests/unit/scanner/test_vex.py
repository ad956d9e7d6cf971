"""Red Hat CSAF VEX through ``berth scanner import``: its fixed-in versions and not-affected
statements for RHEL rpm packages, and how they settle other sources' findings for the same
CVE (an OSV "Red Hat" record here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from berth.cli.main import main
from berth.scanner import vulndb
from berth.scanner.errors import ImportRefused
from berth.scanner.indexer import Found, Inventory
from berth.scanner.matcher import match
from berth.scanner.packages import Distribution, Package

from . import fixtures as F

LAYER = "sha256:" + "cd" * 32


def _inventory(did: str, version_id: str, *pkgs: tuple[str, str, str]) -> Inventory:
    return Inventory(
        Distribution(did, version_id, "", f"{did} {version_id}"),
        [
            Found(Package("rpm", name, evr, source, evr, "x86_64", "var/lib/rpm/Packages"), LAYER)
            for name, evr, source in pkgs
        ],
    )


def _found(db: Path, inv: Inventory) -> list[tuple[str, str, str, str, str]]:
    path = vulndb.current_path(db)
    assert path is not None
    conn = vulndb.connect(path)
    try:
        result = match(conn, inv)
    finally:
        conn.close()
    return sorted(
        (f.package.name, f.advisory_id, f.fixed_by, f.severity, f.updater) for f in result.findings
    )


CURL_9 = (("curl", "7.76.1-21.el9", "curl"), ("libcurl", "7.76.1-21.el9", "curl"))
CURL_8 = (("curl", "7.61.1-30.el8", "curl"), ("libcurl", "7.61.1-30.el8", "curl"))

# An OSV record of the "Red Hat" ecosystem (as OSV converts Red Hat's advisories) that puts
# RHEL 8's curl in the CVE's range: the VEX's "not affected" must win.
OSV_REDHAT = F.osv(
    "RHSA-2099:0001", "Red Hat:enterprise_linux:8::baseos", "curl",
    [{"introduced": "0"}, {"fixed": "0:7.61.1-34.el8"}],
    aliases=["CVE-2023-38545"], database_specific={"severity": "HIGH"},
)  # fmt: skip


def test_import_through_the_cli_and_match(tmp_path: Path) -> None:
    vex = tmp_path / "cve-2023-38545.json"
    vex.write_text(json.dumps(F.redhat_vex_curl()))
    data = tmp_path / "data"
    r = CliRunner().invoke(main, ["scanner", "import", "--data-dir", str(data), str(vex)])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["scanner", "status", "--data-dir", str(data), "--json"])
    assert "redhat-vex:CVE-2023-38545" in r.output
    db = data / "vulndb"

    # RHEL 9 (UBI 9): below the main stream's fix -> reported, fixed in 7.76.1-26.el9_3.2.
    assert _found(db, _inventory("rhel", "9.2", *CURL_9)) == [
        ("curl", "CVE-2023-38545", "7.76.1-26.el9_3.2", "High", "redhat-vex"),
        ("libcurl", "CVE-2023-38545", "7.76.1-26.el9_3.2", "High", "redhat-vex"),
    ]
    fixed = (("curl", "7.76.1-26.el9_3.2", "curl"), ("libcurl", "7.76.1-26.el9_3.2", "curl"))
    assert _found(db, _inventory("rhel", "9.3", *fixed)) == []
    # RHEL 8 and CentOS 8 (RHEL's data applies): not affected.
    assert _found(db, _inventory("rhel", "8.9", *CURL_8)) == []
    assert _found(db, _inventory("centos", "8", *CURL_8)) == []
    # Rocky Linux is not RHEL: Red Hat's VEX says nothing about it.
    assert _found(db, _inventory("rocky", "9.3", *CURL_9)) == []


def test_vex_settles_other_sources_findings_for_its_cve(tmp_path: Path) -> None:
    db = tmp_path / "db"
    vulndb.import_path(db, F.osv_zip(tmp_path / "RedHat-all.zip", [OSV_REDHAT]))
    rhel8 = _inventory("rhel", "8.9", *CURL_8)
    osv_ns = "osv:Red Hat:enterprise_linux:8::baseos"
    assert _found(db, rhel8) == [  # libcurl through its source package, curl
        ("curl", "RHSA-2099:0001", "0:7.61.1-34.el8", "High", osv_ns),
        ("libcurl", "RHSA-2099:0001", "0:7.61.1-34.el8", "High", osv_ns),
    ]
    vex = tmp_path / "vex"
    vex.mkdir()
    (vex / "cve-2023-38545.json").write_text(json.dumps(F.redhat_vex_curl()))
    vulndb.import_path(db, vex)  # a folder of VEX files, as Red Hat's archive unpacks
    assert _found(db, rhel8) == []  # known_not_affected on RHEL 8

    # "Fixed" settles it too once the installed version has the fix: an OSV record that
    # still lists RHEL 9's fixed curl is dropped, one for an unfixed version kept.
    stale = F.osv(
        "RHSA-2099:0002", "Red Hat:enterprise_linux:9::baseos", "curl",
        [{"introduced": "0"}, {"fixed": "0:7.76.1-99.el9"}], aliases=["CVE-2023-38545"],
    )  # fmt: skip
    vulndb.import_path(db, F.osv_zip(tmp_path / "RedHat-all.zip", [OSV_REDHAT, stale]))
    fixed9 = _inventory("rhel", "9.3", ("curl", "7.76.1-26.el9_3.2", "curl"))
    assert _found(db, fixed9) == []
    old9 = _inventory("rhel", "9.3", ("curl", "7.76.1-21.el9", "curl"))
    assert [f[1] for f in _found(db, old9)] == ["CVE-2023-38545", "RHSA-2099:0002"]


def test_malformed_vex_is_refused(tmp_path: Path) -> None:
    bad = F.redhat_vex_curl()
    bad["vulnerabilities"] = {"not": "a list"}
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(ImportRefused, match="without vulnerabilities"):
        vulndb.import_path(tmp_path / "db", path)
    assert vulndb.current_path(tmp_path / "db") is None
