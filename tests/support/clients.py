"""Find and run the real OCI clients used by the end-to-end tests.

skopeo, podman, buildah and umoci come from Debian (on PATH); oras, cosign and crane are
unpacked into ``tools/bin`` of the repository by ``scripts/install-test-deps``. A test that
needs a missing client FAILS (never skips) with a message naming that script.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOLS_BIN = REPO_ROOT / "tools" / "bin"
INSTALL_HINT = "run scripts/install-test-deps (as root) to install the test dependencies"

SYSTEM_CLIENTS = ("skopeo", "podman", "buildah", "umoci")
TOOLS_CLIENTS = ("oras", "cosign", "crane")
KNOWN_CLIENTS = SYSTEM_CLIENTS + TOOLS_CLIENTS
DEFAULT_TIMEOUT = 300.0


def find(name: str) -> Path | None:
    """Path of client ``name``, or None. tools/bin first for oras/cosign/crane, then PATH."""
    if name in TOOLS_CLIENTS:
        candidate = TOOLS_BIN / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(name)
    return Path(found) if found else None


def available(name: str) -> bool:
    return find(name) is not None


def require(name: str) -> Path:
    """Path of client ``name``; fails the calling test when it is not installed."""
    path = find(name)
    if path is None:
        where = f"{TOOLS_BIN} or PATH" if name in TOOLS_CLIENTS else "PATH"
        pytest.fail(f"client {name!r} not found in {where}: {INSTALL_HINT}", pytrace=False)
    return path


def run(
    name: str,
    *args: str | os.PathLike[str],
    timeout: float = DEFAULT_TIMEOUT,
    check: bool = False,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run client ``name`` with ``args``; return the CompletedProcess (text output captured).

    ``env`` is added to the current environment. Going past ``timeout`` seconds kills the
    client and fails the test; so does a non-zero exit status when ``check`` is true. Both
    failures show the command line and the client's output.
    """
    cmd = [str(require(name)), *map(str, args)]
    full_env = {**os.environ, **(env or {})}
    try:
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=full_env,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            cwd=cwd,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(
            f"{name} timed out after {timeout:g}s: {' '.join(cmd)}\n"
            f"{_output(_text(exc.stdout), _text(exc.stderr))}",
            pytrace=False,
        )
    if check and proc.returncode != 0:
        pytest.fail(
            f"{name} exited {proc.returncode}: {' '.join(cmd)}\n"
            f"{_output(proc.stdout, proc.stderr)}",
            pytrace=False,
        )
    return proc


def _text(data: str | bytes | None) -> str:
    if data is None:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else data


def _output(stdout: str, stderr: str, limit: int = 6000) -> str:
    return f"--- stdout ---\n{stdout[-limit:]}\n--- stderr ---\n{stderr[-limit:]}"
