"""The LDAP section (Quay's ``LDAP_*`` keys), built once by ``berth.config.load_settings``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class LdapSettings:
    """LDAP_URI, LDAP_ADMIN_DN / LDAP_ADMIN_PASSWD, LDAP_BASE_DN and LDAP_USER_RDN (lists of
    RDN parts, as Quay; a string is one DN), LDAP_SECONDARY_USER_RDNS, LDAP_UID_ATTR,
    LDAP_EMAIL_ATTR, LDAP_MEMBEROF_ATTR, the four filters, LDAP_TIMEOUT /
    LDAP_NETWORK_TIMEOUT (seconds), LDAP_CACHE_TTL (seconds a /v2 login is remembered),
    LDAP_CONNECTION_POOLING / LDAP_POOL_SIZE; BERTH_LDAP_STARTTLS upgrades an ``ldap://``
    connection with StartTLS. ``ca_paths``: Quay's ``extra_ca_certs`` (files or
    directories of PEM certificates) trusted for ``ldaps://`` and StartTLS."""

    uri: str = "ldap://localhost"
    admin_dn: str | None = None
    admin_password: str | None = None
    base_dn: str = ""
    user_rdn: str = ""
    secondary_user_rdns: tuple[str, ...] = ()
    uid_attr: str = "uid"
    email_attr: str = "mail"
    memberof_attr: str = "memberOf"
    user_filter: str | None = None
    superuser_filter: str | None = None
    restricted_user_filter: str | None = None
    global_readonly_superuser_filter: str | None = None
    allow_insecure_fallback: bool = False
    follow_referrals: bool = True
    timeout_s: float = 10.0
    network_timeout_s: float = 10.0
    cache_ttl_s: float = 5.0
    pooling: bool = True
    pool_size: int = 10
    starttls: bool = False
    ca_paths: tuple[Path, ...] = ()

    @property
    def user_bases(self) -> tuple[str, ...]:
        """Where users are searched: LDAP_USER_RDN, then each secondary RDN, under the base."""
        rdns = (self.user_rdn, *self.secondary_user_rdns)
        return tuple(",".join(p for p in (rdn, self.base_dn) if p) for rdn in rdns)


def dn_of(value: str | list[str] | None) -> str:
    """Quay writes DNs as lists of RDN parts (``["dc=example", "dc=org"]``); a string is kept."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    return ",".join(part.strip() for part in value if part.strip())


def check_filter(name: str, value: str | None) -> str | None:
    """A filter must be parenthesized, as Quay requires (``(objectClass=person)``)."""
    if value is None or value == "":
        return None
    value = value.strip()
    if not (value.startswith("(") and value.endswith(")")):
        raise ValueError(f"{name}: an LDAP filter must be enclosed in parentheses")
    if value.count("(") != value.count(")"):
        raise ValueError(f"{name}: unbalanced parentheses in the LDAP filter")
    return value
