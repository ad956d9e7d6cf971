"""What a new user trips over in the first hour, each fixed: commands run elsewhere find the
registry meant (or refuse and say how), a taken port is one line, the data is private, the
banner keeps naming the initial admin password, and there is a way out of a login back-off."""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from berth.auth.errors import TooManyAttempts
from devservers import free_port, stop_process
from tests.unit.cli.test_serve_start import _serve, _status

BERTH = [sys.executable, "-m", "berth"]


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BERTH_", "QUAY_"))}
    env.update(HOME=str(home), XDG_STATE_HOME=str(home / "state"), **extra)
    return env


def _berth(
    *args: str, cwd: Path, env: dict[str, str], stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*BERTH, *args], cwd=cwd, env=env, input=stdin, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip


def test_commands_elsewhere_refuse_when_no_registry_is_known(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for args in (("gc", "--dry-run"), ("admin", "create-user", "bob"), ("jobs", "list")):
        proc = _berth(*args, cwd=elsewhere, env=_env(tmp_path))
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert "no registry found" in proc.stderr
        assert "--data-dir" in proc.stderr and "BERTH_CONFIG" in proc.stderr  # noqa: PT018
        assert len(proc.stderr.strip().splitlines()) == 1
    assert list(elsewhere.iterdir()) == []  # no empty registry created here


def _wait_up(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        if _status(port, {}) in (200, 401):
            return
        time.sleep(0.05)
    pytest.fail(log.read_text())


@pytest.mark.slow
def test_serve_restart_port_taken_commands_elsewhere_and_private_data(tmp_path: Path) -> None:
    home = tmp_path / "home"
    data = tmp_path / "registry" / "berth-data"
    env = _env(home, PATH="/usr/bin:/bin")  # the venv's bin is not on PATH
    port = free_port()

    def serve(log: Path) -> subprocess.Popen[bytes]:
        old = dict(os.environ)
        os.environ.clear()
        os.environ.update(env)
        try:
            return _serve(["--data-dir", str(data), "--port", str(port)], log)
        finally:
            os.environ.clear()
            os.environ.update(old)

    first = tmp_path / "first.log"
    proc = serve(first)
    try:
        _wait_up(port, proc, first)
        password = (data / "initial-admin-password").read_text().strip()
        # the data is its owner's only
        assert stat.S_IMODE(data.stat().st_mode) == 0o700
        assert stat.S_IMODE((data / "berth.db").stat().st_mode) == 0o600
        # a second server on the same port: one clear line, no traceback
        taken = _berth("serve", "--data-dir", str(tmp_path / "other"), "--port", str(port),
                       cwd=tmp_path, env=env)  # fmt: skip
        assert taken.returncode == 1
        assert f"berth: port {port} on 127.0.0.1 is already in use" in taken.stderr
        assert "Traceback" not in taken.stdout + taken.stderr
        assert len(taken.stderr.strip().splitlines()) == 1
        # commands run from another directory act on the registry being served
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        made = _berth("admin", "create-user", "bob", "--password-stdin", cwd=elsewhere, env=env,
                      stdin="bob-password-1\n")  # fmt: skip
        assert made.returncode == 0, made.stderr
        assert f"--data-dir {data}" in made.stderr
        assert list(elsewhere.iterdir()) == []
        again = _berth("admin", "create-user", "bob", "--password-stdin", "--data-dir", str(data),
                       cwd=elsewhere, env=env, stdin="bob-password-1\n")  # fmt: skip
        assert "bob" in again.stderr  # the same registry: bob exists there now
        assert again.returncode == 1
    finally:
        stop_process(proc)
    # after a restart the banner still says where the admin password is
    second = tmp_path / "second.log"
    proc = serve(second)
    try:
        _wait_up(port, proc, second)
    finally:
        stop_process(proc)
    banner = second.read_text()
    assert f"password in {data / 'initial-admin-password'}" in banner
    assert "not on PATH" in banner
    assert password not in banner


def test_back_off_message_says_how_long_and_how_out() -> None:
    message = str(TooManyAttempts(7))
    assert "reset your password" not in message
    assert "7 seconds" in message
    assert "berth admin set-password" in message


def test_set_password_ends_a_back_off(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    env = _env(tmp_path)
    made = _berth("admin", "create-user", "carol", "--password-stdin", "--data-dir", data,
                  cwd=tmp_path, env=env, stdin="carol-password-1\n")  # fmt: skip
    assert made.returncode == 0, made.stderr
    import asyncio

    from berth.cli.common import cli_settings
    from berth.services import create_services

    settings = cli_settings(None, data)

    async def failures() -> int:
        svc = create_services(settings, pool_size=1)
        try:
            for _ in range(3):
                with contextlib.suppress(Exception):
                    await svc.auth.authenticate_basic("carol", "wrong-password", ip=None)
            try:
                await svc.auth.authenticate_basic("carol", "carol-password-1", ip=None)
            except TooManyAttempts:
                return 429
            return 200
        finally:
            await svc.close()

    assert asyncio.run(failures()) == 429
    reset = _berth("admin", "set-password", "carol", "--password-stdin", "--data-dir", data,
                   cwd=tmp_path, env=env, stdin="carol-password-2\n")  # fmt: skip
    assert reset.returncode == 0, reset.stderr

    async def login() -> str:
        svc = create_services(settings, pool_size=1)
        try:
            return (await svc.auth.authenticate_basic("carol", "carol-password-2", ip=None)).name
        finally:
            await svc.close()

    assert asyncio.run(login()) == "carol"


def test_port_check_frees_the_probe_socket() -> None:
    from berth.cli.main import _port_free_or_exit

    port = free_port()
    _port_free_or_exit("127.0.0.1", port)
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))  # still free after the check


def test_licence_is_an_spdx_expression() -> None:
    """A licence table makes setuptools print deprecation warnings at every install."""
    import tomllib

    root = Path(__file__).resolve().parents[3]
    pyproject = tomllib.loads((root / "pyproject.toml").read_text())
    assert pyproject["project"]["license"] == "Apache-2.0"
    assert not any(c.startswith("License ::") for c in pyproject["project"].get("classifiers", []))
