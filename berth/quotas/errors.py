"""Quota domain errors (no HTTP): messages are Quay's, the API shows them as 400s/404s."""

from __future__ import annotations


class QuotaError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidQuota(QuotaError):
    """A limit that does not parse or is not positive, a second quota, a bad limit type or
    percentage, a duplicate limit (Quay's request_error: 400)."""


class QuotaNotFound(QuotaError):
    """No such namespace, quota or limit (404)."""
