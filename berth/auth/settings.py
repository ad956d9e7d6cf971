"""The authentication section: who may log in to the registry and what anonymous callers get.

Built once by ``berth.config.load_settings``; this package never reads the config file.
The defaults are Quay's.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AuthSettings:
    """INSTANCE_SERVICE_KEY_SERVICE (``issuer`` of registry tokens), BERTH_TOKEN_TTL,
    FEATURE_ANONYMOUS_ACCESS, BERTH_OPEN_REGISTRY, BERTH_ALLOW_CATALOG_SCOPE,
    FEATURE_REQUIRE_ENCRYPTED_BASIC_AUTH, ROBOTS_DISALLOW / ROBOTS_WHITELIST,
    FEATURE_APP_SPECIFIC_TOKENS / APP_SPECIFIC_TOKEN_EXPIRATION (seconds; None: never) and
    FEATURE_RESTRICTED_USERS / RESTRICTED_USERS_WHITELIST."""

    issuer: str = "quay"
    token_ttl_s: int = 3600
    anonymous_access: bool = True
    open_registry: bool = False
    allow_catalog_scope: bool = False
    require_encrypted_basic_auth: bool = False
    robots_disallow: bool = False
    robots_whitelist: frozenset[str] = frozenset()
    app_specific_tokens: bool = True
    app_specific_token_expiration_s: int | None = None
    restricted_users: bool = False
    restricted_users_whitelist: frozenset[str] = frozenset()

    def is_restricted_user(self, username: str) -> bool:
        """FEATURE_RESTRICTED_USERS: users outside RESTRICTED_USERS_WHITELIST may not create
        organizations (superusers are exempt: the caller checks that)."""
        return self.restricted_users and username not in self.restricted_users_whitelist
