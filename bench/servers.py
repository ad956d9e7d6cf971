"""Throwaway servers for ``berth bench``: CNCF distribution and Berth (PostgreSQL, Redis and
SeaweedFS for the distributed deployment come from ``devservers``, as for the tests).

Every server listens on a free loopback port, keeps its data in a directory the caller
owns, and is stopped by ``stop()``. A failure raises :class:`BenchSetupError` with the
server's log tail so the command can say what broke.
"""

from __future__ import annotations

import base64
import http.client
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from devservers import (
    INSTALL_HINT,
    START_TIMEOUT,
    DevServerError,
    free_port,
    log_tail,
    stop_process,
)

DISTRIBUTION_BINARY = "/usr/bin/docker-registry"


BenchSetupError = DevServerError  # one error type for every server the benchmark starts


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
    """Debian's ``docker-registry``, deletes enabled: filesystem storage in ``workdir``, or
    the S3 bucket ``s3`` describes (keys ``bucket``, ``endpoint``, ``access_key``,
    ``secret_key``) so a distributed run compares both registries on the same S3 server,
    both serving blob bytes themselves (redirects off)."""

    workdir: Path
    s3: dict[str, str] | None = None
    port: int = 0
    proc: subprocess.Popen | None = None
    # Pull-through mode (``proxy.remoteurl``): a cache of this registry URL (bench/proxy.py).
    proxy_remote: str | None = None

    def _storage(self, root: Path) -> dict[str, object]:
        if self.s3 is None:
            driver: dict[str, object] = {"filesystem": {"rootdirectory": str(root)}}
        else:
            driver = {
                "s3": {
                    "accesskey": self.s3["access_key"],
                    "secretkey": self.s3["secret_key"],
                    "region": "us-east-1",
                    # An endpoint makes the driver use path-style requests.
                    "regionendpoint": self.s3["endpoint"],
                    "bucket": self.s3["bucket"],
                    "rootdirectory": "/registry",
                    "secure": False,
                    "v4auth": True,
                }
            }
        storage = {
            **driver,
            "delete": {"enabled": True},
            "cache": {"blobdescriptor": "inmemory"},
            # The upload purger starts at a random time in the first hour; walking the
            # uploads on SeaweedFS it panicked (index out of range, purgeuploads.go:73) and
            # took the registry down mid-run. Not part of any measured path either way.
            "maintenance": {"uploadpurging": {"enabled": False}},
        }
        if self.s3 is not None:
            # Serve blob bytes itself, as Berth does with FEATURE_PROXY_STORAGE (both
            # registries' own data paths are measured), and HEAD answers 200, not 307.
            storage["redirect"] = {"disable": True}
        return storage

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
                "storage": self._storage(root),
                "http": {"addr": f"127.0.0.1:{self.port}"},
            }
            if self.proxy_remote:
                config["proxy"] = {"remoteurl": self.proxy_remote}
            cfg = self.workdir / "config.yml"
            cfg.write_text(yaml.safe_dump(config))
            # Its AWS SDK panics on AWS_CA_BUNDLE with its own transport (loopback http anyway).
            env = {k: v for k, v in clean_env().items() if k != "AWS_CA_BUNDLE"}
            self.proc = spawn([DISTRIBUTION_BINARY, "serve", str(cfg)], log, env)
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
