"""Quay's SECURITY_SCANNER_V4_ENDPOINT: an existing Clair v4 instead of the embedded
indexer and matcher, behind the same ``ScannerService`` (the security route's answer).

Clair's documented API (``/indexer/api/v1/index_report``, ``/matcher/api/v1/
vulnerability_report/{digest}``), called through the outbound client (the SSRF guard:
list Clair's host in SSRF_ALLOWED_HOSTS when it is on the lab network). With
SECURITY_SCANNER_V4_PSK, each request carries a JWT signed HS256 with the base64-decoded
key, issuer ``quay``, as Quay sends. The manifest Berth posts names each layer with a URL on
Berth's own ``/v2`` and a short-lived pull token for it, so Clair fetches the layers itself.
"""

from __future__ import annotations

import base64
import re
import time
from typing import Any

import jwt

from berth.outbound import OutboundClient
from berth.outbound.errors import OutboundError
from berth.scanner.severity import cvss3_base_score

_CVE = re.compile(r"CVE-\d{4}-\d{4,}")
INDEX_PATH = "/indexer/api/v1/index_report"
REPORT_PATH = "/matcher/api/v1/vulnerability_report/"


class ClairError(Exception):
    """Clair answered something unusable, or could not be reached (the job retries)."""


class ClairUnsupported(ClairError):
    """Clair refused the manifest (400): Quay marks it unsupported."""


class ClairClient:
    def __init__(self, client: OutboundClient, endpoint: str, psk: str | None = None) -> None:
        self.client = client
        self.endpoint = endpoint.rstrip("/")
        self.key = base64.b64decode(psk) if psk else None

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self.key is not None:
            now = int(time.time())
            token = jwt.encode(
                {"iss": "quay", "iat": now, "nbf": now, "exp": now + 300},
                self.key,
                algorithm="HS256",
            )
            headers["Authorization"] = f"Bearer {token}"
        return headers

    async def index(self, manifest: dict[str, Any]) -> str:
        """POST the manifest; Clair's indexer state once it answered 201 (or 200)."""
        try:
            r = await self.client.post(
                self.endpoint + INDEX_PATH, json=manifest, headers=self._headers()
            )
        except OutboundError as e:
            raise ClairError(f"Clair's indexer: {e}") from e
        if r.status_code == 400:
            raise ClairUnsupported(r.text[:500])
        if r.status_code not in (200, 201):
            raise ClairError(f"Clair's indexer answered {r.status_code}: {r.text[:500]}")
        body = r.json()
        if not body.get("success", True) or body.get("err"):
            raise ClairError(f"Clair could not index the manifest: {body.get('err')}")
        return str(body.get("state", ""))

    async def report(self, digest: str) -> dict[str, Any] | None:
        """Clair's VulnerabilityReport of ``digest``; None when Clair has not indexed it."""
        try:
            r = await self.client.get(self.endpoint + REPORT_PATH + digest, headers=self._headers())
        except OutboundError as e:
            raise ClairError(f"Clair's matcher: {e}") from e
        if r.status_code == 404:
            return None
        if r.status_code != 200:
            raise ClairError(f"Clair's matcher answered {r.status_code}: {r.text[:500]}")
        body = r.json()
        if not isinstance(body, dict):
            raise ClairError("Clair's vulnerability report is not an object")
        return body


def _score(v: dict[str, Any]) -> tuple[str, float | str]:
    """The CVSS v3 vector and score Clair's enricher or the updater put in the record."""
    severity = str(v.get("severity") or "")
    if severity.startswith("CVSS:3"):
        score = cvss3_base_score(severity)
        return severity, score if score is not None else ""
    return "", ""


def quay_layer_from_clair(digest: str, report: dict[str, Any]) -> dict[str, Any]:
    """Quay's ``data`` (§1.10) from Clair's VulnerabilityReport, as Quay's v4 model builds
    it: one feature per package with the layer that introduced it; its vulnerabilities
    with the normalized severity, updater, links and fixed-in version."""
    packages = report.get("packages") or {}
    environments = report.get("environments") or {}
    distributions = report.get("distributions") or {}
    vulnerabilities = report.get("vulnerabilities") or {}
    by_package = report.get("package_vulnerabilities") or {}
    features = []
    for pid, pkg in packages.items():
        envs = environments.get(pid) or [{}]
        env = envs[0] if isinstance(envs[0], dict) else {}
        dist = distributions.get(str(env.get("distribution_id", ""))) or {}
        vulns: list[dict[str, Any]] = []
        scores: list[float] = []
        for vid in by_package.get(pid) or []:
            v = vulnerabilities.get(vid)
            if not isinstance(v, dict):
                continue
            repo = v.get("repository") or {}
            vector, score = _score(v)
            if isinstance(score, float):
                scores.append(score)
            vulns.append(
                {
                    "Severity": str(v.get("normalized_severity") or "Unknown"),
                    "NamespaceName": str(v.get("updater") or ""),
                    "Link": str(v.get("links") or ""),
                    "FixedBy": str(v.get("fixed_in_version") or ""),
                    "Description": str(v.get("description") or ""),
                    "Name": str(v.get("name") or vid),
                    "Metadata": {
                        "UpdatedBy": str(v.get("updater") or ""),
                        "RepoName": repo.get("name") or None,
                        "RepoLink": repo.get("uri") or None,
                        "DistroName": dist.get("name") or None,
                        "DistroVersion": dist.get("version_id") or dist.get("version") or None,
                        "NVD": {"CVSSv3": {"Vectors": vector, "Score": score}},
                    },
                }
            )
        names = " ".join(f"{x['Name']} {x['Link']}" for x in vulns)
        features.append(
            {
                "Name": str(pkg.get("name", "")),
                "VersionFormat": str(pkg.get("version_format") or ""),
                "NamespaceName": "",
                "AddedBy": str(env.get("introduced_in") or ""),
                "Version": str(pkg.get("version", "")),
                "BaseScores": scores,
                "CVEIds": sorted(set(_CVE.findall(names))),
                "Vulnerabilities": vulns,
            }
        )
    return {
        "Layer": {
            "Name": digest,
            "ParentName": "",
            "NamespaceName": "",
            "IndexedByVersion": 4,
            "Features": features,
        }
    }
