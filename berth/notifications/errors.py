"""Notification domain errors (no HTTP): the /api/v1 adapter turns them into Quay's
answers (400 for bad input, 404 for what does not exist)."""

from __future__ import annotations


class NotificationError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidNotification(NotificationError):
    """A 400: bad event, method, config or event config."""


class UnknownEvent(InvalidNotification):
    def __init__(self, event: str) -> None:
        super().__init__(f"Unknown event: {event}")
        self.event = event


class UnknownMethod(InvalidNotification):
    def __init__(self, method: str) -> None:
        super().__init__(f"Unknown method: {method}")
        self.method = method


class InvalidEventConfig(InvalidNotification):
    pass


class InvalidMethodConfig(InvalidNotification):
    pass


class NotificationNotFound(NotificationError):
    def __init__(self, uuid: str) -> None:
        super().__init__(f"No notification {uuid}")
        self.uuid = uuid


class ScopeNotFound(NotificationError):
    """The repository or namespace does not exist."""


class MailingDisabled(NotificationError):
    def __init__(self) -> None:
        super().__init__("Mailing is not enabled (FEATURE_MAILING)")


class InvalidCode(NotificationError):
    """An unknown, used or expired confirmation or recovery code."""


class DeliveryFailed(Exception):
    """One attempt failed (the receiver answered badly, timed out or was refused); the job
    retries after a backoff. ``permanent``: retrying cannot help (a refused destination)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
