"""The installed package is the registry only: the benchmark, the dev servers and the tests
stay in the source checkout, and ``berth bench`` says so instead of failing on an import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Not part of a fresh clone: a stale build/ in particular would put modules deleted since
# the last build back into the wheel.
NOT_IN_A_CLONE = shutil.ignore_patterns(
    ".git", ".venv", "tools", "build", "dist", "*.egg-info", "__pycache__", ".*_cache",
    ".hypothesis", "bench-results", "data", "berth-data",
)  # fmt: skip


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel ``pip wheel`` builds from a copy of this checkout (offline: the venv's
    setuptools, from the test extra)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    shutil.copytree(ROOT, src, ignore=NOT_IN_A_CLONE)
    out = tmp / "out"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "--disable-pip-version-check", "-q", "-w", str(out), str(src)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert build.returncode == 0, build.stdout + build.stderr
    (built,) = out.glob("berth-*.whl")
    return built


def test_the_wheel_holds_the_registry_and_no_dev_tooling(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {n.split("/")[0] for n in names if ".dist-info/" not in n}
    assert top_level == {"berth"}
    for name in names:
        assert "bench" not in name, name
        assert "devservers" not in name, name
        assert "tests/" not in name, name
        assert "conftest" not in name, name
    for needed in ("berth/__main__.py", "berth/cli/", "berth/http/v2/", "berth/http/api/v1/",
                   "berth/schema/migrations/versions/",
                   "berth/notifications/templates/notification.html"):  # fmt: skip
        assert any(n.startswith(needed) for n in names), needed
    # The web UI's templates and static files, vendored assets and their licences included.
    for needed in ("berth/http/web/templates/base.html",
                   "berth/http/web/templates/repository/repository.html",
                   "berth/http/web/static/berth.js",
                   "berth/http/web/static/vendor/patternfly/patternfly.min.css",
                   "berth/http/web/static/vendor/patternfly/LICENSE",
                   "berth/http/web/static/vendor/patternfly/assets/fonts/RedHatText/RedHatTextVF.woff2",
                   "berth/http/web/static/vendor/htmx/htmx.min.js",
                   "berth/http/web/static/vendor/htmx/LICENSE"):  # fmt: skip
        assert needed in names, needed


def test_berth_bench_from_the_wheel_points_at_a_checkout(wheel: Path, tmp_path: Path) -> None:
    unpacked = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    env = {**os.environ, "PYTHONPATH": str(unpacked)}  # ahead of the editable checkout
    where = subprocess.run(
        [sys.executable, "-c", "import berth; print(berth.__file__)"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert where.stdout.startswith(str(unpacked))

    run = subprocess.run(
        [sys.executable, "-m", "berth", "bench", "--help"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert run.returncode == 1
    assert run.stderr.strip() == "Error: berth bench runs from a source checkout: scripts/bench"


def test_berth_bench_runs_from_a_checkout(tmp_path: Path) -> None:
    # Started outside the checkout, so the repository root is not on sys.path by accident.
    run = subprocess.run(
        [sys.executable, "-m", "berth", "bench", "--help"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "Usage: berth bench" in run.stdout
    assert "--deployment" in run.stdout


def test_scripts_bench_runs_from_a_checkout(tmp_path: Path) -> None:
    run = subprocess.run(
        [str(ROOT / "scripts" / "bench"), "--help"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "--deployment" in run.stdout
