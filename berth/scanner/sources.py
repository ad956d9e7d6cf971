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
from berth.scanner.versions import compare


def compare_rpm(a: str, b: str) -> int:
    return compare("rpm", a, b)


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
    if base == "Red Hat" and rest:
        # "Red Hat:enterprise_linux:8::appstream", "Red Hat:rhel_aus:8.6::appstream"
        major = _rhel_major(rest)
        return (f"rhel:{major}", "rpm") if major else None
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


# ---- Red Hat CSAF VEX ---------------------------------------------------------------------
# One document per CVE (https://security.access.redhat.com/data/csaf/v2/vex/): the product
# tree names platforms (a ``product_name`` with a CPE) and components (a ``product_version``
# with a purl); ``relationships`` make "<platform>:<component>" product ids, which
# ``vulnerabilities[].product_status`` lists as fixed, known_affected or known_not_affected.
# Berth keeps the RHEL platforms (CPE ``cpe:/[ao]:redhat:enterprise_linux:N`` and the
# rhel_eus/aus/e4s/tus streams), namespace ``rhel:N``, and rpm components.
VEX_SOURCE = "redhat-vex"
_RHEL_CPE = re.compile(r"^cpe:/[ao]:redhat:(enterprise_linux|rhel_(?:eus|aus|e4s|tus|els)):(\d+)")
_REDHAT_IMPACT = {"critical": "Critical", "important": "High", "moderate": "Medium", "low": "Low"}
_NEVRA = re.compile(r"^(?P<name>.+)-(?:(?P<epoch>\d+):)?(?P<version>[^-:]+)-(?P<release>[^-:]+)$")
_ARCH = re.compile(r"\.(src|noarch|x86_64|i686|i386|aarch64|ppc64le|ppc64|s390x|s390)$")


def _rhel_major(text: str) -> str:
    m = re.match(r"^(?:enterprise_linux|rhel_(?:eus|aus|e4s|tus|els)):(\d+)", text)
    return m.group(1) if m else ""


def _vex_products(tree: Any) -> tuple[dict[str, str], dict[str, str]]:
    """(product id -> CPE, product id -> purl) from the product tree's branches."""
    cpes: dict[str, str] = {}
    purls: dict[str, str] = {}
    stack = list(tree.get("branches") or []) if isinstance(tree, dict) else []
    while stack:
        b = stack.pop()
        if not isinstance(b, dict):
            continue
        stack.extend(b.get("branches") or [])
        product = b.get("product")
        if not isinstance(product, dict) or not isinstance(product.get("product_id"), str):
            continue
        helper = product.get("product_identification_helper") or {}
        if isinstance(helper, dict):
            if isinstance(helper.get("cpe"), str):
                cpes[product["product_id"]] = helper["cpe"]
            if isinstance(helper.get("purl"), str):
                purls[product["product_id"]] = helper["purl"]
    return cpes, purls


def _rpm_component(ref: str, purl: str | None) -> tuple[str, str] | None:
    """(name, "epoch:version-release" or "") of an rpm component, from its purl
    (``pkg:rpm/redhat/curl@7.76.1-26.el9_3.2?arch=src&epoch=1``) or its product id
    (``curl-0:7.76.1-26.el9_3.2.src``, or a bare ``curl``)."""
    if purl is not None:
        if not purl.startswith("pkg:rpm/"):
            return None  # a container image, a Maven artifact ...
        path, _, query = purl.partition("?")
        name_part = path.rsplit("/", 1)[-1]
        name, _, version = name_part.partition("@")
        params = dict(p.partition("=")[::2] for p in query.split("&") if p)
        epoch = params.get("epoch", "")
        evr = f"{epoch}:{version}" if version and epoch and epoch != "0" else version
        return (name, evr) if name else None
    bare = _ARCH.sub("", ref)
    m = _NEVRA.match(bare)
    if m is None:
        return (bare, "") if "/" not in bare and ":" not in bare else None
    epoch = m.group("epoch")
    evr = f"{m.group('version')}-{m.group('release')}"
    return m.group("name"), (f"{epoch}:{evr}" if epoch and epoch != "0" else evr)


def parse_csaf_vex(doc: Any, where: str) -> list[Advisory]:
    """A Red Hat CSAF VEX document: per RHEL major version and rpm package, the fixed-in
    version (fixed), no fix (known_affected) or a not-affected statement."""
    if not isinstance(doc, dict) or not isinstance(doc.get("document"), dict):
        raise ImportRefused(f"{where}: not a CSAF document")
    vulns = doc.get("vulnerabilities")
    if not isinstance(vulns, list):
        raise ImportRefused(f"{where}: a CSAF VEX document without vulnerabilities")
    cpes, purls = _vex_products(doc.get("product_tree"))
    rels: dict[str, tuple[str, str]] = {}
    tree = doc.get("product_tree") if isinstance(doc.get("product_tree"), dict) else {}
    for r in (tree or {}).get("relationships") or []:
        full = r.get("full_product_name") if isinstance(r, dict) else None
        if isinstance(full, dict) and isinstance(full.get("product_id"), str):
            rels[full["product_id"]] = (
                str(r.get("product_reference", "")),
                str(r.get("relates_to_product_reference", "")),
            )
    document = doc["document"]
    aggregate = document.get("aggregate_severity") or {}
    out: list[Advisory] = []
    for v in vulns:
        if not isinstance(v, dict):
            raise ImportRefused(f"{where}: a vulnerability that is not an object")
        cve = str(v.get("cve") or (document.get("tracking") or {}).get("id") or "")
        if not cve:
            raise ImportRefused(f"{where}: a vulnerability without a CVE id")
        impact = next(
            (
                str(t.get("details", ""))
                for t in v.get("threats") or []
                if isinstance(t, dict) and t.get("category") == "impact"
            ),
            str(aggregate.get("text", "")) if isinstance(aggregate, dict) else "",
        )
        vector, score = "", None
        for sc in v.get("scores") or []:
            cvss = sc.get("cvss_v3") if isinstance(sc, dict) else None
            if isinstance(cvss, dict) and isinstance(cvss.get("vectorString"), str):
                vector = cvss["vectorString"]
                score = S.cvss3_base_score(vector)
                break
        notes = [n for n in v.get("notes") or [] if isinstance(n, dict)]
        description = next(
            (str(n.get("text", "")) for n in notes if n.get("category") == "description"),
            str(v.get("title") or document.get("title") or ""),
        )
        links = [f"https://access.redhat.com/security/cve/{cve.lower()}"]
        links += sorted(
            {
                str(r["url"])
                for r in v.get("remediations") or []
                if isinstance(r, dict) and r.get("category") == "vendor_fix" and r.get("url")
            }
        )
        # (namespace, package) -> status and fixes: (fixed version, from the main stream)
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        status = v.get("product_status") or {}
        if not isinstance(status, dict):
            raise ImportRefused(f"{where}: {cve}: product_status is not an object")
        for kind in ("fixed", "known_affected", "known_not_affected"):
            for pid in status.get(kind) or []:
                rel = rels.get(str(pid))
                if rel is None:
                    continue
                component, platform = rel
                m = _RHEL_CPE.match(cpes.get(platform, ""))
                if m is None:
                    continue  # not a RHEL platform (Satellite, JBoss, OpenShift ...)
                comp = _rpm_component(component, purls.get(component))
                if comp is None:
                    continue
                name, evr = comp
                row = rows.setdefault((f"rhel:{m.group(2)}", name), {"kinds": set(), "fixes": []})
                row["kinds"].add(kind)
                if kind == "fixed" and evr:
                    row["fixes"].append((evr, m.group(1) == "enterprise_linux"))
        affected: list[Affected] = []
        for (namespace, name), row in sorted(rows.items()):
            kinds = row["kinds"]
            if "fixed" in kinds and row["fixes"]:
                main = [e for e, is_main in row["fixes"] if is_main] or [e for e, _ in row["fixes"]]
                # The main stream's fix (an EUS stream's older fix would hide unfixed
                # main-stream versions); several: the latest.
                fixed = main[0]
                for e in main[1:]:
                    try:
                        if compare_rpm(e, fixed) > 0:
                            fixed = e
                    except ValueError:
                        continue
                affected.append(Affected(namespace, name, "rpm", fixed_version=fixed))
            elif "known_affected" in kinds:
                affected.append(Affected(namespace, name, "rpm", status="affected_no_fix"))
            elif "known_not_affected" in kinds:
                affected.append(Affected(namespace, name, "rpm", status="not_affected"))
        if affected:
            out.append(
                Advisory(
                    source=f"{VEX_SOURCE}:{cve}",
                    updater=VEX_SOURCE,
                    id=cve,
                    description=description,
                    links=" ".join(links),
                    severity=_REDHAT_IMPACT.get(impact.lower(), "Unknown"),
                    cvss_vector=vector,
                    cvss_score=score,
                    aliases=[cve],
                    affected=affected,
                )
            )
    return out


def detect_json(doc: Any) -> str:
    """The format of one JSON document: osv | alpine-secdb | debian-tracker | csaf-vex."""
    document = doc.get("document") if isinstance(doc, dict) else None
    if isinstance(document, dict) and document.get("category") == "csaf_vex":
        return "csaf-vex"
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
