"""The authentication section: who may log in to the registry and what anonymous callers get.

Built once by ``berth.config.load_settings``; this package never reads the config file.
The defaults are Quay's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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


@dataclass(frozen=True)
class OidcSettings:
    """One ``<NAME>_LOGIN_CONFIG`` block: ``service_id`` is NAME lower-cased (Quay's route
    segment, ``/oauth2/<service_id>/callback``)."""

    service_id: str
    service_name: str
    issuer: str  # OIDC_SERVER
    client_id: str
    client_secret: str
    scopes: tuple[str, ...] = ("openid", "email", "profile")
    group_claim: str | None = None  # PREFERRED_GROUP_CLAIM_NAME
    superuser_group: str | None = None  # SUPERUSER_GROUP (Berth reads it at sign-in)
    service_icon: str | None = None  # SERVICE_ICON: an image URL for the sign-in button


def oidc_settings(data: dict[str, Any], problems: list[str]) -> tuple[OidcSettings, ...]:
    """The ``<NAME>_LOGIN_CONFIG`` blocks with an ``OIDC_SERVER`` (Quay's OIDC login
    services), each a problem when a required key is missing."""
    out: list[OidcSettings] = []
    for key, block in data.items():
        if not is_oidc_block(key, block):
            continue
        service_id = key[: -len("_LOGIN_CONFIG")].lower()
        missing = [k for k in ("CLIENT_ID", "CLIENT_SECRET") if not block.get(k)]
        if missing:
            problems.append(f"{key}: {', '.join(missing)} required")
            continue
        server = str(block["OIDC_SERVER"])
        if not server.startswith(("https://", "http://")):
            problems.append(f"{key}.OIDC_SERVER: must be an http(s) URL")
            continue
        scopes = block.get("LOGIN_SCOPES") or ["openid", "email", "profile"]
        out.append(
            OidcSettings(
                service_id=service_id,
                service_name=str(block.get("SERVICE_NAME") or service_id),
                issuer=server.rstrip("/"),
                client_id=str(block["CLIENT_ID"]),
                client_secret=str(block["CLIENT_SECRET"]),
                scopes=tuple(str(s) for s in scopes),
                group_claim=block.get("PREFERRED_GROUP_CLAIM_NAME"),
                superuser_group=block.get("SUPERUSER_GROUP"),
                service_icon=_icon(block.get("SERVICE_ICON"), key, problems),
            )
        )
    return tuple(out)


def _icon(value: Any, key: str, problems: list[str]) -> str | None:
    """SERVICE_ICON: an http(s) URL or a path of this site (the sign-in button's image)."""
    if not value:
        return None
    icon = str(value)
    local = icon.startswith("/") and not icon.startswith("//")
    if local or icon.startswith(("https://", "http://")):
        return icon
    problems.append(f"{key}.SERVICE_ICON: must be an http(s) URL or a path")
    return None


def is_oidc_block(key: str, value: Any) -> bool:
    return key.endswith("_LOGIN_CONFIG") and isinstance(value, dict) and "OIDC_SERVER" in value
