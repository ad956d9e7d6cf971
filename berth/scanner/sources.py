"""Parsers for unmodified upstream vulnerability data: OSV, Debian's tracker, Alpine's secdb.

Each yields ``Advisory`` records (an advisory as one source states it for one package
namespace, with its affected rows). Anything malformed raises ``ImportRefused``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from berth.scanner import severity as S
from berth.scanner.errors import ImportRefused
from berth.scanner.packages import pep503


@dataclass(slots=True)
class Affected:
    namespace: str
    pkg_name: str
    scheme: str
    ranges: list[list[dict[str, str]]] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)
    fixed_version: str = ""
    status: str = "fixed"  # fixed | affected_no_fix


@dataclass(slots=True)
class Advisory:
    source: str  # what an import replaces: "osv:PyPI", "debian-tracker", "alpine-secdb:v3.19/main"
    updater: str  # shown as NamespaceName / Metadata.UpdatedBy
    id: str
    description: str
    links: str
    severity: str
    cvss_vector: str = ""
    cvss_score: float | None = None
    aliases: list[str] = field(default_factory=list)
    affected: list[Affected] = field(default_factory=list)


def osv_namespace(ecosystem: str) -> tuple[str, str] | None:
    """OSV ecosystem string -> (namespace, version scheme); ``None`` for ones not matched."""
    base, _, rest = ecosystem.partition(":")
    if base == "Debian" and rest:
        return f"debian:{rest.split(':')[0]}", "deb"
    if base == "Ubuntu" and rest:
        return f"ubuntu:{rest.split(':')[0]}", "deb"
    if base == "Alpine" and rest:
        return f"alpine:{rest.removeprefix('v')}", "apk"
    if base in ("Rocky Linux", "AlmaLinux") and rest:
        did = "rocky" if base == "Rocky Linux" else "almalinux"
        return f"{did}:{rest.split(':')[0].split('.')[0]}", "rpm"
    if ecosystem == "PyPI":
        return "pypi", "pep440"
    if ecosystem == "npm":
        return "npm", "semver"
    if ecosystem == "Go":
        return "go", "semver"
    if ecosystem == "Maven":
        return "maven", "maven"
    return None


def _osv_severity(doc: dict[str, Any]) -> tuple[str, str, float | None]:
    vector, score = "", None
    for sev in doc.get("severity") or []:
        if isinstance(sev, dict) and str(sev.get("type", "")).startswith("CVSS_V3"):
            vector = str(sev.get("score", ""))
            score = S.cvss3_base_score(vector)
    ds = doc.get("database_specific")
    if isinstance(ds, dict) and str(ds.get("severity", "")).upper() in S.GHSA:
        return S.GHSA[str(ds["severity"]).upper()], vector, score
    if score is not None:
        return S.from_score(score), vector, score
    return "Unknown", vector, score


def parse_osv(doc: Any, where: str) -> list[Advisory]:
    """One OSV record; withdrawn records and unknown ecosystems yield nothing."""
    if not isinstance(doc, dict) or not isinstance(doc.get("id"), str):
        raise ImportRefused(f"{where}: not an OSV record (no id)")
    if doc.get("withdrawn"):
        return []
    affected = doc.get("affected") or []
    if not isinstance(affected, list):
        raise ImportRefused(f"{where}: 'affected' is not a list")
    severity, vector, score = _osv_severity(doc)
    refs = [r.get("url", "") for r in doc.get("references") or [] if isinstance(r, dict)]
    by_source: dict[str, Advisory] = {}
    for aff in affected:
        if not isinstance(aff, dict) or not isinstance(aff.get("package"), dict):
            raise ImportRefused(f"{where}: an 'affected' entry without a package")
        eco, name = aff["package"].get("ecosystem", ""), aff["package"].get("name", "")
        if not isinstance(eco, str) or not isinstance(name, str) or not name:
            raise ImportRefused(f"{where}: a package without ecosystem or name")
        ns = osv_namespace(eco)
        if ns is None:
            continue
        namespace, scheme = ns
        ranges: list[list[dict[str, str]]] = []
        fixed = ""
        for rng in aff.get("ranges") or []:
            if not isinstance(rng, dict) or not isinstance(rng.get("events"), list):
                raise ImportRefused(f"{where}: a range without events")
            if rng.get("type") not in ("ECOSYSTEM", "SEMVER"):
                continue  # GIT ranges say nothing about installed packages
            events = [
                {k: str(v) for k, v in e.items()} for e in rng["events"] if isinstance(e, dict)
            ]
            ranges.append(events)
            for e in events:
                if "fixed" in e and not fixed:
                    fixed = e["fixed"]
        versions = [str(v) for v in aff.get("versions") or []]
        if not ranges and not versions:
            continue
        source = "osv:" + eco.split(":")[0]
        adv = by_source.get(source)
        if adv is None:
            adv = by_source[source] = Advisory(
                source=source,
                updater=f"osv:{eco}",
                id=doc["id"],
                description=str(doc.get("summary") or doc.get("details") or ""),
                links=" ".join(u for u in refs if u),
                severity=severity,
                cvss_vector=vector,
                cvss_score=score,
                aliases=[str(a) for a in doc.get("aliases") or []],
            )
        adv.affected.append(
            Affected(
                namespace=namespace,
                pkg_name=pep503(name) if scheme == "pep440" else name,
                scheme=scheme,
                ranges=ranges,
                versions=versions,
                fixed_version=fixed,
            )
        )
    return list(by_source.values())


def parse_debian_tracker(doc: Any) -> Iterator[Advisory]:
    """``{source package: {CVE: {description, releases: {codename: {...}}}}}``."""
    if not isinstance(doc, dict) or not doc:
        raise ImportRefused("Debian tracker data: not a JSON object of packages")
    for pkg, cves in doc.items():
        if not isinstance(cves, dict):
            raise ImportRefused(f"Debian tracker data: package {pkg!r} is not an object")
        for cve, info in cves.items():
            if not isinstance(info, dict) or not isinstance(info.get("releases", {}), dict):
                raise ImportRefused(f"Debian tracker data: {pkg}/{cve} is malformed")
            for codename, rel in info.get("releases", {}).items():
                if not isinstance(rel, dict):
                    raise ImportRefused(f"Debian tracker data: {pkg}/{cve}/{codename}")
                status, fixed = rel.get("status"), str(rel.get("fixed_version") or "")
                if status == "resolved" and fixed and fixed != "0":
                    row_status = "fixed"
                elif status == "open":
                    row_status, fixed = "affected_no_fix", ""
                else:
                    continue  # not affected ("0"), or undetermined
                yield Advisory(
                    source="debian-tracker",
                    updater=f"debian-tracker:{codename}",
                    id=str(cve),
                    description=str(info.get("description") or ""),
                    links=f"https://security-tracker.debian.org/tracker/{cve}",
                    severity=S.DEBIAN.get(str(rel.get("urgency", "")), "Unknown"),
                    affected=[
                        Affected(
                            namespace=f"debian:{codename}",
                            pkg_name=str(pkg),
                            scheme="deb",
                            fixed_version=fixed,
                            status=row_status,
                        )
                    ],
                )


_ALPINE_ID = re.compile(r"\S+")


def parse_alpine_secdb(doc: Any) -> Iterator[Advisory]:
    """``{distroversion: "v3.19", reponame, packages: [{pkg: {name, secfixes}}]}``."""
    if not isinstance(doc, dict) or not isinstance(doc.get("packages"), list):
        raise ImportRefused("Alpine secdb: no 'packages' list")
    branch = str(doc.get("distroversion") or "")
    if not branch.startswith("v") and branch != "edge":
        raise ImportRefused(f"Alpine secdb: bad distroversion {branch!r}")
    repo = str(doc.get("reponame") or "main")
    namespace = "alpine:" + branch.removeprefix("v")
    for entry in doc["packages"]:
        pkg = entry.get("pkg") if isinstance(entry, dict) else None
        if not isinstance(pkg, dict) or not isinstance(pkg.get("name"), str):
            raise ImportRefused("Alpine secdb: a package entry without pkg.name")
        for version, ids in (pkg.get("secfixes") or {}).items():
            if version == "0" or not isinstance(ids, list):
                continue  # "0": never affected
            for text in ids:
                for vid in _ALPINE_ID.findall(str(text))[:1]:
                    yield Advisory(
                        source=f"alpine-secdb:{branch}/{repo}",
                        updater=f"alpine-secdb:{branch}-{repo}",
                        id=vid,
                        description="",
                        links=f"https://security.alpinelinux.org/vuln/{vid}",
                        severity="Unknown",
                        affected=[
                            Affected(
                                namespace=namespace,
                                pkg_name=pkg["name"],
                                scheme="apk",
                                fixed_version=str(version),
                            )
                        ],
                    )


def detect_json(doc: Any) -> str:
    """The format of one JSON document: osv | alpine-secdb | debian-tracker."""
    if isinstance(doc, dict) and "id" in doc and ("affected" in doc or "schema_version" in doc):
        return "osv"
    if isinstance(doc, dict) and "packages" in doc and "distroversion" in doc:
        return "alpine-secdb"
    if isinstance(doc, dict) and doc and all(isinstance(v, dict) for v in doc.values()):
        return "debian-tracker"
    raise ImportRefused("unrecognised JSON: not OSV, Alpine secdb or Debian tracker data")


def loads(data: bytes, where: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise ImportRefused(f"{where}: not valid JSON ({e})") from e
