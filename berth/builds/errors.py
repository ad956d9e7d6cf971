"""Domain errors of builds (no HTTP: the /api/v1 adapter gives Quay's answers)."""

from __future__ import annotations


class BuildError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BuildsDisabled(BuildError):
    """FEATURE_BUILD_SUPPORT is off."""


class RepositoryNotFound(BuildError):
    """The repository doesn't exist (404)."""


class RepositoryNotNormal(BuildError):
    """Quay's 503: "Repository is in read only or mirror mode: <state>"."""


class InvalidBuildRequest(BuildError):
    """A request Quay answers 400: no context, an unknown file, a bad tag, path or URL."""


class UnknownPullRobot(BuildError):
    """The pull robot doesn't exist, or isn't the namespace's (400/404 at the edge)."""


class QueueLimitReached(BuildError):
    """Quay's 429: "Maximum queued build rate exceeded."."""


class BuildNotFound(BuildError):
    """No such build in this repository (404)."""


class BuildNotCancellable(BuildError):
    """Quay's 400 when the build is pushing or has finished."""


class FileNotFound(BuildError):
    """No such uploaded file (or not the caller's)."""


class FileTooLarge(BuildError):
    """An upload over BERTH_BUILD_MAX_CONTEXT_BYTES (413 at the edge)."""


class BadContext(BuildError):
    """A context archive refused before anything runs: a path with ``..`` or absolute, a
    link out of the context, a device, a decompression bomb, too many files, too large,
    not an archive, or no Dockerfile at the given path. The message says which."""
