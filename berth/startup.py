"""The first-start handshake between ``berth serve``, its setup child and the server.

``berth serve`` forks the database setup (schema upgrade, first-run admin) into a child that
writes its outcome to a status file; the server answers requests only once it reads ``ok``
there (``wait_for_setup``), and stops when the setup failed (``SetupWatch``).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

SETUP_OK = "ok"


def setup_status_path(data_dir: Path, master_pid: int) -> Path:
    return data_dir / f".serve-setup-{master_pid}"


def write_setup_status(path: Path, status: str) -> None:
    """Publish the setup's outcome in one step (readers never see a partial file)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(status)
    tmp.replace(path)


def read_setup_status(path: Path, *, timeout_s: float) -> str:
    """The setup's outcome, waiting for it up to ``timeout_s`` (a migration can be long)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return path.read_text()
        except FileNotFoundError:
            if time.monotonic() > deadline:
                return f"no setup result after {timeout_s:.0f} s"
            time.sleep(0.005)


def wait_for_setup(options: dict[str, Any]) -> None:
    """In a worker: return once the database is ready; exit when its setup failed."""
    setup = options.get("setup")
    if not setup:
        return
    status = read_setup_status(Path(setup["status"]), timeout_s=3600)
    if status != SETUP_OK:
        # The setup child has said why; the master stops the server.
        raise SystemExit(1)


class SetupWatch:
    """In the master: reap the setup child; when it failed, stop the server."""

    def __init__(self, setup: dict[str, Any]) -> None:
        self.pid = int(setup["pid"])
        self.status = Path(setup["status"])
        self.failed = False
        self.thread = threading.Thread(target=self._watch, name="berth-setup", daemon=True)

    def _watch(self) -> None:
        try:
            _, raw = os.waitpid(self.pid, 0)
            ok = os.waitstatus_to_exitcode(raw) == 0
        except ChildProcessError:  # reaped elsewhere: its status file tells
            ok = read_setup_status(self.status, timeout_s=3600) == SETUP_OK
        if not ok:
            self.failed = True
            os.kill(os.getpid(), signal.SIGTERM)

    def close(self) -> None:
        self.status.unlink(missing_ok=True)
