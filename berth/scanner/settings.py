"""The scanner's configuration section, from Quay's keys (``settings.scanner``).

FEATURE_SECURITY_SCANNER turns the scanner on (the security route, indexing of new pushes);
FEATURE_SECURITY_NOTIFICATIONS lets findings fire ``vulnerability_found``;
FEATURE_SECURITY_SCANNER_NOTIFY_ON_NEW_INDEX and NOTIFICATION_MIN_SEVERITY_ON_NEW_INDEX are
Quay's new-index notifications; SECURITY_SCANNER_V4_INDEX_MAX_LAYER_SIZE caps a layer's
stored size (over it: ``manifest_layer_too_large``). SECURITY_SCANNER_V4_ENDPOINT and
SECURITY_SCANNER_V4_PSK: an existing Clair v4 instead of the embedded scanner (clair.py).
BERTH_SCANNER_DB_DIR: where the vulnerability database lives (``<data dir>/vulndb``).
BERTH_SCANNER_UPDATE_SOURCES (``[{url, format}]``) and BERTH_SCANNER_UPDATE_INTERVAL (seconds;
0: only ``berth scanner update``): the network updater, off by default (offline first).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from berth.scanner.layers import Limits

# What a downloaded file may be (vulndb's bundle formats); None: recognised by its content.
UPDATE_FORMATS = ("osv", "osv-zip", "debian-tracker", "alpine-secdb", "csaf-vex")


@dataclass(frozen=True, slots=True)
class UpdateSource:
    url: str
    format: str | None = None


@dataclass(frozen=True, slots=True)
class ScannerSettings:
    enabled: bool = False
    notifications: bool = False
    notify_on_new_index: bool = True
    min_severity_on_new_index: str = "High"
    indexing_interval_s: int = 30
    max_layer_size: int | None = None
    db_dir: Path = Path("berth-data/vulndb")
    clair_endpoint: str | None = None
    clair_psk: str | None = None
    limits: Limits = field(default_factory=Limits)
    update_sources: tuple[UpdateSource, ...] = ()
    update_interval_s: int = 0
    # Namespaces whose newly indexed manifests get their SPDX SBOM attached as an OCI
    # referrer ("*": every namespace). BERTH_SCANNER_SBOM_REFERRER_NAMESPACES.
    sbom_referrer_namespaces: frozenset[str] = frozenset()

    def attaches_sbom(self, namespace: str) -> bool:
        return "*" in self.sbom_referrer_namespaces or namespace in self.sbom_referrer_namespaces
