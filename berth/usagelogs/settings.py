"""The usage-logs configuration section (Quay's keys) and its validator.

Built once by ``berth.config.load_settings``; this package never reads the config file.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The ``LOGS_MODEL`` values Berth implements. Quay also has ``elasticsearch``, ``splunk``
#: and ``transition_*``: those are a configuration error until someone adds them.
LOGS_MODELS = ("database",)


@dataclass(frozen=True, slots=True)
class UsageLogSettings:
    """Quay's usage-log keys:

    - ``LOGS_MODEL`` (``database``), the store the logs API reads;
    - ``FEATURE_LOG_EXPORT`` (export routes), ``FEATURE_AGGREGATED_LOG_COUNT_RETRIEVAL``
      (``aggregatelogs`` routes), ``FEATURE_USER_LOG_ACCESS`` (users may read the logs of
      their own namespace), ``ACTION_LOG_MAX_PAGE`` (how many pages a ``next_page`` walk
      may go; None: no cap);
    - ``ACTION_LOG_AUDIT_LOGINS`` / ``ACTION_LOG_AUDIT_LOGIN_FAILURES``: log sign-ins and
      refused sign-ins;
    - ``ACTION_LOG_AUDIT_PULL_FAILURES`` / ``_PUSH_FAILURES`` / ``_DELETE_FAILURES``: log a
      registry pull, push or delete refused for want of access (``pull_repo_failed``,
      ``push_repo_failed``, ``delete_tag_failed``);
    - ``FEATURE_ACTION_LOG_ROTATION``, ``ACTION_LOG_ROTATION_THRESHOLD`` (seconds),
      ``ACTION_LOG_ROTATION_FREQUENCY`` (seconds), ``ACTION_LOG_ARCHIVE_LOCATION`` and
      ``ACTION_LOG_ARCHIVE_PATH``: entries older than the threshold move to archive files;
    - ``EXPORT_ACTION_LOGS_SECONDS`` (how long an export's link works) and Berth's
      ``BERTH_EXPORT_ACTION_LOGS_MAX_ENTRIES`` (a larger export is refused, not cut).
    """

    logs_model: str = "database"
    log_export: bool = True
    aggregated_counts: bool = True
    user_log_access: bool = False
    max_page: int | None = None
    audit_logins: bool = True
    audit_login_failures: bool = False
    audit_pull_failures: bool = False
    audit_push_failures: bool = False
    audit_delete_failures: bool = False
    rotation: bool = False
    rotation_threshold_s: int = 30 * 86400
    rotation_frequency_s: int = 12 * 3600
    archive_location: str | None = None
    archive_path: str = "actionlogarchive/"
    export_link_ttl_s: int = 3600
    export_max_entries: int = 1_000_000
    rotation_batch: int = 5000


def check_logs_model(value: str) -> str:
    """``LOGS_MODEL``: one Berth implements (ValueError names the others)."""
    if value not in LOGS_MODELS:
        raise ValueError(
            f"{value!r} is not supported by Berth (supported: {', '.join(LOGS_MODELS)}); "
            "Quay's elasticsearch, splunk and transition_* log stores are not implemented"
        )
    return value
