"""The layers contract (pyproject.toml, import-linter) holds, and would catch an upward import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(tree / "pyproject.toml")],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the package and its contracts, to plant imports in."""
    shutil.copytree(
        ROOT / "berth", tmp_path / "berth", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_tree_keeps_every_contract(tree: Path) -> None:
    result = _lint(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "planted", "message"),
    [
        # the registry core reaching up into a feature
        ("registry/tags.py", "import berth.policies.services", "berth.registry is not allowed"),
        # a feature reaching up into HTTP
        ("repos/services.py", "import berth.http.app", "berth.repos is not allowed"),
        # the database core reaching up into the composition root
        ("db/session.py", "import berth.services", "berth.db is not allowed"),
    ],
)
def test_an_upward_import_breaks_the_layers(
    tree: Path, module: str, planted: str, message: str
) -> None:
    target = tree / "berth" / module
    target.write_text(target.read_text() + f"\n{planted}  # planted upward import\n")
    result = _lint(tree)
    assert result.returncode != 0
    assert message in result.stdout, result.stdout
