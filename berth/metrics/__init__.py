"""What Berth measures about itself, behind one small protocol.

``Recorder`` is what the rest of Berth is given (by the composition root): the HTTP edge
reports each request, the garbage collector each pass. ``NullRecorder`` records nothing
(one-shot CLI commands, tests that do not look). ``berth.metrics.prometheus`` is the
implementation behind ``/metrics``.

Hot-path cost: a request is one call that adds to plain per-process totals; the totals go
to prometheus-client's values once a second (``flush``), off the request's path.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import MutableMapping
from pathlib import Path
from typing import Protocol

__all__ = ["MULTIPROC_ENV", "NullRecorder", "Recorder", "prepare_multiprocess_dir", "route_kind"]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


class Recorder(Protocol):
    def request(
        self, kind: str, method: str, status: int, seconds: float, received: int, sent: int
    ) -> None:
        """One HTTP request: its route kind (``route_kind``), status, duration, and the
        body bytes it received and sent."""

    def gc_pass(self, *, blobs_freed: int, bytes_freed: int) -> None:
        """One garbage-collection pass and what it freed from storage."""


class NullRecorder:
    def request(
        self, kind: str, method: str, status: int, seconds: float, received: int, sent: int
    ) -> None:
        return None

    def gc_pass(self, *, blobs_freed: int, bytes_freed: int) -> None:
        return None


def route_kind(path: str) -> str:
    """The route kind of a request path: a label with a handful of values (never the
    repository or tag, which would make a series per repository)."""
    if path.startswith("/v2/"):
        if path == "/v2/":
            return "v2_base"
        if path == "/v2/auth":
            return "token"
        if path == "/v2/_catalog":
            return "catalog"
        if "/manifests/" in path:
            return "manifest"
        if "/blobs/uploads/" in path:
            return "upload"
        if "/blobs/" in path:
            return "blob"
        if path.endswith("/tags/list"):
            return "tags"
        if "/referrers/" in path:
            return "referrers"
        return "v2_other"
    if path.startswith("/api/"):
        return "api"
    if path.startswith("/health") or path == "/status":
        return "health"
    if path == "/metrics":
        return "metrics"
    return "other"


def prepare_multiprocess_dir(data_dir: Path, env: MutableMapping[str, str]) -> Path:
    """An empty directory for the metric files of this server (``data_dir/metrics/<pid>``,
    this process being the server's master), named in ``env`` (``os.environ``) before any
    process of the server imports prometheus-client. Directories of servers that are gone
    are removed. An operator's own ``PROMETHEUS_MULTIPROC_DIR`` is kept (and emptied)."""
    if env.get(MULTIPROC_ENV):
        path = Path(env[MULTIPROC_ENV])
    else:
        root = data_dir / "metrics"
        root.mkdir(parents=True, mode=0o700, exist_ok=True)
        for old in root.iterdir():
            if old.name.isdigit() and not _alive(int(old.name)):
                shutil.rmtree(old, ignore_errors=True)
        path = root / str(os.getpid())
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True, mode=0o700)
    env[MULTIPROC_ENV] = str(path)
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
