"""Identity providers: who checks a user's password, chosen by AUTHENTICATION_TYPE.

``IdentityProvider`` is the one interface: ``Database`` (the users table's argon2 hashes,
with the login backoff; ``berth.auth.services.AuthService`` holds that logic) and ``LDAP``
(``berth.auth.ldap.LdapProvider``: the directory decides, users are created on first
sign-in). The composition root builds the configured one and hands it to ``AuthService``;
sign-in on /api/v1, registry logins on /v2 and encrypted passwords all go through it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from berth.authz import Principal


@dataclass(frozen=True)
class ExternalUser:
    """A user of the provider (entity search): its name and e-mail, and whether a Berth
    account exists for it yet."""

    username: str
    email: str | None


class IdentityProvider(Protocol):
    """How the users' passwords are checked and where the users come from."""

    name: str  # AUTHENTICATION_TYPE: "Database" | "LDAP"

    @property
    def federated(self) -> bool:
        """Users come from outside: no sign-up, no password changes in Berth."""
        ...

    async def authenticate(self, username: str, password: str, *, ip: str | None) -> Principal:
        """The user's principal, or InvalidCredentials (with the reason) / TooManyAttempts."""
        ...

    async def search(self, prefix: str, limit: int = 20) -> list[ExternalUser]:
        """Users of the provider whose name starts with ``prefix`` ([] for Database)."""
        ...

    async def link(self, username: str, *, ip: str | None = None) -> int | None:
        """The Berth user id of the provider's user ``username``, created now if needed;
        None when the provider has no such user (or keeps none: Database)."""
        ...


class DatabaseProvider:
    """AUTHENTICATION_TYPE: Database: the password hash stored with the user."""

    name = "Database"
    federated = False

    def __init__(self, authenticate: Callable[[str, str, str | None], Awaitable[Principal]]):
        self._authenticate = authenticate

    async def authenticate(self, username: str, password: str, *, ip: str | None) -> Principal:
        return await self._authenticate(username, password, ip)

    async def search(self, prefix: str, limit: int = 20) -> list[ExternalUser]:
        return []

    async def link(self, username: str, *, ip: str | None = None) -> int | None:
        return None
