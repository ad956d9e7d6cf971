"""Domain errors of repository mirroring (no HTTP: the /api/v1 adapter gives Quay's answers,
``{"detail": ...}`` bodies)."""

from __future__ import annotations


class MirrorError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MirrorNotFound(MirrorError):
    """No mirror configuration on the repository (404)."""


class MirrorExists(MirrorError):
    """Quay: 409 "Mirror configuration already exits for repository ns/r" (sic)."""


class InvalidMirrorConfig(MirrorError):
    """A value Quay refuses with 400 ``{detail}``."""


class SyncNotAllowed(MirrorError):
    """sync-now while a sync runs, or sync-cancel with none queued or running (404)."""


class InvalidRobot(InvalidMirrorConfig):
    """Quay's DataModelException for the robot (400 ``{message}``): unknown, or not of the
    repository's namespace."""
