"""Real ``berth serve`` processes for the end-to-end tests.

Every server runs as its own process group (granian's main process and its worker), on a
free loopback port, with SERVER_HOSTNAME set to ``127.0.0.1:<port>`` (tokens are checked
against it). Its output goes to a log file that is attached to the report of a failing test.

Fixtures:
  berth_factory  start any number of servers from config dicts (killed on teardown)
  berth          one server on each deployment (embedded, distributed), user ``alice`` made
  client_env     HOME and DOCKER_CONFIG for oras/cosign/crane, logged in as alice
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import distributed_config, embedded_config, write_config
from tests.support.clients import TOOLS_BIN

BERTH = Path(sys.executable).parent / "berth"
START_TIMEOUT = 60.0
ALICE = ("alice", "alice-password-1")
ROOT = ("root", "root-password-1")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class BerthServer:
    """One ``berth serve`` process group on a fixed port, restartable on the same config."""

    name: str
    config: dict[str, Any]
    config_path: Path
    port: int
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    users: dict[str, str] = field(default_factory=dict)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def start(self) -> None:
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"\n===== start #{self.starts} of {self.name} =====\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                [
                    str(BERTH),
                    "serve",
                    "--config",
                    str(self.config_path),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--workers",
                    "1",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self._wait_ready()

    def _wait_ready(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(
                    f"berth serve ({self.name}) exited with {self.proc.returncode} on start:\n"
                    f"{self.log_tail()}",
                    pytrace=False,
                )
            try:
                r = httpx.get(f"{self.url}/v2/", timeout=2.0)
            except httpx.TransportError:
                time.sleep(0.1)
                continue
            if r.status_code in (200, 401):
                return
            time.sleep(0.1)
        self.kill()
        pytest.fail(
            f"berth serve ({self.name}) did not answer GET /v2/ within {START_TIMEOUT:g}s:\n"
            f"{self.log_tail()}",
            pytrace=False,
        )

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the whole process group and wait until the port is free."""
        proc = self.proc
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)
        # the worker is in the same group; make sure it is gone too
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                break
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        self.proc = None

    def stop(self) -> None:
        self.kill(signal.SIGTERM)

    def restart(self) -> None:
        self.kill()
        self.start()

    def create_user(self, name: str, password: str, *, superuser: bool = False) -> None:
        args = [str(BERTH), "admin", "create-user", name, "--password-stdin"]
        args += ["--config", str(self.config_path)]
        if superuser:
            args.append("--superuser")
        proc = subprocess.run(
            args, input=password + "\n", capture_output=True, text=True, timeout=120, check=False
        )
        assert proc.returncode == 0, f"create-user {name} failed:\n{proc.stdout}{proc.stderr}"
        self.users[name] = password

    def client(self, user: tuple[str, str] | None = ALICE, **kw: Any) -> httpx.Client:
        """httpx client on this server with HTTP Basic credentials (Berth accepts them on /v2)."""
        kw.setdefault("timeout", 60.0)
        return httpx.Client(base_url=self.url, auth=user, **kw)

    def log_tail(self, lines: int = 120) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


E2E_BUCKET = "berth-e2e"


def e2e_distributed_config(
    tmp: Path, postgres_url: str, s3: dict[str, str], **extra: Any
) -> dict[str, Any]:
    """``distributed_config`` (a fresh database) with one shared bucket and a fresh prefix.

    SeaweedFS grows 7 volumes for every new bucket and the test server allows 64, so a
    bucket per test runs it out of space after about 9 tests (writes then fail with 503).
    """
    config = distributed_config(tmp, postgres_url, s3, **extra)
    (name, (driver, params)) = next(iter(config["DISTRIBUTED_STORAGE_CONFIG"].items()))
    prefix = f"e2e/{params['s3_bucket']}"
    params = {**params, "s3_bucket": E2E_BUCKET, "storage_path": prefix}
    return {**config, "DISTRIBUTED_STORAGE_CONFIG": {name: [driver, params]}}


@pytest.fixture(
    params=[
        "embedded",
        pytest.param("distributed", marks=[pytest.mark.slow, pytest.mark.postgres, pytest.mark.s3]),
    ]
)
def deployment(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    """Each deployment's config (overrides tests/conftest.py: one bucket for all e2e tests)."""
    if request.param == "embedded":
        return embedded_config(tmp_path)
    pg = request.getfixturevalue("postgres_url")
    s3 = request.getfixturevalue("s3_server")
    return e2e_distributed_config(tmp_path, pg, s3)


_SERVERS = pytest.StashKey[list[BerthServer]]()

StartServer = Callable[..., BerthServer]


@pytest.fixture
def berth_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StartServer]:
    """``start(config, name=..., port=None, hostname=None, start=True)`` -> BerthServer.

    SERVER_HOSTNAME becomes ``127.0.0.1:<port>`` unless ``hostname`` is given.
    """
    servers: list[BerthServer] = []
    request.node.stash[_SERVERS] = servers

    def start(
        config: dict[str, Any],
        name: str = "berth",
        port: int | None = None,
        hostname: str | None = None,
        start: bool = True,
    ) -> BerthServer:
        port = port or _free_port()
        cfg = {**config, "SERVER_HOSTNAME": hostname or f"127.0.0.1:{port}"}
        server = BerthServer(
            name=name,
            config=cfg,
            config_path=write_config(tmp_path, cfg),
            port=port,
            log_path=tmp_path / f"berth-{name}-{port}.log",
        )
        servers.append(server)
        if start:
            server.start()
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def berth(deployment: dict[str, Any], berth_factory: StartServer) -> BerthServer:
    """A running server on each deployment, with the ordinary user ``alice``."""
    server = berth_factory(deployment, name="embedded" if "DB_URI" not in deployment else "dist")
    server.create_user(*ALICE)
    return server


@pytest.fixture
def client_env(berth: BerthServer, tmp_path: Path) -> dict[str, str]:
    """Environment for oras/cosign/crane: a private HOME and a docker config for alice."""
    home = tmp_path / "home"
    docker = tmp_path / "docker-config"
    home.mkdir(exist_ok=True)
    docker.mkdir(exist_ok=True)
    auth = base64.b64encode(f"{ALICE[0]}:{ALICE[1]}".encode()).decode()
    (docker / "config.json").write_text(json.dumps({"auths": {berth.host: {"auth": auth}}}))
    return {"HOME": str(home), "DOCKER_CONFIG": str(docker)}


@pytest.fixture(autouse=True, scope="session")
def _tools_on_path() -> None:
    path = os.environ.get("PATH", "")
    if str(TOOLS_BIN) not in path.split(os.pathsep):
        os.environ["PATH"] = f"{TOOLS_BIN}{os.pathsep}{path}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.failed:
        for server in item.stash.get(_SERVERS, []):
            report.sections.append(
                (f"berth server {server.name} ({server.host}) log", server.log_tail())
            )
    return report
