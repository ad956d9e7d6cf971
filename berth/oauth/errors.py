"""OAuth errors (no HTTP in them)."""

from __future__ import annotations


class OAuthError(Exception):
    pass


class ApplicationNotFound(OAuthError):
    def __init__(self, client_id: str) -> None:
        super().__init__(f"no OAuth application with client id {client_id!r}")
        self.client_id = client_id


class InvalidScopes(OAuthError):
    def __init__(self, scope: str) -> None:
        super().__init__(f"invalid scope string {scope!r}")
        self.scope = scope


class RedirectMismatch(OAuthError):
    def __init__(self, redirect_uri: str) -> None:
        super().__init__(f"redirect_uri {redirect_uri!r} is not registered for the application")
        self.redirect_uri = redirect_uri


class AppTokenNotFound(OAuthError):
    def __init__(self, uuid: str) -> None:
        super().__init__(f"no app-specific token {uuid!r}")
        self.uuid = uuid
