"""Usage-log errors: each carries the message Quay answers with."""

from __future__ import annotations


class UsageLogError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidDateRange(UsageLogError):
    """The end of the range is before its start (Quay: 400)."""


class AggregateRangeTooLong(UsageLogError):
    """An aggregate over four weeks or more (Quay refuses those)."""


class InvalidExport(UsageLogError):
    """A bad callback URL or e-mail, or a bad time span (Quay: 400 with the message)."""


class ExportTooLarge(UsageLogError):
    """More entries than BERTH_EXPORT_ACTION_LOGS_MAX_ENTRIES: refused, never a half file."""


class UnknownScope(UsageLogError):
    """The namespace or repository does not exist."""
