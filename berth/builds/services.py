"""The build service: start, list, get, cancel and read the logs of builds; file drops.

``BuildService.start_build`` is the one way a build is made (the ``/api/v1`` build route
and the build triggers both call it). In one transaction it checks the repository (exists,
state ``NORMAL``), the namespace's queue (``BERTH_BUILD_MAX_QUEUED``), the context (an
uploaded context is checked member by member before anything is queued), the tags and the
pull robot; inserts the build in phase ``waiting``; writes the ``build_dockerfile``
usage-log entry; enqueues the ``build_queued`` notifications and the ``run_build`` job.

Phase changes after that are the build manager's (``berth.builds.manager``), through
``transition``: a conditional UPDATE that never leaves a finished phase, so a cancel and a
running build cannot both win. Log entries (``append_logs``) take their sequence numbers
from the build row in the same transaction.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
import uuid as uuidlib
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from berth.audit.services import Performer, record
from berth.authz import RepositoryState
from berth.builds.context import Limits, check_context, context_path
from berth.builds.errors import (
    BadContext,
    BuildNotCancellable,
    BuildNotFound,
    BuildsDisabled,
    FileNotFound,
    FileTooLarge,
    InvalidBuildRequest,
    QueueLimitReached,
    RepositoryNotFound,
    RepositoryNotNormal,
    UnknownPullRobot,
)
from berth.builds.models import BuildFile, BuildLogEntry, RepositoryBuild
from berth.builds.settings import BuildSettings
from berth.builds.tasks import RUN_BUILD, RunBuild
from berth.builds.types import (
    FINISHED_PHASES,
    NOT_CANCELLABLE,
    RUNNING_PHASES,
    BuildContext,
    BuildRecord,
    Phase,
)
from berth.db.base import now_ms
from berth.db.session import Database
from berth.identity.models import RobotAccount, User
from berth.jobs import enqueue
from berth.namespaces.models import Namespace
from berth.notifications.events import RepoRef, build_data
from berth.notifications.hooks import notify
from berth.registry.models import Repository
from berth.registry.repositories import RepoName, RepoRow, find_repository

TAG_RE = re.compile(r"^[\w][\w.-]{0,127}$")
MAX_TAGS = 50
FILE_TTL_S = 86400  # an upload unused for a day is forgotten
LOG_PAGE = 5000  # entries per logs answer at most; the client asks again from start+len
BUILD_EVENTS = ("build_queued", "build_start", "build_success", "build_failure", "build_cancelled")


@dataclass(frozen=True)
class LogPage:
    start: int
    total: int
    logs: list[dict[str, Any]]


@dataclass(frozen=True)
class LogLine:
    """One entry to append: Quay's kinds ``phase``, ``command``, ``error``, or None (an
    output line); ``data`` as Quay's (e.g. ``{"datetime": ...}``)."""

    message: str
    kind: str | None = None
    data: dict[str, Any] | None = None


def display_name_for(context: BuildContext) -> str:
    """Quay's build names: a commit's short sha, else the first 7 hex of a SHA-224 of the
    file id or archive URL."""
    if context.commit_sha:
        return context.commit_sha[:7]
    source = context.file_id or context.archive_url or context.git_ref or context.git_url or ""
    return hashlib.sha224(source.encode()).hexdigest()[:7]


def split_context(subdirectory: str, dockerfile_path: str) -> tuple[str, str]:
    """The context directory and the Dockerfile's path inside the source, both normalized
    relative paths ("" is the root). ``dockerfile_path`` is from the source's root; the
    default ``Dockerfile`` (or any bare name) sits in ``subdirectory``."""
    ctx = context_path(subdirectory or "", what="subdirectory")
    raw = dockerfile_path or "Dockerfile"
    if "/" not in raw.strip("/"):
        raw = f"{ctx}/{raw.strip('/')}" if ctx else raw.strip("/")
    df = context_path(raw, what="dockerfile_path")
    if not df:
        raise BadContext("dockerfile_path names no file")
    return ctx, df


class BuildService:
    def __init__(
        self,
        db: Database,
        settings: BuildSettings,
        *,
        fernet: Fernet,
        host: str,
        base_url: str,
    ) -> None:
        self.db = db
        self.settings = settings
        self.fernet = fernet
        self.host = host
        self.base_url = base_url

    @property
    def limits(self) -> Limits:
        return Limits(self.settings.max_unpacked_bytes, self.settings.max_files)

    def repo_ref(self, namespace: str, name: str) -> RepoRef:
        return RepoRef(namespace, name, self.host, self.base_url)

    # ---- starting ------------------------------------------------------------------------
    async def start_build(
        self,
        session_or_none: AsyncSession | None,
        *,
        namespace: str,
        repository: str,
        performer: Performer | None,
        context: BuildContext,
        docker_tags: Sequence[str],
        subdirectory: str = "",
        dockerfile_path: str = "Dockerfile",
        pull_robot: str | None = None,
        trigger_uuid: str | None = None,
        trigger_metadata: dict[str, Any] | None = None,
        manual_user: str | None = None,
        trigger_kind: str | None = None,
    ) -> BuildRecord:
        """Queue a build of ``namespace/repository`` and return it (phase ``waiting``).

        ``session_or_none``: the caller's transaction (a trigger's webhook handler that
        records its own changes with the build), or None for a transaction of its own.
        ``performer``: who asks (the usage-log entry's performer; None for a webhook).
        ``context``: where the context comes from (``BuildContext``: an uploaded file id, an
        archive URL, or a git URL + ref + commit sha with an optional SSH deploy key, which
        is stored encrypted). ``docker_tags``: the tags to push (empty: ``["latest"]``).
        ``subdirectory``: the context directory inside the source (Quay's ``context``; ""
        or "/" is the root). ``dockerfile_path``: the Dockerfile inside the source (from its
        root; a bare name such as the default ``Dockerfile`` sits in ``subdirectory``).
        ``pull_robot``: ``ns+robot`` whose credentials pull private base images from Berth
        (a robot of the repository's namespace, or of the performer's own). ``trigger_uuid``
        and ``trigger_metadata``: the trigger that started it and Quay's metadata
        (``commit``, ``ref``, ``default_branch``, ``git_url``, ``commit_info``) as the
        events carry it; None for a manual build. ``manual_user``: the user shown as having
        started it by hand (None for a trigger). ``trigger_kind``: the trigger's service
        (``github``, ``gitlab``, ``bitbucket``, ``custom-git``), Quay's ``trigger_kind`` in
        the build events.

        Raises BuildsDisabled, RepositoryNotFound, RepositoryNotNormal (503),
        QueueLimitReached (429), InvalidBuildRequest / BadContext / UnknownPullRobot (400),
        FileNotFound. Nothing is written when it raises.
        """
        if not self.settings.enabled:
            raise BuildsDisabled("Build support is disabled")
        tags = list(dict.fromkeys(docker_tags)) or ["latest"]
        if len(tags) > MAX_TAGS:
            raise InvalidBuildRequest(f"at most {MAX_TAGS} tags")
        for tag in tags:
            if not TAG_RE.match(tag):
                raise InvalidBuildRequest(f"Invalid tag name: {tag}")
        ctx_dir, df_path = split_context(subdirectory, dockerfile_path)
        if context.archive_url is not None and not re.match(
            r"^https?://[^\s/]+", context.archive_url
        ):
            raise InvalidBuildRequest("archive_url must be an http or https URL")
        if context.git_url is not None and not re.match(
            r"^(https?://|ssh://|git://|[\w.-]+@[\w.-]+:)\S+$", context.git_url
        ):
            raise InvalidBuildRequest("git_url must be an http(s), ssh or git URL")
        if session_or_none is not None:
            return await self._start(
                session_or_none, namespace, repository, performer, context, tags, ctx_dir,
                df_path, pull_robot, trigger_uuid, trigger_metadata, manual_user, trigger_kind,
            )  # fmt: skip
        async with self.db.write() as s:
            return await self._start(
                s, namespace, repository, performer, context, tags, ctx_dir,
                df_path, pull_robot, trigger_uuid, trigger_metadata, manual_user, trigger_kind,
            )  # fmt: skip

    async def _start(
        self,
        s: AsyncSession,
        namespace: str,
        repository: str,
        performer: Performer | None,
        context: BuildContext,
        tags: list[str],
        ctx_dir: str,
        df_path: str,
        pull_robot: str | None,
        trigger_uuid: str | None,
        trigger_metadata: dict[str, Any] | None,
        manual_user: str | None,
        trigger_kind: str | None,
    ) -> BuildRecord:
        repo = await find_repository(s, RepoName(namespace, repository))
        if repo is None:
            raise RepositoryNotFound(f"no repository {namespace}/{repository}")
        if repo.state != RepositoryState.NORMAL:
            raise RepositoryNotNormal(
                f"Repository is in read only or mirror mode: {RepositoryState(repo.state).name}"
            )
        waiting = (
            await s.execute(
                select(func.count())
                .select_from(RepositoryBuild)
                .where(
                    RepositoryBuild.namespace_id == repo.namespace_id,
                    RepositoryBuild.phase == Phase.WAITING,
                )
            )
        ).scalar_one()
        if waiting >= self.settings.max_queued:
            raise QueueLimitReached("Maximum queued build rate exceeded.")
        if pull_robot is not None:
            await self._check_robot(s, pull_robot, repo, performer)
        if context.file_id is not None:
            await self._check_file(s, context.file_id, ctx_dir, df_path, performer)
        key = (
            self.fernet.encrypt(context.ssh_private_key.encode())
            if context.ssh_private_key
            else None
        )
        job_config: dict[str, Any] = {
            "docker_tags": tags,
            "build_subdir": "/" + df_path,
            "context": "/" + ctx_dir,
            "trigger_metadata": dict(trigger_metadata or {}),
            "is_manual": trigger_uuid is None,
            "manual_user": manual_user,
        }
        if trigger_kind:
            job_config["trigger_kind"] = trigger_kind
        build = RepositoryBuild(
            uuid=str(uuidlib.uuid4()),
            repository_id=repo.id,
            namespace_id=repo.namespace_id,
            phase=Phase.WAITING,
            display_name=display_name_for(context),
            started_at=now_ms(),
            job_config=job_config,
            resource_key=context.file_id,
            archive_url=context.archive_url,
            git_url=context.git_url,
            git_ref=context.git_ref,
            commit_sha=context.commit_sha,
            git_key_encrypted=key,
            pull_robot=pull_robot,
            manual_user=manual_user,
            performer_id=performer.id if performer else None,
            trigger_uuid=trigger_uuid,
            cancel_requested=False,
            retries_remaining=self.settings.retries,
            log_count=0,
            logs_archived=False,
        )
        s.add(build)
        await s.flush()
        meta: dict[str, Any] = {
            "build_id": build.uuid,
            "docker_tags": tags,
            "repo": repo.name,
            "namespace": repo.namespace,
            "is_manual": trigger_uuid is None,
            "manual_user": manual_user,
            "config": {
                "build_subdir": job_config["build_subdir"],
                "context": job_config["context"],
            },
        }
        if context.file_id:
            meta["fileid"] = context.file_id
        if context.archive_url:
            meta["archive_url"] = context.archive_url
        if trigger_uuid:
            meta["trigger_id"] = trigger_uuid
            meta["trigger_metadata"] = dict(trigger_metadata or {})
        record(
            s,
            "build_dockerfile",
            repo.namespace,
            performer,
            repo.name,
            meta,
            namespace_id=repo.namespace_id,
            repository_id=repo.id,
        )
        record_ = self._record(build, repo.namespace, repo.name, None)
        await self.emit(s, record_, "build_queued")
        await enqueue(s, RUN_BUILD, RunBuild(build.uuid))
        return record_

    async def _check_robot(
        self, s: AsyncSession, name: str, repo: RepoRow, performer: Performer | None
    ) -> None:
        ns = name.partition("+")[0]
        row = (
            await s.execute(
                select(User.id, Namespace.name)
                .join(RobotAccount, RobotAccount.user_id == User.id)
                .join(Namespace, Namespace.id == RobotAccount.namespace_id)
                .where(User.username == name, User.kind == "robot")
            )
        ).first()
        if row is None:
            raise UnknownPullRobot(f"Could not find robot with specified username: {name}")
        allowed = {repo.namespace} | ({performer.name} if performer and performer.name else set())
        if ns not in allowed or row[1] not in allowed:
            raise UnknownPullRobot(
                f"Robot {name} is not of the repository's namespace or of the caller"
            )

    async def _check_file(
        self,
        s: AsyncSession,
        file_id: str,
        ctx_dir: str,
        df_path: str,
        performer: Performer | None,
    ) -> None:
        """The upload exists, has its bytes, is the performer's (when it has an owner), and
        passes every context check."""
        data = (
            await s.execute(
                select(BuildFile.content, BuildFile.user_id).where(BuildFile.file_id == file_id)
            )
        ).first()
        someone_elses = (
            data is not None
            and data[1] is not None
            and (performer is None or performer.id != data[1])
        )
        if data is None or data[0] is None or someone_elses:
            raise FileNotFound(f"Dockerfile with id {file_id} not found (was it uploaded?)")
        content: bytes = data[0]
        await asyncio.to_thread(
            check_context,
            io.BytesIO(content),
            limits=self.limits,
            dockerfile_path=df_path,
            context_dir=ctx_dir,
        )

    # ---- reading ---------------------------------------------------------------------------
    def _record(
        self, b: RepositoryBuild, namespace: str, name: str, performer: str | None
    ) -> BuildRecord:
        cfg = b.job_config or {}
        return BuildRecord(
            id=b.id,
            uuid=b.uuid,
            namespace=namespace,
            repository=name,
            repository_id=b.repository_id,
            phase=b.phase,
            display_name=b.display_name,
            started_at=b.started_at,
            ended_at=b.ended_at,
            docker_tags=list(cfg.get("docker_tags") or []),
            subdirectory=str(cfg.get("build_subdir", "")),
            dockerfile_path=str(cfg.get("build_subdir", "")),
            context=str(cfg.get("context", "")),
            pull_robot=b.pull_robot,
            resource_key=b.resource_key,
            archive_url=b.archive_url,
            git_url=b.git_url,
            git_ref=b.git_ref,
            commit_sha=b.commit_sha,
            error=b.error,
            manual_user=b.manual_user,
            trigger_uuid=b.trigger_uuid,
            trigger_metadata=dict(cfg.get("trigger_metadata") or {}),
            performer=performer,
            trigger_kind=cfg.get("trigger_kind"),
            logs_archived=b.logs_archived,
        )

    def _select(self) -> Any:
        return (
            select(RepositoryBuild, Namespace.name, Repository.name, User.username)
            .join(Namespace, Namespace.id == RepositoryBuild.namespace_id)
            .join(Repository, Repository.id == RepositoryBuild.repository_id)
            .outerjoin(User, User.id == RepositoryBuild.performer_id)
        )

    async def _row(self, s: AsyncSession, build_uuid: str) -> Any:
        stmt = self._select().where(RepositoryBuild.uuid == build_uuid)
        return (await s.execute(stmt)).first()

    async def list_builds(
        self,
        namespace: str,
        repository: str,
        *,
        limit: int = 5,
        since_ms: int | None = None,
        trigger_uuid: str | None = None,
    ) -> list[BuildRecord]:
        """The newest builds of a repository first (Quay's default limit: 5)."""
        async with self.db.read() as s:
            repo = await find_repository(s, RepoName(namespace, repository))
            if repo is None:
                raise RepositoryNotFound(f"no repository {namespace}/{repository}")
            stmt = (
                self._select()
                .where(RepositoryBuild.repository_id == repo.id)
                .order_by(RepositoryBuild.started_at.desc(), RepositoryBuild.id.desc())
                .limit(max(1, min(limit, 100)))
            )
            if since_ms is not None:
                stmt = stmt.where(RepositoryBuild.started_at >= since_ms)
            if trigger_uuid is not None:
                stmt = stmt.where(RepositoryBuild.trigger_uuid == trigger_uuid)
            rows = (await s.execute(stmt)).all()
        return [self._record(b, ns, name, who) for b, ns, name, who in rows]

    async def get_build(self, namespace: str, repository: str, build_uuid: str) -> BuildRecord:
        build = await self.find(build_uuid)
        if build is None or (build.namespace, build.repository) != (namespace, repository):
            raise BuildNotFound(f"no build {build_uuid} in {namespace}/{repository}")
        return build

    async def find(self, build_uuid: str) -> BuildRecord | None:
        """A build by uuid, whatever its repository (superuser views, the manager)."""
        async with self.db.read() as s:
            row = (
                await s.execute(self._select().where(RepositoryBuild.uuid == build_uuid))
            ).first()
        return self._record(row[0], row[1], row[2], row[3]) if row else None

    async def running(self) -> list[BuildRecord]:
        """Builds waiting or running, oldest first (the superuser's build queue)."""
        phases = [Phase.WAITING, *RUNNING_PHASES]
        async with self.db.read() as s:
            rows = (
                await s.execute(
                    self._select()
                    .where(RepositoryBuild.phase.in_(phases))
                    .order_by(RepositoryBuild.started_at)
                )
            ).all()
        return [self._record(b, ns, name, who) for b, ns, name, who in rows]

    async def logs(self, build_uuid: str, start: int = 0) -> LogPage:
        """Quay's ``{start, total, logs}``: the entries from ``start`` on (at most
        ``LOG_PAGE``), and how many there are."""
        start = max(0, start)
        async with self.db.read() as s:
            build = (
                await s.execute(
                    select(RepositoryBuild.id, RepositoryBuild.log_count).where(
                        RepositoryBuild.uuid == build_uuid
                    )
                )
            ).first()
            if build is None:
                raise BuildNotFound(f"no build {build_uuid}")
            rows = (
                await s.execute(
                    select(BuildLogEntry.kind, BuildLogEntry.message, BuildLogEntry.data)
                    .where(BuildLogEntry.build_id == build.id, BuildLogEntry.seq >= start)
                    .order_by(BuildLogEntry.seq)
                    .limit(LOG_PAGE)
                )
            ).all()
        entries = []
        for kind, message, data in rows:
            entry: dict[str, Any] = {"message": message, "data": dict(data or {})}
            if kind:
                entry["type"] = kind
            entries.append(entry)
        return LogPage(start, int(build.log_count), entries)

    # ---- cancelling --------------------------------------------------------------------------
    async def cancel(
        self, namespace: str, repository: str, build_uuid: str, *, performer: Performer | None
    ) -> BuildRecord:
        """Quay's cancel: refused (BuildNotCancellable) once the build is pushing or has
        ended; otherwise the build is ``cancelled`` at once, and a running executor sees
        it within a second and stops its builder."""
        async with self.db.write() as s:
            stmt = self._select().where(RepositoryBuild.uuid == build_uuid)
            if not self.db.is_sqlite:
                stmt = stmt.with_for_update(of=RepositoryBuild)
            row = (await s.execute(stmt)).first()
            if row is None or (row[1], row[2]) != (namespace, repository):
                raise BuildNotFound(f"no build {build_uuid} in {namespace}/{repository}")
            build: RepositoryBuild = row[0]
            if build.phase in NOT_CANCELLABLE:
                raise BuildNotCancellable("Cannot cancel build: it is pushing or has finished")
            build.phase = Phase.CANCELLED
            build.ended_at = now_ms()
            build.cancel_requested = True
            await s.flush()
            await self._append(s, build.id, [phase_line(Phase.CANCELLED)])
            record(
                s,
                "cancel_build",
                namespace,
                performer,
                repository,
                {"build_id": build.uuid, "repo": repository, "namespace": namespace},
                namespace_id=build.namespace_id,
                repository_id=build.repository_id,
            )
            rec = self._record(build, row[1], row[2], row[3])
            await self.emit(s, rec, "build_cancelled")
            return rec

    # ---- the manager's writes ----------------------------------------------------------------
    async def transition(
        self,
        build_uuid: str,
        phase: str,
        *,
        error: str | None = None,
        event: str | None = None,
        event_extra: dict[str, Any] | None = None,
        image_id: str | None = None,
        manifest_digest: str | None = None,
        executor: str | None = None,
    ) -> BuildRecord | None:
        """Move a build to ``phase`` (with its phase log entry, and ``event``'s
        notifications) unless it has finished already; the build, or None when it had
        (cancelled meanwhile: the caller stops)."""
        async with self.db.write() as s:
            values: dict[str, Any] = {"phase": phase}
            if phase in FINISHED_PHASES:
                values["ended_at"] = now_ms()
            if error is not None:
                values["error"] = error[:4000]
            if image_id is not None:
                values["image_id"] = image_id
            if manifest_digest is not None:
                values["manifest_digest"] = manifest_digest
            if executor is not None:
                values["executor"] = executor
            result = await s.execute(
                update(RepositoryBuild)
                .where(
                    RepositoryBuild.uuid == build_uuid,
                    RepositoryBuild.phase.not_in(list(FINISHED_PHASES)),
                )
                .values(**values)
            )
            if not result.rowcount:  # type: ignore[attr-defined]  # rowcount: a DML result is a CursorResult
                return None
            row = await self._row(s, build_uuid)
            build = row[0]
            lines = [phase_line(phase)]
            if error is not None:
                lines.append(LogLine(error, "error", {"datetime": _now_text()}))
            await self._append(s, build.id, lines)
            rec = self._record(build, row[1], row[2], row[3])
            if event is not None:
                await self.emit(s, rec, event, **(event_extra or {}))
            return rec

    async def restart(self, build_uuid: str, reason: str) -> bool:
        """After a lost worker: back to ``waiting`` if a retry remains (True), else
        ``internalerror`` with ``build_failure`` (False). A finished build stays."""
        async with self.db.write() as s:
            row = (
                await s.execute(self._select().where(RepositoryBuild.uuid == build_uuid))
            ).first()
            if row is None or row[0].phase in FINISHED_PHASES:
                return False
            build: RepositoryBuild = row[0]
            lines = [LogLine(reason, "error", {"datetime": _now_text()})]
            if build.retries_remaining > 0:
                build.retries_remaining -= 1
                build.phase = Phase.WAITING
                lines.append(phase_line(Phase.WAITING))
                await s.flush()
                await self._append(s, build.id, lines)
                return True
            build.phase = Phase.INTERNAL_ERROR
            build.error = reason
            build.ended_at = now_ms()
            lines.append(phase_line(Phase.INTERNAL_ERROR))
            await s.flush()
            await self._append(s, build.id, lines)
            rec = self._record(build, row[1], row[2], row[3])
            await self.emit(s, rec, "build_failure", error_message=reason)
            return False

    async def retry(self, build_uuid: str, *, performer: Performer | None) -> BuildRecord:
        """Queue an ``internalerror`` build again (``berth builds retry``)."""
        async with self.db.write() as s:
            row = (
                await s.execute(self._select().where(RepositoryBuild.uuid == build_uuid))
            ).first()
            if row is None:
                raise BuildNotFound(f"no build {build_uuid}")
            build: RepositoryBuild = row[0]
            if build.phase != Phase.INTERNAL_ERROR:
                raise InvalidBuildRequest(f"build {build_uuid} is {build.phase}, not internalerror")
            build.phase = Phase.WAITING
            build.ended_at = None
            build.error = None
            build.cancel_requested = False
            await s.flush()
            await self._append(s, build.id, [phase_line(Phase.WAITING)])
            await enqueue(s, RUN_BUILD, RunBuild(build.uuid))
            return self._record(build, row[1], row[2], row[3])

    async def cancel_requested(self, build_uuid: str) -> bool:
        async with self.db.read() as s:
            phase = (
                await s.execute(
                    select(RepositoryBuild.phase).where(RepositoryBuild.uuid == build_uuid)
                )
            ).scalar_one_or_none()
        return phase is None or phase in FINISHED_PHASES

    async def append_logs(self, build_uuid: str, lines: Sequence[LogLine]) -> None:
        if not lines:
            return
        async with self.db.write() as s:
            build_id = (
                await s.execute(
                    select(RepositoryBuild.id).where(RepositoryBuild.uuid == build_uuid)
                )
            ).scalar_one_or_none()
            if build_id is not None:
                await self._append(s, build_id, lines)

    async def _append(self, s: AsyncSession, build_id: int, lines: Sequence[LogLine]) -> None:
        end = (
            await s.execute(
                update(RepositoryBuild)
                .where(RepositoryBuild.id == build_id)
                .values(log_count=RepositoryBuild.log_count + len(lines))
                .returning(RepositoryBuild.log_count)
            )
        ).scalar_one()
        first = end - len(lines)
        now = now_ms()
        await s.execute(
            BuildLogEntry.__table__.insert(),
            [
                {
                    "build_id": build_id,
                    "seq": first + i,
                    "kind": line.kind,
                    "message": line.message,
                    "data": line.data or {},
                    "created_at": now,
                }
                for i, line in enumerate(lines)
            ],
        )

    async def context_source(self, build_uuid: str) -> tuple[bytes | None, str | None]:
        """The uploaded file's bytes and the decrypted git deploy key (the manager's)."""
        async with self.db.read() as s:
            row = (
                await s.execute(
                    select(RepositoryBuild.resource_key, RepositoryBuild.git_key_encrypted).where(
                        RepositoryBuild.uuid == build_uuid
                    )
                )
            ).first()
            if row is None:
                raise BuildNotFound(f"no build {build_uuid}")
            content = None
            if row[0] is not None:
                content = (
                    await s.execute(select(BuildFile.content).where(BuildFile.file_id == row[0]))
                ).scalar_one_or_none()
        key = self.fernet.decrypt(row[1]).decode() if row[1] else None
        return content, key

    async def running_counts(self, namespace_id: int) -> tuple[int, int]:
        """Builds running now: overall, and in the namespace."""
        async with self.db.read() as s:
            return await _running(s, namespace_id)

    async def claim_slot(self, build_uuid: str) -> BuildRecord | bool | None:
        """Take a running slot: the build goes ``build-scheduled`` (with ``build_start``)
        when fewer than ``max_running`` builds run overall and fewer than
        ``max_running_per_namespace`` in its namespace; False when no slot is free (the
        caller tries again later), None when the build isn't waiting any more."""
        async with self.db.write() as s:
            if not self.db.is_sqlite:  # one claimer at a time (SQLite's write lock does it)
                await s.execute(select(func.pg_advisory_xact_lock(0x6275696C64)))
            row = (
                await s.execute(self._select().where(RepositoryBuild.uuid == build_uuid))
            ).first()
            if row is None or row[0].phase != Phase.WAITING:
                return None
            build: RepositoryBuild = row[0]
            total, mine = await _running(s, build.namespace_id)
            if (
                total >= self.settings.max_running
                or mine >= self.settings.max_running_per_namespace
            ):
                return False
            build.phase = Phase.BUILD_SCHEDULED
            await s.flush()
            await self._append(s, build.id, [phase_line(Phase.BUILD_SCHEDULED)])
            rec = self._record(build, row[1], row[2], row[3])
            await self.emit(s, rec, "build_start")
            return rec

    # ---- events -------------------------------------------------------------------------------
    async def emit(self, s: AsyncSession, build: BuildRecord, event: str, **extra: Any) -> None:
        """Enqueue ``event``'s notifications (Quay's build payload) in ``s``."""
        data = build_data(
            self.repo_ref(build.namespace, build.repository),
            build_id=build.uuid,
            docker_tags=build.docker_tags,
            build_name=build.display_name,
            trigger_kind=build.trigger_kind,
            trigger_id=build.trigger_uuid,
            trigger_metadata=build.trigger_metadata,
            is_manual=build.is_manual,
            manual_user=build.manual_user,
            **extra,
        )
        await notify(s, event, repository_id=build.repository_id, data=data)

    # ---- file drops ---------------------------------------------------------------------------
    async def create_file(self, *, user_id: int | None, mime_type: str) -> str:
        """A new upload slot (Quay's filedrop): its id; the bytes come with ``put_file``."""
        file_id = str(uuidlib.uuid4())
        async with self.db.write() as s:
            s.add(BuildFile(file_id=file_id, user_id=user_id, mime_type=mime_type[:255]))
        return file_id

    async def purge_files(self, older_than_s: int = FILE_TTL_S) -> int:
        """Forget uploads older than ``older_than_s`` that no waiting or running build
        needs (a finished build keeps its ``resource_key``, the bytes go); how many."""
        needed = select(RepositoryBuild.resource_key).where(
            RepositoryBuild.resource_key.is_not(None),
            RepositoryBuild.phase.in_([Phase.WAITING, *RUNNING_PHASES]),
        )
        async with self.db.write() as s:
            result = await s.execute(
                delete(BuildFile).where(
                    BuildFile.created_at < now_ms() - older_than_s * 1000,
                    BuildFile.file_id.not_in(needed),
                )
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]  # rowcount: a DML result is a CursorResult

    async def put_file(self, file_id: str, content: bytes) -> None:
        """Store an upload's bytes (once; FileNotFound for an unknown or used slot)."""
        if len(content) > self.settings.max_context_bytes:
            raise FileTooLarge(
                f"the context is larger than {self.settings.max_context_bytes} bytes"
            )
        async with self.db.write() as s:
            result = await s.execute(
                update(BuildFile)
                .where(BuildFile.file_id == file_id, BuildFile.content.is_(None))
                .values(content=content, size=len(content))
            )
            if not result.rowcount:  # type: ignore[attr-defined]  # rowcount: a DML result is a CursorResult
                raise FileNotFound(f"no upload slot {file_id}")


def phase_line(phase: str) -> LogLine:
    return LogLine(phase, "phase", {"datetime": _now_text()})


def _now_text() -> str:
    return formatdate(usegmt=False)


async def _running(s: AsyncSession, namespace_id: int) -> tuple[int, int]:
    """Builds running now (their phases): overall, and in the namespace."""
    running = RepositoryBuild.phase.in_(list(RUNNING_PHASES))
    total = (
        await s.execute(select(func.count()).select_from(RepositoryBuild).where(running))
    ).scalar_one()
    mine = (
        await s.execute(
            select(func.count())
            .select_from(RepositoryBuild)
            .where(running, RepositoryBuild.namespace_id == namespace_id)
        )
    ).scalar_one()
    return int(total), int(mine)
