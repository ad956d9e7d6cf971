"""The security pages' view data, from ``ScannerService`` (the service behind Quay's
``/manifest/{digest}/security`` route): the tags table's security cell (counts by severity,
a bar) and the manifest's security report (``?tab=vulnerabilities``, grouped by severity,
"only fixable" filter) and package list (``?tab=packages``).

No routes of its own: the repository and manifest pages call these when
FEATURE_SECURITY_SCANNER is on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from berth.http.web.framework import Page
from berth.scanner.services import SecurityReport, SecuritySummary

# Quay's names, worst first.
SEVERITIES = ("Critical", "High", "Medium", "Low", "Negligible", "Unknown")
STATUS_TEXT = {
    "queued": "Queued",
    "failed": "Failed",
    "unsupported": "Unsupported",
    "manifest_layer_too_large": "Layer too large",
}


def enabled(page: Page) -> bool:
    return bool(page.web.api.settings.scanner.enabled)


@dataclass(frozen=True)
class BarPart:
    severity: str
    count: int
    x: float  # percent
    width: float  # percent


def bar(counts: dict[str, int]) -> list[BarPart]:
    """The stacked bar's parts (SVG rects, worst first; widths in percent of the total)."""
    total = sum(counts.values())
    parts, x = [], 0.0
    for level in SEVERITIES:
        n = counts.get(level, 0)
        if n and total:
            width = 100.0 * n / total
            parts.append(BarPart(level, n, round(x, 3), round(width, 3)))
            x += width
    return parts


@dataclass(frozen=True)
class SummaryCell:
    status: str
    label: str  # "Queued", "Passed", "3 High · 1 Low" ...
    counts: list[tuple[str, int]]  # worst first, nonzero
    bar: list[BarPart]
    fixable: int
    total: int
    worst: str | None


def summary_cell(s: SecuritySummary) -> SummaryCell:
    if s.status != "scanned":
        return SummaryCell(s.status, STATUS_TEXT.get(s.status, s.status), [], [], 0, 0, None)
    counts = [(level, s.counts[level]) for level in SEVERITIES if s.counts.get(level)]
    label = "Passed" if not counts else " · ".join(f"{n} {level}" for level, n in counts)
    return SummaryCell("scanned", label, counts, bar(s.counts), s.fixable, s.total, s.worst)


async def summaries(page: Page, digests: Iterable[str]) -> dict[str, SummaryCell]:
    """Security cells by digest for the tags table ({} with the scanner off)."""
    if not enabled(page):
        return {}
    found = await page.web.api.svc.scanner.summaries(list(digests))
    return {d: summary_cell(s) for d, s in found.items()}


@dataclass(frozen=True)
class VulnRow:
    severity: str
    advisory: str
    link: str  # the first link ("" when none)
    links: list[str]
    package: str
    version: str
    fixed_by: str
    layer: str
    layer_number: int | None
    source: str
    description: str
    cvss_score: float | None


@dataclass(frozen=True)
class PackageRow:
    name: str
    version: str
    kind: str
    source: str  # "openssl 3.0.11-1~deb12u2" for a binary built from another source
    layer: str
    layer_number: int | None
    vulnerabilities: int
    worst: str | None
    fixable: int


def _first_line(text: str, limit: int = 300) -> str:
    line = (text or "").strip().split("\n", 1)[0]
    return line if len(line) <= limit else line[: limit - 1] + "…"


def report_view(
    report: SecurityReport, layer_digests: Sequence[str], *, fixable_only: bool
) -> dict[str, Any]:
    """Template data for a manifest's security report and its packages."""
    numbers = {d: i + 1 for i, d in enumerate(layer_digests)}
    data: dict[str, Any] = {
        "security_status": report.status,
        "security_status_text": STATUS_TEXT.get(report.status, report.status),
        "security_error": report.error,
        "fixable_only": fixable_only,
        "groups": [],
        "package_rows": [],
        "distribution": None,
        "all_counts": [],
        "shown": 0,
        "total": 0,
        "fixable": 0,
        "bar": [],
    }
    if report.status != "scanned" or report.inventory is None or report.result is None:
        return data
    inv, findings = report.inventory, report.result.findings
    if inv.distribution is not None:
        data["distribution"] = inv.distribution.pretty_name or (
            f"{inv.distribution.did} {inv.distribution.version_id}".strip()
        )
    counts: dict[str, int] = {}
    for f in findings:
        counts[f.severity] = counts.get(f.severity, 0) + 1
    data["all_counts"] = [(level, counts[level]) for level in SEVERITIES if counts.get(level)]
    data["bar"] = bar(counts)
    data["total"] = len(findings)
    data["fixable"] = sum(1 for f in findings if f.fixed_by and f.fixed_by != "0")
    groups: dict[str, list[VulnRow]] = {}
    for f in findings:
        fixed = "" if f.fixed_by == "0" else f.fixed_by
        if fixable_only and not fixed:
            continue
        links = [x for x in (f.links or "").split() if x.startswith(("https://", "http://"))]
        groups.setdefault(f.severity, []).append(
            VulnRow(
                severity=f.severity,
                advisory=f.advisory_id,
                link=links[0] if links else "",
                links=links,
                package=f.package.name,
                version=f.package.version,
                fixed_by=fixed,
                layer=f.introduced_in,
                layer_number=numbers.get(f.introduced_in),
                source=f.updater,
                description=_first_line(f.description),
                cvss_score=f.cvss_score,
            )
        )
    ordered = []
    for level in SEVERITIES:
        vulns = sorted(groups.get(level, []), key=lambda r: (r.package, r.advisory))
        if vulns:
            ordered.append((level, vulns))
    data["groups"] = ordered
    data["shown"] = sum(len(rows) for _level, rows in ordered)
    per_pkg: dict[tuple[str, str, str], list[Any]] = {}
    for f in findings:
        per_pkg.setdefault((f.package.name, f.package.version, f.introduced_in), []).append(f)
    rank = {level: i for i, level in enumerate(SEVERITIES)}
    rows: list[PackageRow] = []
    for found in inv.packages:
        p = found.package
        hits = per_pkg.get((p.name, p.version, found.introduced_in), [])
        worst = min((f.severity for f in hits), key=rank.__getitem__, default=None)
        source = ""
        if p.source_name and (p.source_name != p.name or p.source_version not in ("", p.version)):
            source = f"{p.source_name} {p.source_version}".strip()
        rows.append(
            PackageRow(
                name=p.name,
                version=p.version,
                kind=p.kind,
                source=source,
                layer=found.introduced_in,
                layer_number=numbers.get(found.introduced_in),
                vulnerabilities=len(hits),
                worst=worst,
                fixable=sum(1 for f in hits if f.fixed_by and f.fixed_by != "0"),
            )
        )
    data["package_rows"] = rows
    return data


async def manifest_security(
    page: Page, digest: str, layer_digests: Sequence[str], *, fixable_only: bool
) -> dict[str, Any]:
    report = await page.web.api.svc.scanner.report(digest)
    return report_view(report, layer_digests, fixable_only=fixable_only)
