"""scripts/check-aarch64-wheels: every runtime dependency, pinned and transitive, installs on
aarch64 Linux from a wheel on PyPI (asks pypi.org, so it is slow)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "check-aarch64-wheels"


def test_every_runtime_dependency_has_an_aarch64_wheel() -> None:
    proc = subprocess.run(
        [str(SCRIPT), "--python", "3.11.2", "--python", "3.13.5"],
        capture_output=True, text=True, timeout=1200, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "MISSING" not in proc.stdout
    sections = proc.stdout.split("== CPython ")[1:]
    assert len(sections) == 2
    # the target's markers count, not those of the Python running pip: redis wants
    # async-timeout below 3.11.3 (bookworm's 3.11.2), not on 3.13
    assert " async-timeout==" in sections[0]
    assert " async-timeout==" not in sections[1]
    for section in sections:
        for binary in ("granian", "uvloop", "asyncpg", "cryptography", "greenlet", "orjson"):
            assert f"aarch64  {binary}==" in section, binary
