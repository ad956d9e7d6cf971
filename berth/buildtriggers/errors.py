"""Build trigger domain errors (no HTTP): the /api/v1 adapter and the webhook route turn
them into Quay's answers."""

from __future__ import annotations


class TriggerError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TriggerNotFound(TriggerError):
    """A 404: no such trigger on this repository (or no such repository)."""

    def __init__(self, uuid: str) -> None:
        super().__init__(f"No build trigger {uuid}")
        self.uuid = uuid


class InvalidTriggerRequest(TriggerError):
    """A 400 with Quay's message: a bad config or template, a trigger not active, not
    enabled, a missing parameter, a payload that is not one."""


class RobotNotFound(TriggerError):
    """The pull robot does not exist (Quay: 404)."""


class RobotNotAllowed(TriggerError):
    """The pull robot is of another namespace (Quay: 403)."""


class RepositoryNotNormal(TriggerError):
    """A 503: the repository is read-only or mirrored."""


class WebhookForbidden(TriggerError):
    """A 403: the webhook call did not prove it knows the trigger's token."""


class ServiceUnavailable(TriggerError):
    """The trigger's service is not configured here (FEATURE_<SERVICE>_BUILD off): 400."""


class SourceUnreachable(TriggerError):
    """git could not reach the source (refused by the SSRF guard, unknown ref, ...): 400."""
