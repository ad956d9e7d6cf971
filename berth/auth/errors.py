"""Authentication and authorization errors (no HTTP here; the edge translates them)."""

from __future__ import annotations


class AuthError(Exception):
    """Base class."""


class InvalidCredentials(AuthError):
    """Credentials were sent but are wrong (unknown user, bad password, disabled account)."""

    def __init__(self, reason: str = "Invalid Username or Password") -> None:
        super().__init__(reason)
        self.reason = reason


class IdentityProviderUnavailable(InvalidCredentials):
    """The identity provider (the LDAP directory) could not be asked: nobody is signed in,
    and the reason says why."""


class InvalidToken(AuthError):
    """A bearer token that is malformed, forged, expired or for another audience."""

    def __init__(self, reason: str = "Invalid bearer token") -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidScope(AuthError):
    """A scope string /v2/auth cannot decode (Quay: 400 INVALID_REQUEST)."""

    def __init__(self, scope: str) -> None:
        super().__init__(f"Unable to decode repository and actions: {scope}")
        self.scope = scope


class TooManyAttempts(AuthError):
    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"Too many login attempts. Please try again in {retry_after} seconds "
            "(an administrator can set a new password: berth admin set-password)."
        )
        self.retry_after = retry_after
