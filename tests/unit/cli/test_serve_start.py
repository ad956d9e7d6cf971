"""``berth serve`` prepares the database while the server starts, and serves only after."""

from __future__ import annotations

import base64
import http.client
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from devservers import free_port, stop_process

pytestmark = pytest.mark.slow


def _serve(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "berth", "serve", "--host", "127.0.0.1", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def _status(port: int, headers: dict[str, str]) -> int | None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/v2/", headers=headers)
        return conn.getresponse().status
    except OSError:
        return None
    finally:
        conn.close()


def _serve_until_200(data: Path, log: Path) -> None:
    """``berth serve --data-dir data`` until GET /v2/ as the first-run admin answers 200."""
    port = free_port()
    proc = _serve(["--data-dir", str(data), "--port", str(port)], log)
    try:
        deadline = time.monotonic() + 120
        status = None
        while status != 200 and time.monotonic() < deadline and proc.poll() is None:
            secret = data / "initial-admin-password"
            if secret.exists() and secret.read_text().endswith("\n"):
                token = base64.b64encode(f"admin:{secret.read_text().strip()}".encode())
                status = _status(port, {"Authorization": f"Basic {token.decode()}"})
            time.sleep(0.05)
        assert status == 200, log.read_text()
    finally:
        stop_process(proc)


def test_first_start_serves_the_admin_it_created_and_a_restart_serves_at_once(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    _serve_until_200(data, tmp_path / "first.log")
    assert "created superuser 'admin'" in (tmp_path / "first.log").read_text()
    assert not list(data.glob(".serve-setup-*")), "the master removed its status file"

    _serve_until_200(data, tmp_path / "restart.log")
    assert (
        "log in:   podman login --tls-verify=false -u <user>"
        in (tmp_path / "restart.log").read_text()
    )


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failed_database_setup_stops_the_server_with_its_reason(
    tmp_path: Path, workers: int
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "DB_URI": f"postgresql://postgres@127.0.0.1:{free_port()}/nothing",
                "SECRET_KEY": "k",
                "DATABASE_SECRET_KEY": "d",
                "BERTH_DATA_DIR": str(tmp_path / "data"),
                "BERTH_WORKERS": workers,
            }
        )
    )
    log = tmp_path / "serve.log"
    proc = _serve(["--config", str(config), "--port", str(free_port())], log)
    try:
        code = proc.wait(timeout=120)
    finally:
        stop_process(proc)
    output = log.read_text()
    assert code == 1, output
    # Caught by the connection checks before the server and its setup start (a database
    # that fails later, during the setup, says "preparing the database failed").
    assert "berth: cannot start:" in output
    assert "database: cannot connect" in output
    assert "Traceback" not in output


def _children(pid: int) -> list[int]:
    tasks = Path(f"/proc/{pid}/task")
    found: list[int] = []
    for task in tasks.iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def test_one_worker_is_one_process_that_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    """One worker: no supervising master (a second interpreter's memory for nothing); the
    process serves, and SIGTERM ends it with status 0 once in-flight work is done."""
    data = tmp_path / "data"
    _serve_until_200(data, tmp_path / "first.log")  # the setup child has come and gone
    port = free_port()
    log = tmp_path / "serve.log"
    proc = _serve(["--data-dir", str(data), "--port", str(port), "--workers", "1"], log)
    try:
        deadline = time.monotonic() + 60
        while _status(port, {}) != 401 and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            time.sleep(0.05)
        assert _status(port, {}) == 401  # it serves (anonymous /v2/ asks for credentials)
        assert _children(proc.pid) == [], "a single worker runs in the serving process"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, log.read_text()
    finally:
        stop_process(proc)
    assert "Traceback" not in log.read_text()
    assert "experimental" not in log.read_text()
