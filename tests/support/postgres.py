"""Real, throwaway PostgreSQL and Redis servers for tests.

Both run from Debian's binaries (installed by ``scripts/install-test-deps``) on a free
loopback port, in a temporary directory, and are stopped when the generator is closed.
Use them from a fixture::

    @pytest.fixture(scope="session")
    def postgres_url(tmp_path_factory):
        yield from postgres_server(tmp_path_factory)

PostgreSQL refuses to run as root, so ``initdb`` and ``pg_ctl`` run as the ``postgres``
system user (created by the Debian package) through ``runuser``, in a directory it owns.
A missing binary or user fails the test with a message naming the install script: these
tests never skip silently.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

INSTALL_HINT = "run scripts/install-test-deps (as root) to install the test dependencies"
PG_VERSION = "15"
PG_USER = "postgres"
START_TIMEOUT = 60.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pg_bindir() -> Path:
    """Directory of Debian's PostgreSQL server binaries; fails the test when missing."""
    override = os.environ.get("BERTH_PG_BINDIR")
    candidates = [Path(override)] if override else []
    candidates.append(Path(f"/usr/lib/postgresql/{PG_VERSION}/bin"))
    for bindir in candidates:
        if all((bindir / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres", "psql")):
            return bindir
    pytest.fail(
        f"PostgreSQL server binaries not found in {', '.join(map(str, candidates))}: "
        f"{INSTALL_HINT}",
        pytrace=False,
    )


def _runuser_prefix() -> list[str]:
    if os.geteuid() != 0:
        return []  # an ordinary user can run postgres directly
    try:
        pwd.getpwnam(PG_USER)
    except KeyError:
        pytest.fail(f"system user {PG_USER!r} does not exist: {INSTALL_HINT}", pytrace=False)
    runuser = shutil.which("runuser")
    if runuser is None:
        pytest.fail("runuser (util-linux) not found; it is needed to run PostgreSQL as root")
    return [runuser, "-u", PG_USER, "--"]


def _run(cmd: list[str], *, cwd: Path, what: str, timeout: float = 120.0) -> None:
    proc = subprocess.run(
        cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        pytest.fail(
            f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n"
            f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}",
            pytrace=False,
        )


def _owned_tempdir(prefix: str) -> Path:
    """A fresh directory under the system temp dir, owned by the postgres user when root.

    Not under pytest's basetemp: that one is mode 0700 and root's, so postgres cannot enter.
    """
    path = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:
        entry = pwd.getpwnam(PG_USER)
        os.chown(path, entry.pw_uid, entry.pw_gid)
    return path


def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start PostgreSQL; yield ``postgresql://postgres@127.0.0.1:<port>/postgres``; stop it.

    Trust authentication for 127.0.0.1 only, fsync off. The server's log is copied into a
    pytest temp directory (``postgres-log*``) when it stops, for post-mortems.
    """
    bindir = pg_bindir()
    prefix = _runuser_prefix()
    root = _owned_tempdir("berth-pg-")
    data = root / "data"
    logfile = root / "server.log"
    try:
        _run(
            [
                *prefix,
                str(bindir / "initdb"),
                "-D", str(data),
                "-U", PG_USER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            ],
            cwd=root,
            what="initdb",
        )  # fmt: skip
        # Only TCP on 127.0.0.1 is accepted (the unix socket lives in the private dir).
        hba = "# TYPE DATABASE USER ADDRESS METHOD\nhost all all 127.0.0.1/32 trust\n"
        (data / "pg_hba.conf").write_text(hba)
        port = _start_postgres(bindir, prefix, root, data, logfile)
        try:
            yield f"postgresql://{PG_USER}@127.0.0.1:{port}/postgres"
        finally:
            subprocess.run(
                [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w",
                 "stop"],
                cwd=root, capture_output=True, timeout=60, check=False,
            )  # fmt: skip
    finally:
        if logfile.exists():
            keep = tmp_path_factory.mktemp("postgres-log")
            shutil.copyfile(logfile, keep / "server.log")
        shutil.rmtree(root, ignore_errors=True)


def _start_postgres(bindir: Path, prefix: list[str], root: Path, data: Path, logfile: Path) -> int:
    last_error = ""
    for _attempt in range(3):  # a "free" port can be taken between probe and bind
        port = free_port()
        options = (
            f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={root} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=200"
        )
        proc = subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(logfile),
             "-o", options, "-w", "-t", str(int(START_TIMEOUT)), "start"],
            cwd=root, capture_output=True, text=True, timeout=START_TIMEOUT + 30, check=False,
        )  # fmt: skip
        if proc.returncode == 0:
            return port
        log = logfile.read_text(errors="replace") if logfile.exists() else ""
        last_error = f"{proc.stdout}\n{proc.stderr}\n--- server log ---\n{log[-4000:]}"
        if "could not bind" not in log and "already in use" not in log:
            break
    pytest.fail(f"PostgreSQL did not start:\n{last_error}", pytrace=False)


_DB_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def create_database(url: str, name: str) -> str:
    """Create database ``name`` on the server of ``url``; return the URL that points at it."""
    if not _DB_NAME.match(name):
        raise ValueError(f"database name {name!r} must match {_DB_NAME.pattern}")
    parts = urlsplit(url)
    if parts.hostname is None or parts.port is None:
        raise ValueError(f"{url!r} must name a host and a port")
    psql = pg_bindir() / "psql"
    cmd = [
        str(psql), "-X", "-q", "-v", "ON_ERROR_STOP=1",
        "-h", parts.hostname, "-p", str(parts.port), "-U", parts.username or PG_USER,
        "-d", "postgres", "-c", f'CREATE DATABASE "{name}"',
    ]  # fmt: skip
    env = {**os.environ, "PGCONNECT_TIMEOUT": "10"}
    if parts.password:
        env["PGPASSWORD"] = parts.password
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"CREATE DATABASE {name} failed: {proc.stderr.strip()}")
    return urlunsplit(parts._replace(path=f"/{name}"))


def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start ``redis-server`` on a free loopback port; yield ``redis://127.0.0.1:<port>/0``."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail(f"redis-server not found: {INSTALL_HINT}", pytrace=False)
    workdir = tmp_path_factory.mktemp("redis")
    last_error = ""
    for _attempt in range(3):
        port = free_port()
        logfile = workdir / f"redis-{port}.log"
        with logfile.open("wb") as log:
            proc = subprocess.Popen(
                [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--daemonize", "no", "--dir", str(workdir)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        try:
            if _wait_for_redis(proc, port):
                try:
                    yield f"redis://127.0.0.1:{port}/0"
                finally:
                    _stop(proc)
                return
            last_error = logfile.read_text(errors="replace")[-4000:]
        finally:
            _stop(proc)
    pytest.fail(f"redis-server did not start:\n{last_error}", pytrace=False)


def _wait_for_redis(proc: subprocess.Popen[bytes], port: int) -> bool:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", port), timeout=1) as s,
        ):
            s.sendall(b"PING\r\n")
            if s.recv(64).startswith(b"+PONG"):
                return True
        time.sleep(0.05)
    return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
