"""deploy/systemd/berth.service: ``systemd-analyze verify`` finds nothing wrong with it, and
its sandboxing rates "OK" or better (``systemd-analyze security --offline``, exposure at
most 2.0 of 10)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "systemd" / "berth.service"
SYSUSERS = ROOT / "deploy" / "systemd" / "berth.sysusers"


@pytest.fixture
def unit(tmp_path: Path) -> Path:
    """The unit with ExecStart pointing at this checkout's berth (verify checks that the
    binary exists; the documented install puts it in /opt/berth)."""
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze not found (Debian package systemd)")
    text = UNIT.read_text()
    assert "ExecStart=/opt/berth/bin/berth serve " in text
    berth = Path(sys.executable).parent / "berth"
    out = tmp_path / "berth.service"
    out.write_text(text.replace("/opt/berth/bin/berth", str(berth)))
    return out


def test_the_unit_verifies(unit: Path) -> None:
    proc = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout + proc.stderr == ""


def test_the_unit_is_sandboxed(unit: Path) -> None:
    proc = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", "--threshold=20", str(unit)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Overall exposure level for berth.service" in proc.stdout


def test_the_unit_runs_as_the_sysusers_user() -> None:
    text = UNIT.read_text()
    assert "User=berth\n" in text
    assert "StateDirectory=berth\n" in text
    assert SYSUSERS.read_text().splitlines()[-1].split()[:3] == ["u", "berth", "-"]
