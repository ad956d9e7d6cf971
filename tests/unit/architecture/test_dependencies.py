"""Every third-party package the registry imports is a declared runtime dependency, pinned:
an installed wheel must not lean on what the test or bench extras happen to bring."""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[3]
NOT_AT_RUN_TIME = {
    "bench": "`berth bench` imports it from a source checkout, guarded (not in the wheel)",
    "typing_extensions": "imported for type checking only (under TYPE_CHECKING)",
}


def _imported_top_levels() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "berth").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return {
        n
        for n in names
        if n != "berth" and n not in sys.stdlib_module_names and n not in NOT_AT_RUN_TIME
    }


def test_every_third_party_import_is_a_pinned_runtime_dependency() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {
        canonicalize_name(Requirement(r).name): Requirement(r) for r in project["dependencies"]
    }
    for requirement in declared.values():
        assert str(requirement.specifier).startswith("=="), f"{requirement} is not pinned"
    dists = packages_distributions()
    missing = []
    for module in sorted(_imported_top_levels()):
        owners = {canonicalize_name(d) for d in dists.get(module, [])}  # prometheus_client
        # sqlalchemy[asyncio] and friends: the requirement's name is the distribution's
        if not owners & declared.keys():
            missing.append(f"{module} (from {', '.join(sorted(owners)) or '?'})")
    assert not missing, "imported by berth/ but not in [project].dependencies: " + "; ".join(
        missing
    )
