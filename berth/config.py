"""Typed settings parsed once from Quay's ``config.yaml`` keys.

The file format is Quay's: upper-case keys (``SERVER_HOSTNAME``, ``DB_URI``,
``DISTRIBUTED_STORAGE_CONFIG``, ``FEATURE_*`` ...). Berth-only keys are prefixed
``BERTH_``. Load order: built-in defaults, then the YAML file, then the JSON object
in ``QUAY_OVERRIDE_CONFIG`` (as Quay does), then single ``BERTH_<KEY>`` or
``QUAY_<KEY>`` environment variables (values parsed as YAML scalars/JSON).

``load_settings`` reports every problem at once (``ConfigError.problems``), each
naming its key, so ``berth config validate`` can print them all and a bad config
never starts half a server. There is no module-level settings instance.

The keys reach their readers as typed sections built once here (``Settings.api``,
``.session``, ``.auth``, ``.registry``, ``.policies``): a feature's section is defined next to
the feature (``berth/<feature>/settings.py``) with its validators, which ``QuayConfig`` calls;
features never import this module. Keys of the file that Berth does not read are kept in
``Settings.unknown_keys`` (a likely typo, with suggestions, or a Quay key Berth does not use
yet, from ``berth.quaykeys``).
"""

from __future__ import annotations

import difflib
import json
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from berth.auth.settings import AuthSettings, OidcSettings, is_oidc_block, oidc_settings
from berth.builds.settings import BuildSettings, concurrency, executor_settings
from berth.buildtriggers.settings import BuildTriggerSettings, build_trigger_settings
from berth.directory.settings import LdapSettings, check_filter, dn_of
from berth.durations import parse_duration
from berth.mirroring.settings import MirrorSettings
from berth.notifications.settings import MailSettings, NotificationSettings
from berth.oci.artifacts import ArtifactRules
from berth.outbound import OutboundConfigError, OutboundSettings, build_outbound_settings
from berth.policies.settings import PolicySettings, default_prune_rule
from berth.proxycache.settings import ProxyCacheSettings
from berth.quaykeys import QUAY_KEYS
from berth.quotas.settings import QuotaSettings
from berth.ratelimits.settings import RateLimitSettings, rate_limits
from berth.registry.settings import RegistrySettings, TagSettings, check_label_prefixes
from berth.scanner.settings import UPDATE_FORMATS, ScannerSettings, UpdateSource
from berth.storage.factory import validate_storage_args
from berth.usagelogs.settings import UsageLogSettings, check_logs_model


class ConfigError(Exception):
    def __init__(self, problems: list[str], unknown_keys: tuple[UnknownKey, ...] = ()):
        self.problems = problems
        self.unknown_keys = unknown_keys
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class UnknownKey:
    """A key of the file (or of QUAY_OVERRIDE_CONFIG) that Berth does not read: one Quay has
    (a quiet note) or a typo (a warning, with the nearest keys Berth or Quay knows)."""

    key: str
    used_by_quay: bool
    suggestions: tuple[str, ...] = ()

    @property
    def message(self) -> str:
        if self.used_by_quay:
            return f"note: {self.key} is used by Quay, not by Berth yet"
        hint = f"; did you mean {' or '.join(self.suggestions)}?" if self.suggestions else ""
        return f"warning: {self.key} is not a key Berth knows{hint}"


@dataclass(frozen=True)
class StorageLocation:
    name: str
    driver: str
    args: dict[str, Any] = field(default_factory=dict)


class QuayConfig(BaseModel):
    """The keys Berth understands, with Quay's names and defaults (unknown keys are kept,
    and reported by ``load_settings``). Read through the sections of ``Settings``."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    SERVER_HOSTNAME: str = "localhost:5000"
    PREFERRED_URL_SCHEME: str = "http"
    EXTERNAL_TLS_TERMINATION: bool = False
    DB_URI: str | None = None
    DB_CONNECTION_ARGS: dict[str, Any] = Field(default_factory=dict)
    DISTRIBUTED_STORAGE_CONFIG: dict[str, list[Any]] | None = None
    DISTRIBUTED_STORAGE_PREFERENCE: list[str] | None = None
    DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS: list[str] = Field(default_factory=list)
    SUPER_USERS: list[str] = Field(default_factory=list)
    GLOBAL_READONLY_SUPER_USERS: list[str] = Field(default_factory=list)
    FEATURE_SUPERUSER_CONFIGDUMP: bool = False
    SECRET_KEY: str | None = None
    DATABASE_SECRET_KEY: str | None = None
    AUTHENTICATION_TYPE: str = "Database"
    FEATURE_REQUIRE_ENCRYPTED_BASIC_AUTH: bool = False
    INSTANCE_SERVICE_KEY_SERVICE: str = "quay"
    REGISTRY_STATE: str = "normal"
    DISABLE_PUSHES: bool = False
    V2_PAGINATION_SIZE: int = 50
    LIBRARY_NAMESPACE: str = "library"
    CREATE_PRIVATE_REPO_ON_PUSH: bool = True
    CREATE_NAMESPACE_ON_PUSH: bool = False
    DEFAULT_TAG_EXPIRATION: str = "2w"
    TAG_EXPIRATION_OPTIONS: list[str] = Field(
        default_factory=lambda: ["0s", "1d", "1w", "2w", "4w"]
    )
    FEATURE_IMMUTABLE_TAGS: bool = False
    FEATURE_IMMUTABLE_TAGS_CAN_EXPIRE: bool = False
    LABELED_EXPIRATION_MINIMUM: str = "1h"
    LABELED_EXPIRATION_MAXIMUM: str = "104w"
    LABEL_KEY_RESERVED_PREFIXES: list[str] = Field(default_factory=list)
    BUILDLOGS_REDIS: dict[str, Any] | None = None
    # Build triggers (berth/buildtriggers/settings.py).
    FEATURE_GITHUB_BUILD: bool = False
    FEATURE_GITLAB_BUILD: bool = False
    FEATURE_BITBUCKET_BUILD: bool = False
    GITHUB_TRIGGER_CONFIG: dict[str, Any] | None = None
    GITLAB_TRIGGER_CONFIG: dict[str, Any] | None = None
    BITBUCKET_TRIGGER_CONFIG: dict[str, Any] | None = None
    USER_EVENTS_REDIS: dict[str, Any] | None = None
    DATA_MODEL_CACHE_CONFIG: dict[str, Any] | None = None

    FEATURE_ANONYMOUS_ACCESS: bool = True
    FEATURE_PUBLIC_CATALOG: bool = False
    FEATURE_USER_CREATION: bool = True
    FEATURE_USER_INITIALIZE: bool = False
    FEATURE_LIBRARY_SUPPORT: bool = True
    FEATURE_EXTENDED_REPOSITORY_NAMES: bool = True
    FEATURE_REFERRERS_API: bool = True
    FEATURE_GENERAL_OCI_SUPPORT: bool = True
    ALLOWED_OCI_ARTIFACT_TYPES: dict[str, list[str]] | None = None
    FEATURE_SUPER_USERS: bool = True
    FEATURE_SUPERUSERS_FULL_ACCESS: bool = False
    FEATURE_REPO_MIRROR: bool = False
    # Repository mirroring (berth/mirroring/settings.py).
    REPO_MIRROR_INTERVAL: int = 30
    REPO_MIRROR_TLS_VERIFY: bool = True
    # Quay's default: blob downloads from S3 are redirects to presigned URLs (clients fetch
    # from the object store); true makes Berth serve the bytes itself. A storage entry's
    # own ``presigned_redirect`` argument wins over either.
    FEATURE_PROXY_STORAGE: bool = False
    FEATURE_QUOTA_MANAGEMENT: bool = False
    DEFAULT_SYSTEM_REJECT_QUOTA_BYTES: int = 0
    # Quotas (berth/quotas/settings.py): the routes need FEATURE_EDIT_QUOTA too; pushes past
    # a Reject limit are refused with FEATURE_VERIFY_QUOTA; QUOTA_BACKFILL recounts sizes.
    FEATURE_IMAGE_PULL_STATS: bool = False  # Quay 3.16's pull statistics
    FEATURE_EDIT_QUOTA: bool = True
    FEATURE_VERIFY_QUOTA: bool = True
    QUOTA_BACKFILL: bool = True
    QUOTA_TOTAL_DELAY_SECONDS: int = 1800
    QUOTA_NOTIFICATION_COOLDOWN_SECONDS: int = 86400
    FEATURE_MAILING: bool = True
    FEATURE_REQUIRE_TEAM_INVITE: bool = True
    FEATURE_RESTRICTED_USERS: bool = False
    RESTRICTED_USERS_WHITELIST: list[str] | None = None
    FEATURE_PARTIAL_USER_AUTOCOMPLETE: bool = True
    FEATURE_CHANGE_TAG_EXPIRATION: bool = True
    FEATURE_DIRECT_LOGIN: bool = True
    FEATURE_APP_SPECIFIC_TOKENS: bool = True
    APP_SPECIFIC_TOKEN_EXPIRATION: str | None = None
    FRESH_LOGIN_TIMEOUT: str = "10m"
    SESSION_TIMEOUT: str = "31d"
    SESSION_COOKIE_NAME: str = "_csrf_token"
    BROWSER_API_CALLS_XHR_ONLY: bool = True
    ROBOTS_DISALLOW: bool = False
    ROBOTS_WHITELIST: list[str] = Field(default_factory=list)
    # Auto-prune policies (routes and the worker); DEFAULT_NAMESPACE_AUTOPRUNE_POLICY
    # ({method, value} like a policy body) applies to namespaces without policies of their own.
    # FEATURE_IMMUTABLE_TAGS (above) also gates the immutability policy routes.
    FEATURE_AUTO_PRUNE: bool = False
    DEFAULT_NAMESPACE_AUTOPRUNE_POLICY: dict[str, Any] | None = None
    # Outbound requests (upstream registries, webhooks ...) to loopback, private and other
    # non-public addresses are refused unless the host name, IP address or CIDR range is
    # listed here (Quay 3.18's SSRF guard; berth/outbound/guard.py has the rules).
    SSRF_ALLOWED_HOSTS: list[str] = Field(default_factory=list)
    # Notifications (berth/notifications/settings.py): the mail server, namespace (quota)
    # notifications, recovery links' lifetime, webhook hosts refused at creation.
    MAIL_SERVER: str = "localhost"
    MAIL_PORT: int = 587
    MAIL_USE_TLS: bool = True
    MAIL_USE_AUTH: bool = False
    MAIL_USERNAME: str | None = None
    MAIL_PASSWORD: str | None = None
    MAIL_DEFAULT_SENDER: str = "support@quay.io"
    FEATURE_QUOTA_NOTIFICATIONS: bool = False
    USER_RECOVERY_TOKEN_LIFETIME: str = "30m"  # noqa: S105 (a duration, not a password)
    REGISTRY_TITLE: str = "Berth"
    WEBHOOK_HOSTNAME_BLACKLIST: list[str] = Field(default_factory=list)
    # Usage logs (berth/usagelogs/settings.py): the store, the API's features, login
    # auditing, rotation of old entries into archive files, and exports.
    LOGS_MODEL: str = "database"
    FEATURE_LOG_EXPORT: bool = True
    FEATURE_AGGREGATED_LOG_COUNT_RETRIEVAL: bool = True
    FEATURE_USER_LOG_ACCESS: bool = False
    ACTION_LOG_MAX_PAGE: int | None = None
    ACTION_LOG_AUDIT_LOGINS: bool = True
    ACTION_LOG_AUDIT_LOGIN_FAILURES: bool = False
    ACTION_LOG_AUDIT_PULL_FAILURES: bool = False
    ACTION_LOG_AUDIT_PUSH_FAILURES: bool = False
    ACTION_LOG_AUDIT_DELETE_FAILURES: bool = False
    FEATURE_ACTION_LOG_ROTATION: bool = False
    ACTION_LOG_ROTATION_THRESHOLD: str = "30d"
    ACTION_LOG_ROTATION_FREQUENCY: int | str = 12 * 3600
    ACTION_LOG_ARCHIVE_LOCATION: str | None = None
    ACTION_LOG_ARCHIVE_PATH: str = "actionlogarchive/"
    EXPORT_ACTION_LOGS_SECONDS: int = 3600

    # AUTHENTICATION_TYPE: LDAP (berth/directory/settings.py; Quay's names and defaults).
    LDAP_URI: str = "ldap://localhost"
    LDAP_ADMIN_DN: str | None = None
    LDAP_ADMIN_PASSWD: str | None = None
    LDAP_BASE_DN: list[str] | str | None = None
    LDAP_USER_RDN: list[str] | str | None = None
    LDAP_SECONDARY_USER_RDNS: list[list[str] | str] = Field(default_factory=list)
    LDAP_UID_ATTR: str = "uid"
    LDAP_EMAIL_ATTR: str = "mail"
    LDAP_MEMBEROF_ATTR: str = "memberOf"
    LDAP_USER_FILTER: str | None = None
    LDAP_SUPERUSER_FILTER: str | None = None
    LDAP_RESTRICTED_USER_FILTER: str | None = None
    LDAP_GLOBAL_READONLY_SUPERUSER_FILTER: str | None = None
    LDAP_ALLOW_INSECURE_FALLBACK: bool = False
    LDAP_FOLLOW_REFERRALS: bool = True
    LDAP_TIMEOUT: float = 10.0
    LDAP_NETWORK_TIMEOUT: float = 10.0
    LDAP_CACHE_TTL: float = 5.0
    LDAP_CONNECTION_POOLING: bool = True
    LDAP_POOL_SIZE: int = 10
    BERTH_LDAP_STARTTLS: bool = False
    # Teams bound to directory groups (berth/identity/teamsync.py).
    FEATURE_TEAM_SYNCING: bool = False
    FEATURE_ASSIGN_OAUTH_TOKEN: bool = True
    FEATURE_NONSUPERUSER_TEAM_SYNCING_SETUP: bool = False
    TEAM_RESYNC_STALE_TIME: str = "30m"
    # Proxy-cache organizations (the proxycache routes and pull-through; docs/proxy-cache.md).
    FEATURE_PROXY_CACHE: bool = False
    # Security scanning (berth/scanner/settings.py).
    FEATURE_SECURITY_SCANNER: bool = False
    FEATURE_SECURITY_NOTIFICATIONS: bool = False
    FEATURE_SECURITY_SCANNER_NOTIFY_ON_NEW_INDEX: bool = True
    NOTIFICATION_MIN_SEVERITY_ON_NEW_INDEX: str = "High"
    SECURITY_SCANNER_INDEXING_INTERVAL: int = 30
    SECURITY_SCANNER_V4_INDEXING: bool = True
    SECURITY_SCANNER_V4_INDEX_MAX_LAYER_SIZE: str | None = None
    SECURITY_SCANNER_V4_ENDPOINT: str | None = None
    SECURITY_SCANNER_V4_PSK: str | None = None
    BERTH_SCANNER_DB_DIR: str | None = None
    # The network updater (off unless sources are listed): [{url, format?}], seconds.
    BERTH_SCANNER_UPDATE_SOURCES: list[dict[str, str]] = Field(default_factory=list)
    BERTH_SCANNER_UPDATE_INTERVAL: int = 0
    BERTH_SCANNER_SBOM_REFERRER_NAMESPACES: list[str] = Field(default_factory=list)

    # Berth-only keys
    BERTH_DATA_DIR: str | None = None
    BERTH_WORKERS: int | None = None
    BERTH_MAX_MANIFEST_BYTES: int = 4 * 1024 * 1024
    BERTH_MAX_CHUNK_BYTES: int | None = None
    BERTH_UPLOAD_EXPIRY: str = "1d"
    BERTH_TOKEN_TTL: int = 3600
    BERTH_RUN_WORKERS_IN_PROCESS: bool = True
    BERTH_REDIS: dict[str, Any] | None = None
    BERTH_OPEN_REGISTRY: bool = False
    BERTH_ALLOW_CATALOG_SCOPE: bool = False
    # Garbage collection: how often the workers run a pass ("0s" turns the schedule off;
    # `berth gc` still works), and the grace period that protects blobs uploaded, re-uploaded
    # or mounted but not yet referenced by a manifest (Quay's default: one hour).
    BERTH_GC_INTERVAL: str = "1h"
    BERTH_GC_GRACE: str = "1h"
    # How often the workers run auto-prune policies (each namespace is one job).
    BERTH_AUTOPRUNE_INTERVAL: str = "1h"
    # Background jobs: how many jobs of each lane one runner runs at once (quick: deliveries
    # such as webhooks and e-mail; long: garbage collection, prunes, deletes, purges, scans,
    # mirrors; build: Dockerfile builds).
    BERTH_JOB_LANES: dict[str, int] = {"quick": 4, "long": 1, "build": 1}
    # Usage-log exports of more entries than this are refused with a message (no half file).
    BERTH_EXPORT_ACTION_LOGS_MAX_ENTRIES: int = 1_000_000

    @field_validator("LOGS_MODEL")
    @classmethod
    def _logs_model(cls, v: str) -> str:
        return check_logs_model(v)

    @field_validator("ACTION_LOG_ROTATION_THRESHOLD", "ACTION_LOG_ROTATION_FREQUENCY")
    @classmethod
    def _log_durations(cls, v: int | str) -> int | str:
        parse_duration(v)
        return v

    # Rate limits per caller and per namespace on /v2 and /api/v1 (off: none); counted in
    # the Redis of BERTH_REDIS when there is one (berth/ratelimits/settings.py).
    BERTH_RATE_LIMITS: dict[str, Any] | None = None
    # Proxy cache: a cached tag the upstream confirmed less than this long ago is served
    # without asking it again ("0s": a HEAD to the upstream on every pull by tag, as Quay);
    # the largest blob fetched from an upstream (None: no limit).
    BERTH_PROXY_CACHE_REVALIDATE: str = "1m"
    BERTH_PROXY_CACHE_MAX_BLOB_BYTES: int | None = None
    # Dockerfile builds (berth/builds/settings.py, docs/builds.md).
    FEATURE_BUILD_SUPPORT: bool = True
    FEATURE_READER_BUILD_LOGS: bool = False
    BUILD_MANAGER: list[Any] | None = None
    BERTH_BUILD_MAX_CONTEXT_BYTES: int = 256 * 1024 * 1024
    BERTH_BUILD_MAX_UNPACKED_BYTES: int = 2 * 1024 * 1024 * 1024
    BERTH_BUILD_MAX_FILES: int = 100_000
    BERTH_BUILD_MAX_QUEUED: int = 20
    BERTH_BUILD_CONCURRENCY: dict[str, Any] | None = None
    BERTH_BUILD_REGISTRY: str | None = None
    BERTH_BUILD_REGISTRY_TLS_VERIFY: bool | None = None
    BERTH_BUILD_WORK_DIR: str | None = None
    BERTH_BUILD_TOKEN_TTL: int = 3600
    BERTH_BUILD_RETRIES: int = 1

    @field_validator("PREFERRED_URL_SCHEME")
    @classmethod
    def _scheme(cls, v: str) -> str:
        if v not in ("http", "https"):
            raise ValueError("must be http or https")
        return v

    @field_validator("REGISTRY_STATE")
    @classmethod
    def _state(cls, v: str) -> str:
        if v not in ("normal", "readonly"):
            raise ValueError("must be normal or readonly")
        return v

    @field_validator("DB_URI")
    @classmethod
    def _db(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if not re.match(r"^(sqlite|postgresql|postgres)(\+\w+)?://", v):
            raise ValueError("must be a sqlite:/// or postgresql:// URI")
        return v

    @field_validator(
        "DEFAULT_TAG_EXPIRATION",
        "BERTH_UPLOAD_EXPIRY",
        "BERTH_GC_INTERVAL",
        "BERTH_GC_GRACE",
        "FRESH_LOGIN_TIMEOUT",
        "SESSION_TIMEOUT",
        "LABELED_EXPIRATION_MINIMUM",
        "LABELED_EXPIRATION_MAXIMUM",
        "BERTH_AUTOPRUNE_INTERVAL",
        "APP_SPECIFIC_TOKEN_EXPIRATION",
        "USER_RECOVERY_TOKEN_LIFETIME",
        "TEAM_RESYNC_STALE_TIME",
        "BERTH_PROXY_CACHE_REVALIDATE",
    )
    @classmethod
    def _duration(cls, v: str | None) -> str | None:
        if v:  # APP_SPECIFIC_TOKEN_EXPIRATION: None or "" is "never"
            parse_duration(v)
        return v

    @field_validator("BERTH_RATE_LIMITS")
    @classmethod
    def _rate_limits(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        rate_limits(v)
        return v

    @field_validator("BERTH_JOB_LANES")
    @classmethod
    def _job_lanes(cls, v: dict[str, int]) -> dict[str, int]:
        from berth.jobs.kinds import Lane

        names = sorted(lane.value for lane in Lane)
        unknown = sorted(set(v) - set(names))
        if unknown:
            raise ValueError(f"unknown lane {', '.join(unknown)}: lanes are {', '.join(names)}")
        if any(n < 1 for n in v.values()):
            raise ValueError("each lane runs at least 1 job at once")
        return v

    @field_validator("LABEL_KEY_RESERVED_PREFIXES")
    @classmethod
    def _label_prefixes(cls, v: list[str]) -> list[str]:
        check_label_prefixes(v)
        return v

    @field_validator("DEFAULT_NAMESPACE_AUTOPRUNE_POLICY")
    @classmethod
    def _default_prune_policy(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        default_prune_rule(v)
        return v

    @field_validator("SSRF_ALLOWED_HOSTS")
    @classmethod
    def _ssrf_allowed_hosts(cls, v: list[str]) -> list[str]:
        from berth.outbound.errors import OutboundConfigError
        from berth.outbound.guard import parse_allow_entry

        problems = []
        for entry in v:
            try:
                parse_allow_entry(entry)
            except OutboundConfigError as e:
                problems.append(str(e))
        if problems:
            raise ValueError("; ".join(problems))
        return v

    @field_validator(
        "LDAP_USER_FILTER",
        "LDAP_SUPERUSER_FILTER",
        "LDAP_RESTRICTED_USER_FILTER",
        "LDAP_GLOBAL_READONLY_SUPERUSER_FILTER",
    )
    @classmethod
    def _ldap_filter(cls, v: str | None) -> str | None:
        return check_filter("filter", v)

    @field_validator("TAG_EXPIRATION_OPTIONS")
    @classmethod
    def _durations(cls, v: list[str]) -> list[str]:
        for item in v:
            parse_duration(item)
        return v


@dataclass(frozen=True, slots=True)
class ApiSettings:
    """What /api/v1 and /v2 read that no feature section owns (the defaults are Quay's):
    the switches behind routes and answers."""

    super_users_enabled: bool = True  # FEATURE_SUPER_USERS
    superusers_full_access: bool = False  # FEATURE_SUPERUSERS_FULL_ACCESS
    user_creation: bool = True  # FEATURE_USER_CREATION
    user_initialize: bool = False  # FEATURE_USER_INITIALIZE
    direct_login: bool = True  # FEATURE_DIRECT_LOGIN
    authentication_type: str = "Database"  # AUTHENTICATION_TYPE
    mailing: bool = True  # FEATURE_MAILING
    change_tag_expiration: bool = True  # FEATURE_CHANGE_TAG_EXPIRATION
    partial_user_autocomplete: bool = True  # FEATURE_PARTIAL_USER_AUTOCOMPLETE
    extended_repository_names: bool = True  # FEATURE_EXTENDED_REPOSITORY_NAMES
    quota_management: bool = False  # FEATURE_QUOTA_MANAGEMENT
    default_system_reject_quota_bytes: int = 0  # DEFAULT_SYSTEM_REJECT_QUOTA_BYTES
    repo_mirror: bool = False  # FEATURE_REPO_MIRROR
    registry_readonly: bool = False  # REGISTRY_STATE: readonly (503 on API writes)
    browser_api_calls_xhr_only: bool = True  # BROWSER_API_CALLS_XHR_ONLY
    public_catalog: bool = False  # FEATURE_PUBLIC_CATALOG
    v2_pagination_size: int = 50  # V2_PAGINATION_SIZE
    team_syncing: bool = False  # FEATURE_TEAM_SYNCING
    nonsuperuser_team_syncing_setup: bool = False  # FEATURE_NONSUPERUSER_TEAM_SYNCING_SETUP
    assign_oauth_token: bool = True  # FEATURE_ASSIGN_OAUTH_TOKEN

    @property
    def database_auth(self) -> bool:
        return self.authentication_type == "Database"


@dataclass(frozen=True, slots=True)
class SessionSettings:
    """Browser sessions of /api/v1: SESSION_COOKIE_NAME, SESSION_TIMEOUT and
    FRESH_LOGIN_TIMEOUT (seconds)."""

    cookie_name: str = "_csrf_token"
    timeout_s: int = 31 * 86400
    fresh_login_timeout_s: int = 600


@dataclass(frozen=True)
class Settings:
    """Everything the app needs, resolved: paths absolute, secrets present, URIs async,
    durations in seconds, and the keys grouped in typed sections (``api``, ``session``,
    ``auth``, ``registry``, ``policies``, ``outbound``), each built once here. The parsed
    file itself is not kept: code reads a section, never a key.
    """

    data_dir: Path
    db_url: str  # SQLAlchemy async URL
    storage: StorageLocation
    server_hostname: str
    url_scheme: str
    secret_key: str
    database_secret_key: str
    super_users: frozenset[str]
    upload_expiry_s: int
    workers: int
    run_workers_in_process: bool
    api: ApiSettings
    session: SessionSettings
    auth: AuthSettings
    registry: RegistrySettings
    policies: PolicySettings
    outbound: OutboundSettings
    notifications: NotificationSettings = field(default_factory=NotificationSettings)
    scanner: ScannerSettings = field(default_factory=ScannerSettings)
    config_path: Path | None = None
    gc_interval_s: int = 3600
    gc_grace_s: int = 3600
    # FEATURE_MAILING and FEATURE_REQUIRE_TEAM_INVITE: humans added to a team are invited.
    require_team_invite: bool = True
    # The Redis of shared cache generations (``redis_options``), or None.
    cache_redis: dict[str, Any] | None = None
    unknown_keys: tuple[UnknownKey, ...] = ()
    # GLOBAL_READONLY_SUPER_USERS: every superuser GET, no write
    global_readonly_super_users: frozenset[str] = frozenset()
    # FEATURE_SUPERUSER_CONFIGDUMP: GET /superuser/config shows ``quay_config`` (the file's
    # keys after the environment's overrides, named in ``config_env``), secrets masked
    superuser_configdump: bool = False
    quay_config: dict[str, Any] = field(default_factory=dict)
    config_env: tuple[str, ...] = ()
    # BERTH_JOB_LANES: how many jobs of each lane one runner runs at once.
    job_lanes: dict[str, int] = field(default_factory=dict)
    # Usage logs: the store, the API's features, login auditing, rotation, exports.
    usage_logs: UsageLogSettings = field(default_factory=UsageLogSettings)
    quotas: QuotaSettings = field(default_factory=QuotaSettings)
    rate_limits: RateLimitSettings = field(default_factory=RateLimitSettings)
    # AUTHENTICATION_TYPE: LDAP: the directory (None with Database authentication).
    ldap: LdapSettings | None = None
    # TEAM_RESYNC_STALE_TIME: how often synced teams follow their groups.
    team_resync_s: int = 1800
    # ``<NAME>_LOGIN_CONFIG`` blocks with OIDC_SERVER: OpenID Connect login services.
    oidc: tuple[OidcSettings, ...] = ()
    proxy_cache: ProxyCacheSettings = field(default_factory=ProxyCacheSettings)
    build_triggers: BuildTriggerSettings = field(default_factory=BuildTriggerSettings)
    builds: BuildSettings = field(default_factory=BuildSettings)
    mirroring: MirrorSettings = field(default_factory=MirrorSettings)

    @property
    def base_url(self) -> str:
        return f"{self.url_scheme}://{self.server_hostname}"

    @property
    def is_sqlite(self) -> bool:
        return self.db_url.startswith("sqlite")

    @property
    def max_manifest_bytes(self) -> int:
        return self.registry.max_manifest_bytes

    @property
    def token_ttl_s(self) -> int:
        return self.auth.token_ttl_s

    def is_restricted_user(self, username: str) -> bool:
        """FEATURE_RESTRICTED_USERS: users outside RESTRICTED_USERS_WHITELIST may not create
        organizations (superusers are exempt: the caller checks that)."""
        return self.auth.is_restricted_user(username)


def redis_options(cfg: Any) -> dict[str, Any] | None:
    """The Redis that holds shared cache generations, from Quay's keys, or None.

    ``BERTH_REDIS`` first; then Quay's model cache, ``DATA_MODEL_CACHE_CONFIG`` with
    ``engine: redis`` (its ``redis_config.primary``; ``engine: noop`` turns the cache off);
    then ``USER_EVENTS_REDIS``, the Redis every Quay deployment's replicas already share.
    Each is Quay's ``{host, port, password, ssl}`` (``db`` and ``username`` too).
    """
    if cfg.BERTH_REDIS:
        return dict(cfg.BERTH_REDIS)
    model_cache = cfg.DATA_MODEL_CACHE_CONFIG or {}
    engine = model_cache.get("engine")
    if engine == "redis":
        primary = (model_cache.get("redis_config") or {}).get("primary")
        if primary:
            return dict(primary)
    if engine == "noop":
        return None
    return dict(cfg.USER_EVENTS_REDIS) if cfg.USER_EVENTS_REDIS else None


def _api_settings(cfg: QuayConfig) -> ApiSettings:
    return ApiSettings(
        super_users_enabled=cfg.FEATURE_SUPER_USERS,
        superusers_full_access=cfg.FEATURE_SUPERUSERS_FULL_ACCESS,
        user_creation=cfg.FEATURE_USER_CREATION,
        user_initialize=cfg.FEATURE_USER_INITIALIZE,
        direct_login=cfg.FEATURE_DIRECT_LOGIN,
        authentication_type=cfg.AUTHENTICATION_TYPE,
        mailing=cfg.FEATURE_MAILING,
        change_tag_expiration=cfg.FEATURE_CHANGE_TAG_EXPIRATION,
        partial_user_autocomplete=cfg.FEATURE_PARTIAL_USER_AUTOCOMPLETE,
        extended_repository_names=cfg.FEATURE_EXTENDED_REPOSITORY_NAMES,
        quota_management=cfg.FEATURE_QUOTA_MANAGEMENT,
        default_system_reject_quota_bytes=cfg.DEFAULT_SYSTEM_REJECT_QUOTA_BYTES,
        repo_mirror=cfg.FEATURE_REPO_MIRROR,
        registry_readonly=cfg.REGISTRY_STATE == "readonly",
        browser_api_calls_xhr_only=cfg.BROWSER_API_CALLS_XHR_ONLY,
        public_catalog=cfg.FEATURE_PUBLIC_CATALOG,
        v2_pagination_size=cfg.V2_PAGINATION_SIZE,
        team_syncing=cfg.FEATURE_TEAM_SYNCING,
        nonsuperuser_team_syncing_setup=cfg.FEATURE_NONSUPERUSER_TEAM_SYNCING_SETUP,
        assign_oauth_token=cfg.FEATURE_ASSIGN_OAUTH_TOKEN,
    )


def _session_settings(cfg: QuayConfig) -> SessionSettings:
    return SessionSettings(
        cookie_name=cfg.SESSION_COOKIE_NAME,
        timeout_s=parse_duration(cfg.SESSION_TIMEOUT),
        fresh_login_timeout_s=parse_duration(cfg.FRESH_LOGIN_TIMEOUT),
    )


def _auth_settings(cfg: QuayConfig) -> AuthSettings:
    token_expiration = cfg.APP_SPECIFIC_TOKEN_EXPIRATION
    return AuthSettings(
        issuer=cfg.INSTANCE_SERVICE_KEY_SERVICE,
        token_ttl_s=cfg.BERTH_TOKEN_TTL,
        anonymous_access=cfg.FEATURE_ANONYMOUS_ACCESS,
        open_registry=cfg.BERTH_OPEN_REGISTRY,
        allow_catalog_scope=cfg.BERTH_ALLOW_CATALOG_SCOPE,
        require_encrypted_basic_auth=cfg.FEATURE_REQUIRE_ENCRYPTED_BASIC_AUTH,
        robots_disallow=cfg.ROBOTS_DISALLOW,
        robots_whitelist=frozenset(cfg.ROBOTS_WHITELIST),
        app_specific_tokens=cfg.FEATURE_APP_SPECIFIC_TOKENS,
        app_specific_token_expiration_s=(
            parse_duration(token_expiration) if token_expiration else None
        ),
        restricted_users=cfg.FEATURE_RESTRICTED_USERS,
        restricted_users_whitelist=frozenset(cfg.RESTRICTED_USERS_WHITELIST or ()),
    )


def _registry_settings(cfg: QuayConfig) -> RegistrySettings:
    return RegistrySettings(
        library_namespace=cfg.LIBRARY_NAMESPACE if cfg.FEATURE_LIBRARY_SUPPORT else None,
        read_only=cfg.REGISTRY_STATE == "readonly" or cfg.DISABLE_PUSHES,
        create_private_on_push=cfg.CREATE_PRIVATE_REPO_ON_PUSH,
        create_namespace_on_push=cfg.CREATE_NAMESPACE_ON_PUSH,
        default_tag_expiration_s=parse_duration(cfg.DEFAULT_TAG_EXPIRATION),
        tag_expiration_options=frozenset(parse_duration(v) for v in cfg.TAG_EXPIRATION_OPTIONS),
        max_manifest_bytes=cfg.BERTH_MAX_MANIFEST_BYTES,
        artifacts=ArtifactRules.from_config(
            cfg.FEATURE_GENERAL_OCI_SUPPORT, cfg.ALLOWED_OCI_ARTIFACT_TYPES
        ),
        pull_stats=cfg.FEATURE_IMAGE_PULL_STATS,
        tags=TagSettings(
            immutable_tags=cfg.FEATURE_IMMUTABLE_TAGS,
            immutable_can_expire=cfg.FEATURE_IMMUTABLE_TAGS_CAN_EXPIRE,
            min_expiration_s=parse_duration(cfg.LABELED_EXPIRATION_MINIMUM),
            max_expiration_s=parse_duration(cfg.LABELED_EXPIRATION_MAXIMUM),
            reserved_label_prefixes=tuple(cfg.LABEL_KEY_RESERVED_PREFIXES),
        ),
    )


def _policy_settings(cfg: QuayConfig) -> PolicySettings:
    return PolicySettings(
        auto_prune=cfg.FEATURE_AUTO_PRUNE,
        default_prune_rule=default_prune_rule(cfg.DEFAULT_NAMESPACE_AUTOPRUNE_POLICY),
        autoprune_interval_s=parse_duration(cfg.BERTH_AUTOPRUNE_INTERVAL),
        immutable_tags=cfg.FEATURE_IMMUTABLE_TAGS,
    )


def _notification_settings(cfg: QuayConfig) -> NotificationSettings:
    return NotificationSettings(
        mailing=cfg.FEATURE_MAILING,
        quota_notifications=cfg.FEATURE_QUOTA_NOTIFICATIONS,
        mail=MailSettings(
            server=cfg.MAIL_SERVER,
            port=cfg.MAIL_PORT,
            use_tls=cfg.MAIL_USE_TLS,
            use_auth=cfg.MAIL_USE_AUTH,
            username=cfg.MAIL_USERNAME,
            password=cfg.MAIL_PASSWORD,
            default_sender=cfg.MAIL_DEFAULT_SENDER,
        ),
        recovery_token_lifetime_s=parse_duration(cfg.USER_RECOVERY_TOKEN_LIFETIME),
        registry_title=cfg.REGISTRY_TITLE,
        webhook_hostname_blacklist=tuple(cfg.WEBHOOK_HOSTNAME_BLACKLIST),
    )


_SIZE_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def _scanner_settings(cfg: QuayConfig, data_dir: Path, problems: list[str]) -> ScannerSettings:
    max_layer: int | None = None
    if cfg.SECURITY_SCANNER_V4_INDEX_MAX_LAYER_SIZE:
        text = cfg.SECURITY_SCANNER_V4_INDEX_MAX_LAYER_SIZE.strip().upper().removesuffix("B")
        unit = text[-1:] if text[-1:] in _SIZE_UNITS else ""
        try:
            max_layer = int(float(text[: len(text) - len(unit)]) * _SIZE_UNITS[unit])
        except ValueError:
            problems.append(
                "SECURITY_SCANNER_V4_INDEX_MAX_LAYER_SIZE: a size like 1G or 500M, not "
                f"{cfg.SECURITY_SCANNER_V4_INDEX_MAX_LAYER_SIZE!r}"
            )
    severity = cfg.NOTIFICATION_MIN_SEVERITY_ON_NEW_INDEX
    if severity not in ("Unknown", "Negligible", "Low", "Medium", "High", "Critical"):
        problems.append(
            "NOTIFICATION_MIN_SEVERITY_ON_NEW_INDEX: one of Unknown, Negligible, Low, Medium, "
            f"High, Critical, not {severity!r}"
        )
    return ScannerSettings(
        enabled=cfg.FEATURE_SECURITY_SCANNER and cfg.SECURITY_SCANNER_V4_INDEXING,
        notifications=cfg.FEATURE_SECURITY_NOTIFICATIONS,
        notify_on_new_index=cfg.FEATURE_SECURITY_SCANNER_NOTIFY_ON_NEW_INDEX,
        min_severity_on_new_index=severity,
        indexing_interval_s=cfg.SECURITY_SCANNER_INDEXING_INTERVAL,
        max_layer_size=max_layer,
        db_dir=Path(cfg.BERTH_SCANNER_DB_DIR) if cfg.BERTH_SCANNER_DB_DIR else data_dir / "vulndb",
        clair_endpoint=cfg.SECURITY_SCANNER_V4_ENDPOINT,
        clair_psk=cfg.SECURITY_SCANNER_V4_PSK,
        update_sources=_update_sources(cfg, problems),
        update_interval_s=max(0, cfg.BERTH_SCANNER_UPDATE_INTERVAL),
        sbom_referrer_namespaces=frozenset(cfg.BERTH_SCANNER_SBOM_REFERRER_NAMESPACES),
    )


def _update_sources(cfg: QuayConfig, problems: list[str]) -> tuple[UpdateSource, ...]:
    out = []
    for i, entry in enumerate(cfg.BERTH_SCANNER_UPDATE_SOURCES):
        url, fmt = str(entry.get("url", "")), entry.get("format")
        if not url.startswith(("http://", "https://")):
            problems.append(f"BERTH_SCANNER_UPDATE_SOURCES[{i}]: an http(s) url, not {url!r}")
            continue
        if fmt is not None and fmt not in UPDATE_FORMATS:
            problems.append(
                f"BERTH_SCANNER_UPDATE_SOURCES[{i}]: format one of {', '.join(UPDATE_FORMATS)}"
            )
            continue
        out.append(UpdateSource(url, fmt))
    return tuple(out)


def _usage_log_settings(cfg: QuayConfig) -> UsageLogSettings:
    return UsageLogSettings(
        logs_model=cfg.LOGS_MODEL,
        log_export=cfg.FEATURE_LOG_EXPORT,
        aggregated_counts=cfg.FEATURE_AGGREGATED_LOG_COUNT_RETRIEVAL,
        user_log_access=cfg.FEATURE_USER_LOG_ACCESS,
        max_page=cfg.ACTION_LOG_MAX_PAGE,
        audit_logins=cfg.ACTION_LOG_AUDIT_LOGINS,
        audit_login_failures=cfg.ACTION_LOG_AUDIT_LOGIN_FAILURES,
        audit_pull_failures=cfg.ACTION_LOG_AUDIT_PULL_FAILURES,
        audit_push_failures=cfg.ACTION_LOG_AUDIT_PUSH_FAILURES,
        audit_delete_failures=cfg.ACTION_LOG_AUDIT_DELETE_FAILURES,
        rotation=cfg.FEATURE_ACTION_LOG_ROTATION,
        rotation_threshold_s=parse_duration(cfg.ACTION_LOG_ROTATION_THRESHOLD),
        rotation_frequency_s=parse_duration(cfg.ACTION_LOG_ROTATION_FREQUENCY),
        archive_location=cfg.ACTION_LOG_ARCHIVE_LOCATION,
        archive_path=cfg.ACTION_LOG_ARCHIVE_PATH,
        export_link_ttl_s=cfg.EXPORT_ACTION_LOGS_SECONDS,
        export_max_entries=cfg.BERTH_EXPORT_ACTION_LOGS_MAX_ENTRIES,
    )


def _quota_settings(cfg: QuayConfig) -> QuotaSettings:
    return QuotaSettings(
        management=cfg.FEATURE_QUOTA_MANAGEMENT,
        edit=cfg.FEATURE_EDIT_QUOTA,
        verify=cfg.FEATURE_VERIFY_QUOTA,
        default_reject_bytes=max(0, cfg.DEFAULT_SYSTEM_REJECT_QUOTA_BYTES),
        backfill=cfg.QUOTA_BACKFILL,
        backfill_interval_s=max(60, cfg.QUOTA_TOTAL_DELAY_SECONDS),
        cooldown_s=max(0, cfg.QUOTA_NOTIFICATION_COOLDOWN_SECONDS),
    )


def _nearest(key: str, candidates: list[str]) -> tuple[str, ...]:
    """The closest spellings (difflib's ratio at least 0.8), the best and any as close."""
    scored = [(difflib.SequenceMatcher(None, key.upper(), c).ratio(), c) for c in candidates]
    good = sorted((score, c) for score, c in scored if score >= 0.8)
    if not good:
        return ()
    best = good[-1][0]
    return tuple(c for score, c in reversed(good) if score >= best - 0.02)[:2]


def unknown_keys(keys: list[str]) -> tuple[UnknownKey, ...]:
    """The keys Berth does not read, each a likely typo (a warning with the nearest keys
    Berth or Quay knows) or a Quay key (a note); warnings first."""
    berth_keys = set(QuayConfig.model_fields)
    candidates = sorted(berth_keys | QUAY_KEYS)
    out: list[UnknownKey] = []
    for key in keys:
        if key in berth_keys:
            continue
        if key in QUAY_KEYS:
            out.append(UnknownKey(key, used_by_quay=True))
            continue
        out.append(UnknownKey(key, used_by_quay=False, suggestions=_nearest(key, candidates)))
    return tuple(sorted(out, key=lambda k: (k.used_by_quay, k.key)))  # warnings first


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError as e:
        raise ConfigError([f"{path}: file not found"]) from e
    except yaml.YAMLError as e:
        raise ConfigError([f"{path}: not valid YAML: {e}"]) from e
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: the top level must be a mapping of KEY: value"])
    return data


def _env_overrides(env: dict[str, str], known: set[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    override = env.get("QUAY_OVERRIDE_CONFIG")
    if override:
        try:
            out.update(json.loads(override))
        except json.JSONDecodeError as e:
            raise ConfigError([f"QUAY_OVERRIDE_CONFIG: not valid JSON: {e}"]) from e
    for key, value in env.items():
        for prefix in ("BERTH_", "QUAY_"):
            if key.startswith(prefix):
                name = key if key in known else key[len(prefix) :]
                if name in known and name != "QUAY_OVERRIDE_CONFIG":
                    out[name] = yaml.safe_load(value)
    return out


def _async_db_url(uri: str) -> str:
    if uri.startswith("sqlite"):
        return re.sub(r"^sqlite(\+\w+)?://", "sqlite+aiosqlite://", uri)
    return re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql+asyncpg://", uri)


def _storage_location(cfg: QuayConfig, data_dir: Path, problems: list[str]) -> StorageLocation:
    if not cfg.DISTRIBUTED_STORAGE_CONFIG:
        return StorageLocation(
            "default", "LocalStorage", {"storage_path": str(data_dir / "storage")}
        )
    names = list(cfg.DISTRIBUTED_STORAGE_CONFIG)
    preference = cfg.DISTRIBUTED_STORAGE_PREFERENCE or names
    for name in preference:
        if name not in cfg.DISTRIBUTED_STORAGE_CONFIG:
            problems.append(
                f"DISTRIBUTED_STORAGE_PREFERENCE: {name!r} is not a key of "
                "DISTRIBUTED_STORAGE_CONFIG"
            )
    chosen = next((n for n in preference if n in cfg.DISTRIBUTED_STORAGE_CONFIG), names[0])
    entry = cfg.DISTRIBUTED_STORAGE_CONFIG[chosen]
    if (
        not isinstance(entry, list)
        or len(entry) != 2
        or not isinstance(entry[0], str)
        or not isinstance(entry[1], dict)
    ):
        problems.append(f"DISTRIBUTED_STORAGE_CONFIG.{chosen}: must be [DriverName, {{arguments}}]")
        return StorageLocation(chosen, "LocalStorage", {})
    driver, args = entry[0], dict(entry[1])
    if driver in ("S3Storage", "RadosGWStorage") and "presigned_redirect" not in args:
        args["presigned_redirect"] = not cfg.FEATURE_PROXY_STORAGE
    if driver == "LocalStorage" and "storage_path" in args:
        path = Path(args["storage_path"])
        if not path.is_absolute():
            args["storage_path"] = str(data_dir / path)
    for problem in validate_storage_args(driver, args):
        problems.append(f"DISTRIBUTED_STORAGE_CONFIG.{chosen}: {problem}")
    return StorageLocation(chosen, driver, args)


def load_settings(
    config_path: str | Path | None = None,
    *,
    data_dir: str | Path | None = None,
    env: dict[str, str] | None = None,
    persist_secrets: bool = True,
) -> Settings:
    """Parse the config once. Raises ConfigError listing every problem found."""
    env = dict(os.environ) if env is None else env
    path = Path(config_path).resolve() if config_path else None
    data: dict[str, Any] = _read_yaml(path) if path else {}
    known = set(QuayConfig.model_fields)
    overrides = _env_overrides(env, known)
    data.update(overrides)

    # OIDC login services: ``<NAME>_LOGIN_CONFIG`` keys, named by the operator
    notices = unknown_keys([str(k) for k, v in data.items() if not is_oidc_block(str(k), v)])
    problems: list[str] = []
    try:
        cfg = QuayConfig.model_validate(data)
    except ValidationError as e:
        for err in e.errors():
            loc = ".".join(str(p) for p in err["loc"])
            problems.append(f"{loc}: {err['msg']}")
        raise ConfigError(problems, notices) from e

    if data_dir is None:
        data_dir = cfg.BERTH_DATA_DIR or (path.parent / "data" if path else Path("./berth-data"))
    ddir = Path(data_dir).resolve()

    storage = _storage_location(cfg, ddir, problems)
    outbound = _outbound_settings(cfg, path, env, problems)
    scanner = _scanner_settings(cfg, ddir, problems)
    builds = _build_settings(cfg, ddir, problems)
    if cfg.AUTHENTICATION_TYPE not in ("Database", "LDAP"):
        problems.append(
            f"AUTHENTICATION_TYPE: {cfg.AUTHENTICATION_TYPE!r} is not supported yet "
            "(Database or LDAP)"
        )
    ldap = _ldap_settings(cfg, outbound, problems) if cfg.AUTHENTICATION_TYPE == "LDAP" else None
    oidc = oidc_settings({str(k): v for k, v in data.items()}, problems)
    build_triggers = build_trigger_settings(
        build_support=cfg.FEATURE_BUILD_SUPPORT,
        features={
            "github": cfg.FEATURE_GITHUB_BUILD,
            "gitlab": cfg.FEATURE_GITLAB_BUILD,
            "bitbucket": cfg.FEATURE_BITBUCKET_BUILD,
        },
        blocks={
            "github": cfg.GITHUB_TRIGGER_CONFIG,
            "gitlab": cfg.GITLAB_TRIGGER_CONFIG,
            "bitbucket": cfg.BITBUCKET_TRIGGER_CONFIG,
        },
        problems=problems,
    )
    if cfg.DB_URI and not cfg.DB_URI.startswith("sqlite"):
        for key in ("SECRET_KEY", "DATABASE_SECRET_KEY"):
            if not getattr(cfg, key):
                problems.append(f"{key}: required with a shared database (replicas must agree)")
    if problems:
        raise ConfigError(problems, notices)

    db_uri = cfg.DB_URI or f"sqlite:///{ddir / 'berth.db'}"
    secret_key = cfg.SECRET_KEY or _persisted_secret(ddir, "secret_key", persist_secrets)
    db_secret = cfg.DATABASE_SECRET_KEY or _persisted_secret(
        ddir, "database_secret_key", persist_secrets
    )
    # The embedded default is one server process (its cache makes reads fast and it keeps
    # the footprint small). A shared database gets one process per two cores: a process
    # keeps one core busy, and the database, S3 and Redis it talks to need CPU too (on
    # the two-core reference machine a second process pushed no faster and cost ~125 MB;
    # regbench, docs/performance.md). Replicas scale out beyond that.
    embedded = db_uri.startswith("sqlite")
    workers = cfg.BERTH_WORKERS or (1 if embedded else max(1, (os.cpu_count() or 1) // 2))
    return Settings(
        data_dir=ddir,
        db_url=_async_db_url(db_uri),
        storage=storage,
        server_hostname=cfg.SERVER_HOSTNAME,
        url_scheme=cfg.PREFERRED_URL_SCHEME,
        secret_key=secret_key,
        database_secret_key=db_secret,
        super_users=frozenset(cfg.SUPER_USERS),
        upload_expiry_s=parse_duration(cfg.BERTH_UPLOAD_EXPIRY),
        workers=workers,
        run_workers_in_process=cfg.BERTH_RUN_WORKERS_IN_PROCESS,
        api=_api_settings(cfg),
        session=_session_settings(cfg),
        auth=_auth_settings(cfg),
        registry=_registry_settings(cfg),
        policies=_policy_settings(cfg),
        outbound=outbound,
        notifications=_notification_settings(cfg),
        scanner=scanner,
        config_path=path,
        gc_interval_s=parse_duration(cfg.BERTH_GC_INTERVAL),
        gc_grace_s=parse_duration(cfg.BERTH_GC_GRACE),
        require_team_invite=cfg.FEATURE_MAILING and cfg.FEATURE_REQUIRE_TEAM_INVITE,
        cache_redis=redis_options(cfg),
        unknown_keys=notices,
        global_readonly_super_users=frozenset(cfg.GLOBAL_READONLY_SUPER_USERS),
        superuser_configdump=cfg.FEATURE_SUPERUSER_CONFIGDUMP,
        quay_config=dict(data),
        config_env=tuple(sorted(overrides)),
        job_lanes=dict(cfg.BERTH_JOB_LANES),
        build_triggers=build_triggers,
        mirroring=MirrorSettings(
            enabled=cfg.FEATURE_REPO_MIRROR,
            interval_s=max(1, cfg.REPO_MIRROR_INTERVAL),
            tls_verify=cfg.REPO_MIRROR_TLS_VERIFY,
        ),
        proxy_cache=ProxyCacheSettings(
            enabled=cfg.FEATURE_PROXY_CACHE,
            revalidate_after_s=parse_duration(cfg.BERTH_PROXY_CACHE_REVALIDATE),
            max_blob_bytes=cfg.BERTH_PROXY_CACHE_MAX_BLOB_BYTES,
        ),
        usage_logs=_usage_log_settings(cfg),
        quotas=_quota_settings(cfg),
        rate_limits=RateLimitSettings(
            rate_limits(cfg.BERTH_RATE_LIMITS),
            redis_options(cfg),
            enabled=cfg.BERTH_RATE_LIMITS is not None,
        ),
        ldap=ldap,
        team_resync_s=parse_duration(cfg.TEAM_RESYNC_STALE_TIME),
        oidc=oidc,
        builds=builds,
    )


def _build_settings(cfg: QuayConfig, data_dir: Path, problems: list[str]) -> BuildSettings:
    total, per_namespace = concurrency(cfg.BERTH_BUILD_CONCURRENCY, problems)
    tls = cfg.BERTH_BUILD_REGISTRY_TLS_VERIFY
    return BuildSettings(
        enabled=cfg.FEATURE_BUILD_SUPPORT,
        reader_logs=cfg.FEATURE_READER_BUILD_LOGS,
        executor=executor_settings(cfg.BUILD_MANAGER, problems),
        max_context_bytes=cfg.BERTH_BUILD_MAX_CONTEXT_BYTES,
        max_unpacked_bytes=cfg.BERTH_BUILD_MAX_UNPACKED_BYTES,
        max_files=cfg.BERTH_BUILD_MAX_FILES,
        max_queued=cfg.BERTH_BUILD_MAX_QUEUED,
        max_running=total,
        max_running_per_namespace=per_namespace,
        registry=cfg.BERTH_BUILD_REGISTRY or cfg.SERVER_HOSTNAME,
        registry_tls_verify=cfg.PREFERRED_URL_SCHEME == "https" if tls is None else tls,
        work_dir=Path(cfg.BERTH_BUILD_WORK_DIR)
        if cfg.BERTH_BUILD_WORK_DIR
        else data_dir / "builds",
        token_ttl_s=min(max(60, cfg.BERTH_BUILD_TOKEN_TTL), 3600),
        retries=max(0, cfg.BERTH_BUILD_RETRIES),
    )


def _ldap_settings(
    cfg: QuayConfig, outbound: OutboundSettings, problems: list[str]
) -> LdapSettings:
    if not re.match(r"^ldaps?://", cfg.LDAP_URI, re.IGNORECASE):
        problems.append("LDAP_URI: must be an ldap:// or ldaps:// URI")
    if not cfg.LDAP_BASE_DN:
        problems.append("LDAP_BASE_DN: required with AUTHENTICATION_TYPE: LDAP")
    if not cfg.LDAP_ADMIN_DN:
        problems.append("LDAP_ADMIN_DN: required with AUTHENTICATION_TYPE: LDAP")
    if cfg.LDAP_POOL_SIZE < 1:
        problems.append("LDAP_POOL_SIZE: must be at least 1")
    return LdapSettings(
        uri=cfg.LDAP_URI,
        admin_dn=cfg.LDAP_ADMIN_DN,
        admin_password=cfg.LDAP_ADMIN_PASSWD,
        base_dn=dn_of(cfg.LDAP_BASE_DN),
        user_rdn=dn_of(cfg.LDAP_USER_RDN),
        secondary_user_rdns=tuple(dn_of(r) for r in cfg.LDAP_SECONDARY_USER_RDNS),
        uid_attr=cfg.LDAP_UID_ATTR,
        email_attr=cfg.LDAP_EMAIL_ATTR,
        memberof_attr=cfg.LDAP_MEMBEROF_ATTR,
        user_filter=cfg.LDAP_USER_FILTER,
        superuser_filter=cfg.LDAP_SUPERUSER_FILTER,
        restricted_user_filter=cfg.LDAP_RESTRICTED_USER_FILTER,
        global_readonly_superuser_filter=cfg.LDAP_GLOBAL_READONLY_SUPERUSER_FILTER,
        allow_insecure_fallback=cfg.LDAP_ALLOW_INSECURE_FALLBACK,
        follow_referrals=cfg.LDAP_FOLLOW_REFERRALS,
        timeout_s=cfg.LDAP_TIMEOUT,
        network_timeout_s=cfg.LDAP_NETWORK_TIMEOUT,
        cache_ttl_s=cfg.LDAP_CACHE_TTL,
        pooling=cfg.LDAP_CONNECTION_POOLING,
        pool_size=max(1, cfg.LDAP_POOL_SIZE),
        starttls=cfg.BERTH_LDAP_STARTTLS,
        ca_paths=outbound.extra_ca_paths,
    )


def _outbound_settings(
    cfg: QuayConfig, path: Path | None, env: dict[str, str], problems: list[str]
) -> OutboundSettings:
    """SSRF_ALLOWED_HOSTS, the HTTP(S)_PROXY/NO_PROXY environment, and Quay's
    ``extra_ca_certs`` directory beside config.yaml (when there is one)."""
    extra_ca = path.parent / "extra_ca_certs" if path else None
    try:
        return build_outbound_settings(
            allowed_hosts=cfg.SSRF_ALLOWED_HOSTS,
            proxy_env=env,
            extra_ca_paths=[extra_ca] if extra_ca is not None and extra_ca.is_dir() else [],
        )
    except OutboundConfigError as e:
        problems.append(str(e))
        return build_outbound_settings()


def _persisted_secret(data_dir: Path, name: str, persist: bool) -> str:
    """Embedded mode: generate a secret once and keep it in the data dir."""
    target = data_dir / "secrets" / name
    if target.exists():
        return target.read_text().strip()
    value = secrets.token_urlsafe(48)
    if persist:
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = target.with_suffix(".tmp")
        tmp.write_text(value)
        tmp.chmod(0o600)
        try:
            os.link(tmp, target)  # first writer wins if two processes race
        except FileExistsError:
            value = target.read_text().strip()
        finally:
            tmp.unlink(missing_ok=True)
    return value
