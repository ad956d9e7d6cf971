"""What quotas and pull statistics cost (issue 15's targets: >= 0.95x each).

- ``compare_push_with_quota``: manifest PUT throughput of a Berth with a quota against the
  same Berth without one.
- ``compare_pull_with_stats``: manifest GET throughput (conc 16) with
  FEATURE_IMAGE_PULL_STATS against without (the counters are folded into the pull log's
  flush, off the request).

Two Berths of the deployment under test, identical but for the quota keys: B has
FEATURE_QUOTA_MANAGEMENT and a system-wide Reject limit (DEFAULT_SYSTEM_REJECT_QUOTA_BYTES,
1 PiB: never reached), so every push that adds bytes runs the check (its indexed read of
the namespace's quota; the new total comes back from the size UPDATE the push runs anyway).
regbench's ``manifest_put`` (conc 8, manifests sharing their blobs, so each push adds its
manifest's bytes) times both, interleaved, with A the Berth without quota.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.servers import Berth

REGBENCH = Path(__file__).with_name("regbench.py")
QUOTA_KEYS: dict[str, object] = {
    "FEATURE_QUOTA_MANAGEMENT": True,
    "DEFAULT_SYSTEM_REJECT_QUOTA_BYTES": 2**50,
}
TARGET = 0.95


def compare_push_with_quota(
    workdir: Path,
    user: str,
    password: str,
    config_of: Callable[[str], dict[str, object]],
    *,
    quick: bool,
    workers: int | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """``{plain, quota}`` manifest PUTs per second (medians), ``ratio`` and ``target``."""
    return _compare(
        workdir, user, password, config_of, QUOTA_KEYS, "manifest_put", "quota",
        quick=quick, workers=workers, log=log,
    )  # fmt: skip


def compare_pull_with_stats(
    workdir: Path,
    user: str,
    password: str,
    config_of: Callable[[str], dict[str, object]],
    *,
    quick: bool,
    workers: int | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """``{plain, pull_stats}`` manifest GETs per second (conc 16), ``ratio`` and ``target``."""
    return _compare(
        workdir, user, password, config_of, {"FEATURE_IMAGE_PULL_STATS": True},
        "manifest_get_c16", "pull_stats", quick=quick, workers=workers, log=log,
    )  # fmt: skip


def _compare(
    workdir: Path,
    user: str,
    password: str,
    config_of: Callable[[str], dict[str, object]],
    keys: dict[str, object],
    metric: str,
    label: str,
    *,
    quick: bool,
    workers: int | None,
    log: Callable[[str], None],
) -> dict[str, Any]:
    plain = Berth(
        workdir / f"{label}-plain", user, password, config_of(f"berth_{label}_a"), workers=workers
    )
    quota = Berth(
        workdir / label,
        user,
        password,
        {**config_of(f"berth_{label}_b"), **keys},
        workers=workers,
    )
    try:
        for b in (plain, quota):
            b.prepare()
            b.start()
        out = workdir / f"{label}-regbench.json"
        cmd = [
            sys.executable, str(REGBENCH),
            "--a", plain.url, "--a-pid", str(plain.pid),
            "--a-user", user, "--a-password", password,
            "--b", quota.url, "--b-pid", str(quota.pid),
            "--b-user", user, "--b-password", password,
            "--metrics", metric, "--json", str(out),
        ]  # fmt: skip
        if quick:
            cmd.append("--quick")
        log(f"{label} check: regbench {metric}, A without, B with {', '.join(keys)}")
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0 or not out.exists():
            return {"error": f"regbench exited with {proc.returncode}: {proc.stdout[-500:]}"}
        row = json.loads(out.read_text())["metrics"][metric]
        a, b = row["a"]["median"], row["b"]["median"]
        ratio = round(b / a, 3) if a else None
        log(f"  {metric} without {a:.1f}/s, with {b:.1f}/s: {ratio}x")
        return {"plain": a, label: b, "ratio": ratio, "target": TARGET}
    finally:
        plain.stop()
        quota.stop()
