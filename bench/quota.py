"""The quota check's cost at push: manifest PUT throughput of a Berth with a quota against
the same Berth without one (issue 15's target: >= 0.95x).

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
    plain = Berth(workdir / "plain", user, password, config_of("berth_plain"), workers=workers)
    quota = Berth(
        workdir / "quota",
        user,
        password,
        {**config_of("berth_quota"), **QUOTA_KEYS},
        workers=workers,
    )
    try:
        for b in (plain, quota):
            b.prepare()
            b.start()
        out = workdir / "quota-regbench.json"
        cmd = [
            sys.executable, str(REGBENCH),
            "--a", plain.url, "--a-pid", str(plain.pid),
            "--a-user", user, "--a-password", password,
            "--b", quota.url, "--b-pid", str(quota.pid),
            "--b-user", user, "--b-password", password,
            "--metrics", "manifest_put", "--json", str(out),
        ]  # fmt: skip
        if quick:
            cmd.append("--quick")
        log("quota push check: regbench manifest_put, A without quota, B with one")
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0 or not out.exists():
            return {"error": f"regbench exited with {proc.returncode}: {proc.stdout[-500:]}"}
        row = json.loads(out.read_text())["metrics"]["manifest_put"]
        a, b = row["a"]["median"], row["b"]["median"]
        ratio = round(b / a, 3) if a else None
        log(f"  manifest PUT/s without quota {a:.1f}, with quota {b:.1f}: {ratio}x")
        return {"plain": a, "quota": b, "ratio": ratio, "target": TARGET}
    finally:
        plain.stop()
        quota.stop()
