"""Repository mirroring's configuration section (FEATURE_REPO_MIRROR and its keys).

Built once by ``berth.config.load_settings``; this package never reads the config file.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MirrorSettings:
    """FEATURE_REPO_MIRROR: the mirror routes, ``changestate`` and scheduled syncs.
    REPO_MIRROR_INTERVAL (seconds, Quay's 30): how often the scheduler looks for mirrors
    due. REPO_MIRROR_TLS_VERIFY (Quay's true): when false, no mirror verifies TLS whatever
    its ``verify_tls`` says."""

    enabled: bool = False
    interval_s: int = 30
    tls_verify: bool = True
