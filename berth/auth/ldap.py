"""AUTHENTICATION_TYPE: LDAP: the directory checks passwords; Berth keeps the accounts.

A sign-in (``/api/v1/signin``, a registry login, an encrypted password) binds as the
directory user after finding it with the admin bind; on success the Berth user bound to that
directory account is used, created on first sign-in with the directory's e-mail. Quay's
filters decide the rest: LDAP_USER_FILTER who may sign in at all, LDAP_SUPERUSER_FILTER the
stored superuser flag (updated at each sign-in), LDAP_GLOBAL_READONLY_SUPERUSER_FILTER the
stored global read-only superuser flag (likewise), LDAP_RESTRICTED_USER_FILTER a restricted
principal. A login that succeeded is remembered LDAP_CACHE_TTL seconds (keyed by an HMAC of
name and password), so a registry client's bursts of token requests cost one bind.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable

from berth.auth.errors import IdentityProviderUnavailable, InvalidCredentials
from berth.auth.providers import ExternalUser
from berth.authz import Principal
from berth.directory.errors import DirectoryRefused, DirectoryUnavailable
from berth.directory.ldap import DirectoryRoles, DirectoryUser, LdapDirectory
from berth.identity.errors import AccountError
from berth.identity.federated import FederatedAccounts, LinkedUser

log = logging.getLogger(__name__)

SERVICE = "ldap"
UNAVAILABLE = "The LDAP directory could not be reached; please try again later"

# Called after each successful directory sign-in (team sync of that user's teams).
SignInHook = Callable[[LinkedUser, DirectoryUser], Awaitable[None]]


class LdapProvider:
    name = "LDAP"
    federated = True

    def __init__(
        self,
        directory: LdapDirectory,
        accounts: FederatedAccounts,
        *,
        secret_key: str,
        super_users: frozenset[str] = frozenset(),
        readonly_super_users: frozenset[str] = frozenset(),
        cache_ttl_s: float = 5.0,
        on_sign_in: SignInHook | None = None,
    ) -> None:
        self.directory = directory
        self.accounts = accounts
        self.super_users = super_users
        self.readonly_super_users = readonly_super_users
        self.cache_ttl_s = cache_ttl_s
        self.on_sign_in = on_sign_in
        self._key = secret_key.encode()
        self._cache: dict[bytes, tuple[float, Principal]] = {}

    def _cache_key(self, username: str, password: str) -> bytes:
        return hmac.new(self._key, f"{username}\0{password}".encode(), hashlib.sha256).digest()

    async def authenticate(self, username: str, password: str, *, ip: str | None) -> Principal:
        key = self._cache_key(username, password)
        hit = self._cache.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        try:
            found = await self.directory.verify(username, password)
            roles = await self.directory.roles(found)
        except DirectoryRefused as e:
            raise InvalidCredentials() from e
        except DirectoryUnavailable as e:
            log.warning("LDAP sign-in of %r refused: %s", username, e)
            raise IdentityProviderUnavailable(UNAVAILABLE) from e
        user = await self._link(found, roles, ip=ip)
        if not user.enabled:
            raise InvalidCredentials("User account is disabled")
        if self.on_sign_in is not None:
            await self.on_sign_in(user, found)
        principal = Principal(
            kind="user",
            name=user.username,
            is_superuser=user.superuser_flag or user.username in self.super_users,
            user_id=user.id,
            restricted=roles.restricted,
            readonly_superuser=user.readonly_superuser_flag
            or user.username in self.readonly_super_users,
        )
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[key] = (time.monotonic() + self.cache_ttl_s, principal)
        return principal

    async def _link(
        self, found: DirectoryUser, roles: DirectoryRoles, *, ip: str | None
    ) -> LinkedUser:
        username = found.uid.lower()
        try:
            return await self.accounts.link(
                SERVICE,
                found.uid,
                username,
                email=found.email,
                superuser=roles.superuser,
                readonly_superuser=roles.global_readonly_superuser,
                metadata={"dn": found.dn},
                ip=ip,
            )
        except AccountError as e:
            raise InvalidCredentials(
                f"The directory user {found.uid!r} cannot be used in this registry: {e}"
            ) from e

    async def search(self, prefix: str, limit: int = 20) -> list[ExternalUser]:
        try:
            found = await self.directory.search(prefix, limit)
        except (DirectoryUnavailable, DirectoryRefused):
            return []
        return [ExternalUser(u.uid.lower(), u.email) for u in found]

    async def link(self, username: str, *, ip: str | None = None) -> int | None:
        try:
            found = await self.directory.lookup(username)
            if found is None:
                return None
            roles = await self.directory.roles(found)
        except DirectoryUnavailable as e:
            log.warning("LDAP lookup of %r failed: %s", username, e)
            raise IdentityProviderUnavailable(UNAVAILABLE) from e
        return (await self._link(found, roles, ip=ip)).id

    def forget(self) -> None:
        """Drop the remembered logins (tests, and after a directory change is known)."""
        self._cache.clear()
