"""The executor interface, and the local executor (Debian's ``buildah`` on the worker).

An executor gets a ``BuildSpec`` (the checked, unpacked context; the Dockerfile; the image
to push with its tags; the credentials to pull base images and to push) and a
``BuildOutput`` to report to (phases, the builder's commands and output lines). It returns
the image id and the digest pushed, raises ``BuildFailed`` for a build that failed for
its own reasons (a bad Dockerfile, a failing RUN, a limit reached: phase ``error``), and
stops when ``cancelled`` is set. Anything else it raises is an internal error.

``LocalExecutor`` runs one ``buildah`` per build with its own storage (``--root``,
``--runroot``, the ``vfs`` driver) under the build's work directory, removed afterwards:

* isolation: RUN steps in an OCI container (runc; ``ISOLATION: rootless`` for user
  namespaces; ``chroot`` only with ``BUILDER_NETWORK: host``, buildah can't take the network
  away from a chroot), with no network unless ``BUILDER_NETWORK`` says otherwise, and the
  CPU and memory limits (``--cpu-quota``, ``--memory``) and a process limit;
* the whole build is killed at ``MAXIMUM_BUILD_TIME``, and when its storage grows past
  ``MAX_BUILD_DISK`` (checked every two seconds); buildah runs as the first process of its
  own PID namespace, so killing it (cancel, limits) or losing the worker (the parent-death
  signal) ends every process of the build, RUN steps included;
* the environment is built from nothing: ``PATH``, ``HOME``/``TMPDIR`` in the work
  directory, the auth file; no variable of Berth's own process reaches it (no secrets, no
  database URL). Credentials are in per-build auth files (mode 0600), never on a command
  line, and any line of output that contains one is masked before it is logged.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ctypes
import json
import os
import re
import shutil
import signal
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from berth.builds.settings import ExecutorSettings
from berth.builds.types import Phase

STEP_RE = re.compile(r"^STEP \d+/\d+: ")
MASK = "********"


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class BuildSpec:
    uuid: str
    work_dir: Path  # the build's own directory (its context, storage and auth files)
    context_dir: Path  # the unpacked source
    context_subdir: str  # the build context inside it ("" : the root)
    dockerfile: str  # the Dockerfile's path inside the source
    registry: str  # host[:port] of Berth as the builder reaches it
    repository: str  # ns/name
    tags: tuple[str, ...]
    tls_verify: bool
    push: Callable[[], Credentials]  # a fresh push credential (made when the push starts)
    pull: Credentials | None = None
    context_url: str | None = None  # where a remote builder downloads the context

    @property
    def image(self) -> str:
        return f"{self.registry}/{self.repository}"

    def secrets(self) -> list[str]:
        return [self.pull.password] if self.pull is not None and self.pull.password else []


@dataclass(frozen=True)
class BuildResult:
    image_id: str
    digest: str | None  # the manifest pushed (the same for every tag)


class BuildFailed(Exception):
    """The build failed for its own reasons (phase ``error``); the message is the user's."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BuildCancelled(Exception):
    """The build was cancelled while the executor ran it; it stopped its builder."""


class BuildOutput(Protocol):
    async def phase(self, phase: str) -> None: ...

    async def command(self, text: str) -> None: ...

    async def output(self, text: str) -> None: ...


class Executor(Protocol):
    name: str

    async def run(self, spec: BuildSpec, out: BuildOutput, cancelled: asyncio.Event) -> BuildResult:
        """Build, push every tag, return the image; BuildFailed, or stop when cancelled."""
        ...


def mask(line: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret and secret in line:
            line = line.replace(secret, MASK)
    return line


def auth_file(path: Path, registry: str, creds: Credentials | None) -> Path:
    """A containers-auth.json with one registry's credentials, readable by its owner only."""
    auths = {}
    if creds is not None:
        token = base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
        auths[registry] = {"auth": token}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"auths": auths}, f)
    return path


def contained(args: list[str]) -> list[str]:
    """``args`` as the first process of a new PID namespace with its own /proc (``unshare
    --pid --fork --mount-proc --kill-child``; runc needs /proc to match its PIDs): when it
    ends or is killed, every process it started goes too, the RUN step's container included
    (runc gives the container its own session, out of reach of a process-group kill)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return args
    return [unshare, "--pid", "--fork", "--mount-proc", "--kill-child=SIGKILL", "--", *args]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """PR_SET_PDEATHSIG: the builder is killed if the worker that started it dies."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)


def tree_size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
    return total


class LocalExecutor:
    """``buildah bud`` and ``buildah push`` on this machine, one storage per build."""

    name = "local"

    def __init__(self, settings: ExecutorSettings) -> None:
        self.settings = settings
        self._runroots: dict[str, Path] = {}

    def _env(self, spec: BuildSpec, authfile: Path) -> dict[str, str]:
        home = spec.work_dir / "home"
        tmp = spec.work_dir / "tmp"
        home.mkdir(exist_ok=True)
        tmp.mkdir(exist_ok=True)
        return {
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": str(home),
            "TMPDIR": str(tmp),
            "XDG_RUNTIME_DIR": str(self._runroot(spec)),
            "REGISTRY_AUTH_FILE": str(authfile),
            "BUILDAH_ISOLATION": self.settings.isolation,
            "LANG": "C.UTF-8",
        }

    def _base(self, spec: BuildSpec) -> list[str]:
        return [
            self.settings.buildah,
            "--root",
            str(spec.work_dir / "storage"),
            "--runroot",
            str(self._runroot(spec)),
            "--storage-driver",
            "vfs",
        ]

    def bud_args(self, spec: BuildSpec, authfile: Path, iidfile: Path) -> list[str]:
        s = self.settings
        args = [
            *self._base(spec),
            "bud",
            "--authfile",
            str(authfile),
            "--iidfile",
            str(iidfile),
            "--isolation",
            s.isolation,
            "--network",
            s.network,
            "--layers=false",
            "--pull=true",
            f"--tls-verify={'true' if spec.tls_verify else 'false'}",
            "--ulimit",
            "nproc=4096:4096",
            "-f",
            str(spec.context_dir / spec.dockerfile),
        ]
        if s.memory_bytes:
            args += ["--memory", str(s.memory_bytes)]
        if s.cpu_millis:
            args += ["--cpu-period", "100000", "--cpu-quota", str(s.cpu_millis * 100)]
        for tag in spec.tags:
            args += ["-t", f"{spec.image}:{tag}"]
        args.append(str(spec.context_dir / spec.context_subdir))
        return args

    def push_args(self, spec: BuildSpec, authfile: Path, image_id: str, tag: str) -> list[str]:
        return [
            *self._base(spec),
            "push",
            "--authfile",
            str(authfile),
            f"--tls-verify={'true' if spec.tls_verify else 'false'}",
            "--digestfile",
            str(spec.work_dir / f"digest-{tag}"),
            image_id,
            f"docker://{spec.image}:{tag}",
        ]

    def _runroot(self, spec: BuildSpec) -> Path:
        """The build's run root: a short path in the system's temporary directory (runc's
        socket paths are limited in length), made private when the build starts."""
        return self._runroots[spec.uuid]

    async def run(self, spec: BuildSpec, out: BuildOutput, cancelled: asyncio.Event) -> BuildResult:
        if shutil.which(self.settings.buildah) is None:
            raise RuntimeError(f"the builder {self.settings.buildah!r} is not installed")
        runroot = Path(tempfile.mkdtemp(prefix="berth-build-"))
        self._runroots[spec.uuid] = runroot
        try:
            return await self._run(spec, out, cancelled)
        finally:
            self._runroots.pop(spec.uuid, None)
            await asyncio.to_thread(shutil.rmtree, runroot, True)

    async def _run(
        self, spec: BuildSpec, out: BuildOutput, cancelled: asyncio.Event
    ) -> BuildResult:
        pull_auth = auth_file(spec.work_dir / "pull-auth.json", spec.registry, spec.pull)
        iidfile = spec.work_dir / "iid"
        secrets = spec.secrets()
        await out.phase(Phase.PULLING)
        phase = [Phase.PULLING]

        async def on_line(line: str) -> None:
            if STEP_RE.match(line):
                if phase[0] == Phase.PULLING and not line.split(": ", 1)[1].startswith("FROM "):
                    phase[0] = Phase.BUILDING
                    await out.phase(Phase.BUILDING)
                await out.command(line)
            else:
                await out.output(line)

        await self._exec(
            self.bud_args(spec, pull_auth, iidfile),
            spec,
            self._env(spec, pull_auth),
            on_line,
            secrets,
            cancelled,
            what="the build",
        )
        if phase[0] == Phase.PULLING:
            await out.phase(Phase.BUILDING)
        image_id = iidfile.read_text().strip()
        await out.phase(Phase.PUSHING)
        push = spec.push()
        push_auth = auth_file(spec.work_dir / "push-auth.json", spec.registry, push)
        secrets.append(push.password)
        digest: str | None = None
        for tag in spec.tags:
            await out.command(f"Pushing {spec.repository}:{tag}")
            await self._exec(
                self.push_args(spec, push_auth, image_id, tag),
                spec,
                self._env(spec, push_auth),
                out.output,
                secrets,
                cancelled,
                what="the push",
                cancellable=False,
            )
            digest_file = spec.work_dir / f"digest-{tag}"
            if digest_file.exists():
                digest = digest_file.read_text().strip()
        return BuildResult(image_id if ":" in image_id else f"sha256:{image_id}", digest)

    async def _exec(
        self,
        args: list[str],
        spec: BuildSpec,
        env: dict[str, str],
        on_line: Callable[[str], Awaitable[None]],
        secrets: list[str],
        cancelled: asyncio.Event,
        *,
        what: str,
        cancellable: bool = True,
    ) -> None:
        proc = await asyncio.create_subprocess_exec(
            *contained(args),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
            cwd=str(spec.work_dir),
            start_new_session=True,  # its own process group: killed as a whole
            preexec_fn=_die_with_parent,
        )
        assert proc.stdout is not None
        stop_reason: list[str] = []

        async def pump() -> None:
            assert proc.stdout is not None
            while raw := await proc.stdout.readline():
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                if line:
                    await on_line(mask(line, secrets))

        async def watch() -> None:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.settings.timeout_s
            limit = self.settings.max_disk_bytes
            while proc.returncode is None:
                if cancellable and cancelled.is_set():
                    stop_reason.append("cancelled")
                    break
                if loop.time() > deadline:
                    stop_reason.append(
                        f"The build took longer than {self.settings.timeout_s} seconds"
                    )
                    break
                if limit and await asyncio.to_thread(tree_size, spec.work_dir) > limit:
                    stop_reason.append(f"The build used more than {limit} bytes of disk")
                    break
                if cancellable:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(asyncio.shield(cancelled.wait()), 2.0)
                else:
                    await asyncio.sleep(2.0)
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)

        watcher = asyncio.create_task(watch())
        try:
            await pump()
            code = await proc.wait()
        finally:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        if stop_reason:
            if stop_reason[0] == "cancelled":
                raise BuildCancelled()
            raise BuildFailed(stop_reason[0])
        if code != 0:
            raise BuildFailed(f"{what} failed (exit code {code})")
