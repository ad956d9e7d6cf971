"""Rate-limit domain errors (no HTTP)."""

from __future__ import annotations


class RateLimitError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidOverride(RateLimitError):
    """A limit that is not a positive integer, an unknown surface (400)."""


class NamespaceNotFound(RateLimitError):
    """404."""
