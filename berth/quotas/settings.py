"""The quota section: Quay's keys, built once by ``berth.config.load_settings``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class QuotaSettings:
    """FEATURE_QUOTA_MANAGEMENT and FEATURE_EDIT_QUOTA (with FEATURE_SUPER_USERS: the
    routes), FEATURE_VERIFY_QUOTA (refuse pushes past a Reject limit),
    DEFAULT_SYSTEM_REJECT_QUOTA_BYTES (the limit of namespaces without a quota; 0: none),
    QUOTA_BACKFILL (recount every size when the workers start, then every
    QUOTA_TOTAL_DELAY_SECONDS), QUOTA_NOTIFICATION_COOLDOWN_SECONDS (one quota event per
    namespace and kind at most this often)."""

    management: bool = False
    edit: bool = True
    verify: bool = True
    default_reject_bytes: int = 0
    backfill: bool = True
    backfill_interval_s: int = 1800
    cooldown_s: int = 86400

    @property
    def enforced(self) -> bool:
        """Do pushes go through the quota check?"""
        return self.management and self.verify
