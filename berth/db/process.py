"""Process identities for leases: who holds a row, and whether that holder is still alive."""

from __future__ import annotations

import os
import socket


def _start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (tells a live process from a reused pid)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # comm (field 2) may contain spaces; fields after the closing parenthesis are fixed.
    fields = stat[stat.rindex(b")") + 2 :].split()
    return fields[19].decode()  # field 22: starttime


def process_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{_start_time(os.getpid()) or '0'}"


def holder_alive(holder: str) -> bool:
    """False only when ``holder`` surely died: it ran on this host and its process is gone.

    Holders on other hosts are presumed alive; their leases simply expire.
    """
    try:
        host, pid, started = holder.rsplit(":", 2)
    except ValueError:
        return True
    if host != socket.gethostname():
        return True
    return _start_time(int(pid)) == started if pid.isdigit() else True
