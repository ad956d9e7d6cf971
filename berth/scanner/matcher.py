"""Match an inventory against the vulnerability database, and render Quay's report shape.

For each package: the namespaces (the distribution's for OS packages, the ecosystem's for
language packages), the candidate names (dpkg: source and binary; apk: origin and name), the
candidate rows, then each row decided with the scheme's ordering: an explicit version list,
an OSV event walk (introduced / fixed / last_affected / limit), or a tracker's "fixed in"
version. A version that does not parse leaves that row undetermined (counted, not reported).
"""

from __future__ import annotations

import functools
import json
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from berth.scanner import severity as S
from berth.scanner.indexer import Found, Inventory
from berth.scanner.packages import Package, pep503
from berth.scanner.sources import VEX_SOURCE as VEX_UPDATER
from berth.scanner.versions import compare


@dataclass(frozen=True, slots=True)
class Finding:
    package: Package
    introduced_in: str
    advisory_id: str
    updater: str
    description: str
    links: str
    severity: str
    fixed_by: str
    cvss_vector: str
    cvss_score: float | None


@dataclass(slots=True)
class MatchResult:
    findings: list[Finding]
    undetermined: int


def _candidates(pkg: Package, inv: Inventory) -> list[tuple[str, str, str]]:
    """(namespace, name, version to compare) triples to look up."""
    dist = inv.distribution
    if pkg.kind in ("deb", "apk", "rpm"):
        if dist is None:
            return []
        want = {
            "deb": ("debian", "ubuntu"),
            "apk": ("alpine",),
            "rpm": ("rhel", "rocky", "almalinux", "centos"),
        }[pkg.kind]
        if dist.did not in want:
            return []
        out = []
        for ns in dist.namespaces():
            out.append((ns, pkg.source_name or pkg.name, pkg.source_version or pkg.version))
            if pkg.source_name and pkg.source_name != pkg.name:
                out.append((ns, pkg.name, pkg.version))
        return out
    if pkg.kind == "pypi":
        return [("pypi", pep503(pkg.name), pkg.version)]
    if pkg.kind == "npm":
        return [("npm", pkg.name, pkg.version)]
    if pkg.kind == "go":
        return [("go", pkg.name, pkg.version)]
    if pkg.kind == "maven":
        return [("maven", pkg.name, pkg.version)]
    return []


def candidate_keys(inv: Inventory) -> set[tuple[str, str]]:
    """Every (namespace, package name) the inventory's packages are looked up under."""
    return {(ns, name) for f in inv.packages for ns, name, _v in _candidates(f.package, inv)}


def _in_ranges(scheme: str, v: str, ranges: Sequence[Sequence[dict[str, str]]]) -> tuple[bool, str]:
    """OSV's evaluation: (affected, the fix of the range that holds ``v``)."""
    for events in ranges:

        def at(e: dict[str, str]) -> str:
            return next(iter(e.values()))

        def cmp(a: dict[str, str], b: dict[str, str]) -> int:
            if at(a) == "0" or at(b) == "0":
                return (at(a) != "0") - (at(b) != "0")
            return compare(scheme, at(a), at(b))

        ordered = sorted(events, key=functools.cmp_to_key(cmp))
        vulnerable, fix = False, ""
        for e in ordered:
            if "introduced" in e:
                if e["introduced"] == "0" or compare(scheme, v, e["introduced"]) >= 0:
                    vulnerable = True
            elif "fixed" in e:
                if compare(scheme, v, e["fixed"]) >= 0:
                    vulnerable = False
                elif vulnerable and not fix:
                    fix = e["fixed"]
            elif "last_affected" in e:
                if compare(scheme, v, e["last_affected"]) > 0:
                    vulnerable = False
            elif "limit" in e and compare(scheme, v, e["limit"]) >= 0:
                vulnerable = False
        if vulnerable:
            return True, fix
    return False, ""


def _decide(row: sqlite3.Row, v: str) -> tuple[bool, str]:
    scheme = row["scheme"]
    if row["fixed_version"] == "0" or row["status"] == "not_affected":
        return False, ""
    versions = json.loads(row["versions"])
    ranges = json.loads(row["ranges"])
    if any(compare(scheme, v, x) == 0 for x in versions):
        return True, row["fixed_version"]
    if ranges:
        return _in_ranges(scheme, v, ranges)
    if versions:
        return False, ""
    if row["status"] == "affected_no_fix":
        return True, ""
    if row["fixed_version"] and compare(scheme, v, row["fixed_version"]) < 0:
        return True, row["fixed_version"]
    return False, ""


_SQL = (
    "SELECT a.id, a.updater, a.description, a.links, a.severity, a.cvss_vector, a.cvss_score,"
    " a.aliases, f.scheme, f.ranges, f.versions, f.fixed_version, f.status"
    " FROM affected f JOIN advisory a ON a.pk = f.advisory_pk"
    " WHERE f.namespace = ? AND f.pkg_name = ? ORDER BY a.pk"
)


def match(conn: sqlite3.Connection | None, inv: Inventory) -> MatchResult:
    findings: list[Finding] = []
    undetermined = 0
    if conn is None:
        return MatchResult(findings, 0)
    conn.row_factory = sqlite3.Row
    for found in inv.packages:
        seen: dict[str, Finding] = {}
        names: dict[str, set[str]] = {}  # advisory id -> its id and aliases
        # A VEX statement about this package (not affected, or fixed at or below the
        # installed version) settles that CVE: other sources' findings for it are dropped.
        settled: set[str] = set()
        for ns, name, version in _candidates(found.package, inv):
            for row in conn.execute(_SQL, (ns, name)):
                if row["updater"] == VEX_UPDATER:
                    if row["status"] == "not_affected":
                        settled.add(row["id"])
                        continue
                    if row["fixed_version"]:
                        try:
                            if compare(row["scheme"], version, row["fixed_version"]) >= 0:
                                settled.add(row["id"])
                                continue
                        except ValueError:
                            pass
                try:
                    hit, fix = _decide(row, version)
                except ValueError:
                    undetermined += 1
                    continue
                if not hit:
                    continue
                f = Finding(
                    package=found.package,
                    introduced_in=found.introduced_in,
                    advisory_id=row["id"],
                    updater=row["updater"],
                    description=row["description"],
                    links=row["links"],
                    severity=row["severity"]
                    if row["severity"] != "Unknown" or row["cvss_score"] is None
                    else S.from_score(row["cvss_score"]),
                    fixed_by=fix,
                    cvss_vector=row["cvss_vector"],
                    cvss_score=row["cvss_score"],
                )
                names.setdefault(f.advisory_id, {f.advisory_id}).update(
                    json.loads(row["aliases"] or "[]")
                )
                prev = seen.get(f.advisory_id)
                if prev is None or (prev.severity == "Unknown" and f.severity != "Unknown"):
                    seen[f.advisory_id] = f
        kept = [f for f in seen.values() if not (names.get(f.advisory_id, set()) & settled)]
        findings.extend(sorted(kept, key=lambda f: (S.INDEX[f.severity], f.advisory_id)))
    return MatchResult(findings, undetermined)


_CVE = re.compile(r"CVE-\d{4}-\d{4,}")


def quay_layer(
    manifest_digest: str, inv: Inventory, result: MatchResult, *, vulnerabilities: bool = True
) -> dict[str, Any]:
    """``data`` of Quay's security endpoint (§1.10 of the scanning reference)."""
    by_pkg: dict[tuple[Package, str], list[Finding]] = {}
    for f in result.findings:
        by_pkg.setdefault((f.package, f.introduced_in), []).append(f)
    dist = inv.distribution
    features = []
    for found in inv.packages:
        vulns = by_pkg.get((found.package, found.introduced_in), [])
        links = " ".join(f.links for f in vulns)
        feature: dict[str, Any] = {
            "Name": found.package.name,
            "VersionFormat": "",
            "NamespaceName": "",
            "AddedBy": found.introduced_in,
            "Version": found.package.version,
            "BaseScores": [f.cvss_score for f in vulns if f.cvss_score is not None],
            "CVEIds": sorted(
                set(_CVE.findall(links + " " + " ".join(f.advisory_id for f in vulns)))
            ),
        }
        if vulnerabilities:
            feature["Vulnerabilities"] = [
                {
                    "Severity": f.severity,
                    "NamespaceName": f.updater,
                    "Link": f.links,
                    "FixedBy": "" if f.fixed_by == "0" else f.fixed_by,
                    "Description": f.description,
                    "Name": f.advisory_id,
                    "Metadata": {
                        "UpdatedBy": f.updater,
                        "RepoName": None,
                        "RepoLink": None,
                        "DistroName": dist.pretty_name if dist else None,
                        "DistroVersion": dist.version_id if dist else None,
                        "NVD": {
                            "CVSSv3": {
                                "Vectors": f.cvss_vector,
                                "Score": f.cvss_score if f.cvss_score is not None else "",
                            }
                        },
                    },
                }
                for f in vulns
            ]
        features.append(feature)
    return {
        "Layer": {
            "Name": manifest_digest,
            "ParentName": "",
            "NamespaceName": "",
            "IndexedByVersion": 4,
            "Features": features,
        }
    }


__all__ = ["Finding", "Found", "MatchResult", "match", "quay_layer"]
