"""Severities normalised to Quay's names (``util/secscan.PRIORITY_LEVELS``)."""

from __future__ import annotations

import math

LEVELS = ("Unknown", "Negligible", "Low", "Medium", "High", "Critical")
# The index Quay's notifications store as their ``level`` (Critical 0 ... Unknown 5).
INDEX = {"Critical": 0, "High": 1, "Medium": 2, "Low": 3, "Negligible": 4, "Unknown": 5}
SCORE = {"Critical": 10, "High": 9, "Medium": 6, "Low": 3, "Negligible": 1, "Unknown": 0}

# Debian's tracker urgencies, literally (decision: not Clair's one-step-up shift).
DEBIAN = {
    "unimportant": "Negligible",
    "low": "Low",
    "medium": "Medium",
    "high": "High",
}
# GitHub advisories in OSV: database_specific.severity.
GHSA = {
    "LOW": "Low",
    "MODERATE": "Medium",
    "MEDIUM": "Medium",
    "HIGH": "High",
    "CRITICAL": "Critical",
}


def from_score(score: float) -> str:
    """CVSS v3 bands."""
    if score <= 0:
        return "Negligible"
    if score < 4:
        return "Low"
    if score < 7:
        return "Medium"
    if score < 9:
        return "High"
    return "Critical"


_W = {
    "AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2},
    "AC": {"L": 0.77, "H": 0.44},
    "UI": {"N": 0.85, "R": 0.62},
    "C": {"H": 0.56, "L": 0.22, "N": 0.0},
    "I": {"H": 0.56, "L": 0.22, "N": 0.0},
    "A": {"H": 0.56, "L": 0.22, "N": 0.0},
}


def _roundup(x: float) -> float:
    i = round(x * 100000)
    return i / 100000.0 if i % 10000 == 0 else (math.floor(i / 10000) + 1) / 10.0


def cvss3_base_score(vector: str) -> float | None:
    """The CVSS v3.x base score of a vector (``CVSS:3.1/AV:N/...``), ``None`` if malformed."""
    if not vector.startswith("CVSS:3."):
        return None
    try:
        m = dict(part.split(":", 1) for part in vector.split("/")[1:])
        scope_changed = m["S"] == "C"
        pr = {"N": 0.85, "L": 0.68 if scope_changed else 0.62, "H": 0.5 if scope_changed else 0.27}[
            m["PR"]
        ]
        iss = 1 - (1 - _W["C"][m["C"]]) * (1 - _W["I"][m["I"]]) * (1 - _W["A"][m["A"]])
        impact = 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15 if scope_changed else 6.42 * iss
        expl = 8.22 * _W["AV"][m["AV"]] * _W["AC"][m["AC"]] * pr * _W["UI"][m["UI"]]
    except (KeyError, ValueError):
        return None
    if impact <= 0:
        return 0.0
    raw = 1.08 * (impact + expl) if scope_changed else impact + expl
    return _roundup(min(raw, 10.0))
