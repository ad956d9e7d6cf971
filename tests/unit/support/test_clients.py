"""tests/support/clients.py finds the real clients and fails loudly when one is missing."""

from __future__ import annotations

import pytest

from tests.support import clients


def test_missing_client_fails_naming_the_install_script() -> None:
    with pytest.raises(pytest.fail.Exception, match="scripts/install-test-deps"):
        clients.require("berth-no-such-client")


def test_run_returns_the_completed_process() -> None:
    # any binary on PATH will do to exercise run(); `true`/`false` are in coreutils
    assert clients.run("true").returncode == 0
    assert clients.run("false").returncode == 1
    with pytest.raises(pytest.fail.Exception, match="exited 1"):
        clients.run("false", check=True)
    with pytest.raises(pytest.fail.Exception, match="timed out"):
        clients.run("sleep", "5", timeout=0.2)


@pytest.mark.slow
@pytest.mark.parametrize("name", clients.KNOWN_CLIENTS)
def test_every_client_is_installed_and_runs(name: str) -> None:
    version_args = {"oras": ["version"], "cosign": ["version"], "crane": ["version"]}
    proc = clients.run(name, *version_args.get(name, ["--version"]), timeout=60)
    assert proc.returncode == 0, proc.stderr
