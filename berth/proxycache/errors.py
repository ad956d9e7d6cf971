"""Domain errors of the proxy cache (no HTTP: the /api/v1 adapter gives Quay's answers)."""

from __future__ import annotations


class ProxyCacheError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AlreadyConfigured(ProxyCacheError):
    """Quay: 400 "Proxy Cache Configuration already exists" (no update: delete, recreate)."""


class NotConfigured(ProxyCacheError):
    """No proxy-cache configuration on the organization (DELETE: 404)."""


class InvalidUpstreamConfig(ProxyCacheError):
    """The upstream registry is not a registry address, or its host is not allowed
    (SSRF guard) or does not resolve; the message is Quay's."""


class ValidationFailed(ProxyCacheError):
    """validateproxycache: the upstream refused the credentials or could not be reached."""
