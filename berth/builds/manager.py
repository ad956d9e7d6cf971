"""The build manager: runs one build, the ``run_build`` job of the build lane.

``BuildManager.run_build``:

1. a build that has finished is left alone (the job ran twice); one found past ``waiting``
   was being run by a worker that was lost (its lease expired): it is marked
   ``internalerror`` in its log and queued again while ``retries_remaining`` lasts, else it
   stays ``internalerror`` (``build_failure``), retryable by hand (``BuildService.retry``);
2. it takes a slot (``BuildService.claim_slot``: at most ``max_running`` builds overall
   and ``max_running_per_namespace`` per namespace), or is queued again a few seconds on;
3. ``unpacking``: the context (the uploaded file, the archive fetched through the outbound
   client with the SSRF guard and the size limit, or ``git archive`` of the commit) is
   checked and unpacked into the build's own work directory (``BadContext``: phase
   ``error`` before anything runs);
4. the executor pulls, builds and pushes (``pulling``, ``building``, ``pushing``), its
   output going to the build log in batches; a cancel (the build's phase turns
   ``cancelled``) is seen within a second and stops it;
5. ``complete`` with ``build_success`` (image id, manifest digests), or ``error`` with
   ``build_failure`` and the reason. The work directory is removed whatever happened.

The push uses a token made for this build: a registry JWT (``$buildtoken`` as the user
name) that lets the token endpoint grant push and pull on the build's repository only,
as long as the build runs. Base images are pulled with the pull robot's credentials.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from berth.builds.context import unpack_context
from berth.builds.errors import BadContext
from berth.builds.executors import (
    BuildCancelled,
    BuildFailed,
    BuildResult,
    BuildSpec,
    Credentials,
    Executor,
)
from berth.builds.services import BuildService, LogLine, split_context
from berth.builds.settings import BuildSettings
from berth.builds.tasks import RUN_BUILD, RunBuild
from berth.builds.types import FINISHED_PHASES, RUNNING_PHASES, BuildRecord, Phase
from berth.jobs import JobQueue
from berth.outbound import AddressPolicy, OutboundClients, OutboundError
from berth.outbound.git import GitSourceError, git_environment, parse_git_url

log = logging.getLogger(__name__)

PUSH_USER = "$buildtoken"
RETRY_SLOT_S = 3.0
FLUSH_S = 0.5
CANCEL_POLL_S = 1.0
LOST_WORKER = "The build's worker was lost before the build finished (internal error)"

# (build) -> the robot's token, or None when the robot is gone
RobotToken = Callable[[str], Awaitable[str | None]]
# (build) -> a push token for the build's repository
PushToken = Callable[[BuildRecord], str]


class _Log:
    """The executor's output, appended to the build log in batches (and before every phase
    change, so the log stays in order)."""

    def __init__(self, manager: BuildManager, build: BuildRecord, cancelled: asyncio.Event):
        self.svc = manager.service
        self.build = build
        self.cancelled = cancelled
        self.pending: list[LogLine] = []
        self.lock = asyncio.Lock()

    async def flush(self) -> None:
        async with self.lock:
            lines, self.pending = self.pending, []
            await self.svc.append_logs(self.build.uuid, lines)

    async def phase(self, phase: str) -> None:
        await self.flush()
        if await self.svc.transition(self.build.uuid, phase) is None:
            self.cancelled.set()

    async def command(self, text: str) -> None:
        self.pending.append(LogLine(text, "command", {}))

    async def output(self, text: str) -> None:
        self.pending.append(LogLine(text, None, {}))
        if len(self.pending) >= 200:
            await self.flush()


class BuildManager:
    def __init__(
        self,
        service: BuildService,
        settings: BuildSettings,
        executor: Executor,
        *,
        jobs: JobQueue,
        outbound: OutboundClients,
        robot_token: RobotToken,
        push_token: PushToken,
        context_url: Callable[[BuildRecord], str] | None = None,
    ) -> None:
        self.service = service
        self.settings = settings
        self.executor = executor
        self.jobs = jobs
        self.outbound = outbound
        self.robot_token = robot_token
        self.push_token = push_token
        self.context_url = context_url

    async def run_build(self, payload: RunBuild) -> None:
        uuid = payload.build_uuid
        build = await self.service.find(uuid)
        if build is None or build.phase in FINISHED_PHASES:
            return
        if build.phase in RUNNING_PHASES and not await self.service.restart(uuid, LOST_WORKER):
            return
        slot = await self.service.claim_slot(uuid)
        if slot is None:
            return
        if slot is False:
            await self.jobs.enqueue(RUN_BUILD, RunBuild(uuid), delay_s=RETRY_SLOT_S)
            return
        assert isinstance(slot, BuildRecord)
        try:
            await self._run(slot)
        except Exception as e:  # an internal error: the build may be retried
            log.exception("build %s: internal error", uuid)
            if await self.service.restart(uuid, f"Internal error: {type(e).__name__}: {e}"):
                await self.jobs.enqueue(RUN_BUILD, RunBuild(uuid), delay_s=RETRY_SLOT_S)

    async def _run(self, build: BuildRecord) -> None:
        work = self.settings.work_dir / build.uuid
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True, mode=0o700)
        cancelled = asyncio.Event()
        out = _Log(self, build, cancelled)
        watcher = asyncio.create_task(self._watch(build.uuid, cancelled, out))
        try:
            await out.phase(Phase.UNPACKING)
            if cancelled.is_set():
                return
            ctx_dir, df_path = split_context(build.context, build.dockerfile_path)
            try:
                source = await self._unpack(build, work / "context")
            except BadContext as e:
                await out.flush()
                await self.service.transition(
                    build.uuid,
                    Phase.ERROR,
                    error=e.message,
                    event="build_failure",
                    event_extra={"error_message": e.message},
                )
                return
            spec = await self._spec(build, work, source, ctx_dir, df_path)
            if spec is None:
                return
            try:
                result = await self.executor.run(spec, out, cancelled)
            except BuildCancelled:
                await out.flush()
                return
            except BuildFailed as e:
                await out.flush()
                await self.service.transition(
                    build.uuid,
                    Phase.ERROR,
                    error=e.message,
                    event="build_failure",
                    event_extra={"error_message": e.message},
                )
                return
            await out.flush()
            await self._complete(build, result)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            with contextlib.suppress(Exception):
                await out.flush()
            await asyncio.to_thread(shutil.rmtree, work, True)

    async def _watch(self, uuid: str, cancelled: asyncio.Event, out: _Log) -> None:
        """Flush the log every ``FLUSH_S``; see a cancel within ``CANCEL_POLL_S``."""
        waited = 0.0
        while not cancelled.is_set():
            await asyncio.sleep(FLUSH_S)
            await out.flush()
            waited += FLUSH_S
            if waited >= CANCEL_POLL_S:
                waited = 0.0
                if await self.service.cancel_requested(uuid):
                    cancelled.set()

    async def _complete(self, build: BuildRecord, result: BuildResult) -> None:
        digests = (
            [f"{self.settings.registry}/{build.namespace}/{build.repository}@{result.digest}"]
            if result.digest
            else []
        )
        await self.service.transition(
            build.uuid,
            Phase.COMPLETE,
            event="build_success",
            event_extra={"image_id": result.image_id, "manifest_digests": digests},
            image_id=result.image_id,
            manifest_digest=result.digest,
            executor=self.executor.name,
        )

    async def _spec(
        self, build: BuildRecord, work: Path, source: Path, ctx_dir: str, df_path: str
    ) -> BuildSpec | None:
        pull = None
        if build.pull_robot:
            token = await self.robot_token(build.pull_robot)
            if token is None:
                message = f"The pull robot {build.pull_robot} no longer exists"
                await self.service.transition(
                    build.uuid,
                    Phase.ERROR,
                    error=message,
                    event="build_failure",
                    event_extra={"error_message": message},
                )
                return None
            pull = Credentials(build.pull_robot, token)
        return BuildSpec(
            uuid=build.uuid,
            work_dir=work,
            context_dir=source,
            context_subdir=ctx_dir,
            dockerfile=df_path,
            registry=self.settings.registry,
            repository=f"{build.namespace}/{build.repository}",
            tags=tuple(build.docker_tags),
            tls_verify=self.settings.registry_tls_verify,
            push=lambda: Credentials(PUSH_USER, self.push_token(build)),
            pull=pull,
            context_url=self.context_url(build) if self.context_url else None,
        )

    # ---- the context ------------------------------------------------------------------------
    async def _unpack(self, build: BuildRecord, dest: Path) -> Path:
        ctx_dir, df_path = split_context(build.context, build.dockerfile_path)
        content, key = await self.service.context_source(build.uuid)
        if build.resource_key is not None:
            if content is None:
                raise BadContext(f"the uploaded context {build.resource_key} is gone")
            data: io.BytesIO | Any = io.BytesIO(content)
        elif build.archive_url is not None:
            data = await self._fetch(build.archive_url)
        else:
            data = await self._git_archive(build, dest.parent, key)
        try:
            await asyncio.to_thread(
                unpack_context,
                data,
                dest,
                limits=self.service.limits,
                dockerfile_path=df_path,
                context_dir=ctx_dir,
            )
        finally:
            data.close()
        return dest

    async def _fetch(self, url: str) -> Any:
        limit = self.settings.max_context_bytes
        spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115  # closed by _unpack
        try:
            async with self.outbound.client().stream("GET", url, follow_redirects=True) as r:
                if r.status_code != 200:
                    raise BadContext(f"fetching {url} answered {r.status_code}")
                size = 0
                async for chunk in r.aiter_bytes():
                    size += len(chunk)
                    if size > limit:
                        raise BadContext(f"the archive at {url} is larger than {limit} bytes")
                    spool.write(chunk)
        except OutboundError as e:
            spool.close()
            raise BadContext(f"could not fetch {url}: {e}") from e
        except BaseException:
            spool.close()
            raise
        spool.seek(0)
        return spool

    async def _git_archive(self, build: BuildRecord, work: Path, key: str | None) -> Any:
        """``git fetch`` of the one commit (or ref), then ``git archive`` of it: the tree as a
        tar, checked like any uploaded archive. git runs through the outbound SSRF guard
        (``berth.outbound.git``: the host's addresses checked, http(s) pinned to them),
        with an empty environment, its deploy key in a 0600 file, no host config."""
        repo = work / "git"
        assert build.git_url is not None
        want = build.commit_sha or build.git_ref or "HEAD"
        try:
            source = parse_git_url(build.git_url)
            policy = AddressPolicy(self.outbound.settings.allowed)
            async with git_environment(source, policy, key) as (config, env):
                repo.mkdir()
                await self._git(["git", "init", "-q", str(repo)], env)
                fetch = ["fetch", "-q", "--depth", "1", "--", source.url, want]
                await self._git(["git", "-C", str(repo), *config, *fetch], env)
        except GitSourceError as e:
            raise BadContext(f"git fetch failed: {e}") from e
        tar_path = work / "source.tar"
        await self._git(
            ["git", "-C", str(repo), "archive", "--format=tar", "-o", str(tar_path), "FETCH_HEAD"],
            env,
        )
        return tar_path.open("rb")

    async def _git(self, args: list[str], env: dict[str, str]) -> None:
        proc = await asyncio.create_subprocess_exec(
            *args,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await proc.communicate()
        if proc.returncode != 0:
            text = output.decode("utf-8", "replace").strip()[-2000:]
            verb = next((a for a in args[1:] if a in ("init", "fetch", "archive")), "")
            raise BadContext(f"git {verb} failed: {text}")
