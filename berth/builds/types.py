"""What other features hand the build service and get back: ``BuildContext``, ``BuildRecord``
and the phases (Quay's ``BUILD_PHASE``). No I/O here, so the triggers feature imports it
freely."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class Phase:
    """Quay's build phases (the ``phase`` of a build)."""

    WAITING = "waiting"
    BUILD_SCHEDULED = "build-scheduled"
    UNPACKING = "unpacking"
    PULLING = "pulling"
    BUILDING = "building"
    PUSHING = "pushing"
    COMPLETE = "complete"
    ERROR = "error"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    INTERNAL_ERROR = "internalerror"


PHASES = (
    Phase.WAITING,
    Phase.BUILD_SCHEDULED,
    Phase.UNPACKING,
    Phase.PULLING,
    Phase.BUILDING,
    Phase.PUSHING,
    Phase.COMPLETE,
    Phase.ERROR,
    Phase.CANCELLED,
    Phase.EXPIRED,
    Phase.INTERNAL_ERROR,
)
# A build in one of these has ended: it never changes again (unless retried by hand).
FINISHED_PHASES = frozenset(
    {Phase.COMPLETE, Phase.ERROR, Phase.CANCELLED, Phase.EXPIRED, Phase.INTERNAL_ERROR}
)
# Queued, not running yet.
QUEUED_PHASES = frozenset({Phase.WAITING})
# An executor is working on it.
RUNNING_PHASES = frozenset(
    {Phase.BUILD_SCHEDULED, Phase.UNPACKING, Phase.PULLING, Phase.BUILDING, Phase.PUSHING}
)
# Quay's PHASES_NOT_ALLOWED_TO_CANCEL_FROM: pushing and every finished phase.
NOT_CANCELLABLE = FINISHED_PHASES | {Phase.PUSHING}


@dataclass(frozen=True)
class BuildContext:
    """Where a build's context (the Dockerfile and the files it copies) comes from; exactly
    one of three sources:

    * ``file_id``: a context uploaded through ``/api/v1/filedrop/`` (a Dockerfile alone, or
      a tar, tar.gz or zip archive);
    * ``archive_url``: a tar, tar.gz or zip archive fetched over HTTP(S) by the build (through
      Berth's outbound client, so the SSRF guard applies);
    * ``git_url`` + ``git_ref`` + ``commit_sha``: a git repository checked out at that commit
      (``git_ref`` is the ref that named it, e.g. ``refs/heads/main``); ``ssh_private_key``:
      a PEM deploy key for ``ssh://``/``git@`` URLs (custom git triggers), stored encrypted
      and never logged.

    Build with ``BuildContext.upload(id)``, ``.archive(url)`` or ``.git(url, ref, sha, key)``.
    """

    file_id: str | None = None
    archive_url: str | None = None
    git_url: str | None = None
    git_ref: str | None = None
    commit_sha: str | None = None
    ssh_private_key: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        sources = [self.file_id, self.archive_url, self.git_url]
        if sum(s is not None for s in sources) != 1:
            raise ValueError("a build context is exactly one of file_id, archive_url, git_url")
        if self.git_url is not None and not self.commit_sha and not self.git_ref:
            raise ValueError("a git build context needs a ref or a commit sha")
        if self.ssh_private_key is not None and self.git_url is None:
            raise ValueError("an SSH private key only goes with a git URL")

    @classmethod
    def upload(cls, file_id: str) -> BuildContext:
        return cls(file_id=file_id)

    @classmethod
    def archive(cls, url: str) -> BuildContext:
        return cls(archive_url=url)

    @classmethod
    def git(
        cls, url: str, ref: str | None, commit_sha: str | None, ssh_private_key: str | None = None
    ) -> BuildContext:
        return cls(git_url=url, git_ref=ref, commit_sha=commit_sha, ssh_private_key=ssh_private_key)

    @property
    def kind(self) -> str:
        if self.file_id is not None:
            return "upload"
        if self.archive_url is not None:
            return "archive"
        return "git"


@dataclass(frozen=True)
class BuildRecord:
    """A build as the service hands it out (Quay's RepositoryBuild, plus the repository's
    names). Times are epoch milliseconds; ``ended_at`` is None until it ends."""

    id: int
    uuid: str
    namespace: str
    repository: str
    repository_id: int
    phase: str
    display_name: str
    started_at: int
    ended_at: int | None
    docker_tags: list[str]
    subdirectory: str
    dockerfile_path: str
    context: str
    pull_robot: str | None
    resource_key: str | None
    archive_url: str | None
    git_url: str | None
    git_ref: str | None
    commit_sha: str | None
    error: str | None
    manual_user: str | None
    trigger_uuid: str | None
    trigger_metadata: dict[str, Any]
    performer: str | None
    logs_archived: bool = False
    trigger_kind: str | None = None  # the trigger's service (github, custom-git, ...)

    @property
    def finished(self) -> bool:
        return self.phase in FINISHED_PHASES

    @property
    def is_manual(self) -> bool:
        return self.trigger_uuid is None
