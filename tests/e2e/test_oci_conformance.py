"""The official OCI distribution-spec conformance suite, whenever it sits beside the checkout.

``../shared/tools/oci-conformance/run.sh URL NAMESPACE [USER PASS]`` (or the directory named by
``BERTH_OCI_CONFORMANCE``) runs every workflow (pull, push, content discovery, content
management) and prints, as its last line, ``N passed, M failed``. The test expects no failure,
on both deployments, with credentials and against an open registry without any.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import ALICE, StartServer

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

_ROOT = Path(__file__).resolve().parents[2]
SUITE = Path(
    os.environ.get("BERTH_OCI_CONFORMANCE", _ROOT.parent / "shared" / "tools" / "oci-conformance")
)
RUN = SUITE / "run.sh"


def _run_suite(url: str, namespace: str, tmp: Path, *creds: str) -> tuple[str, int, int]:
    proc = subprocess.run(
        [str(RUN), url, namespace, *creds],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env={**os.environ, "CONFORMANCE_QUIET": "1", "CONFORMANCE_REPORT_DIR": str(tmp)},
    )
    out = proc.stdout + proc.stderr
    lines = [line for line in out.strip().splitlines() if line.strip()]
    m = re.match(r"(\d+) passed, (\d+) failed", lines[-1] if lines else "")
    assert m, f"no summary line from the suite:\n{out[-4000:]}"
    return out, int(m.group(1)), int(m.group(2))


@pytest.mark.skipif(not RUN.exists(), reason=f"the OCI conformance suite is not at {SUITE}")
@pytest.mark.parametrize("auth", ["credentials", "open"])
def test_oci_conformance_suite_passes(
    deployment: dict[str, Any], berth_factory: StartServer, tmp_path: Path, auth: str
) -> None:
    config = dict(deployment)
    if auth == "open":
        config["BERTH_OPEN_REGISTRY"] = True
    server = berth_factory(config, name="conformance")
    server.create_user(*ALICE)
    creds = ALICE if auth == "credentials" else ()
    out, passed, failed = _run_suite(server.url, "alice/conformance", tmp_path / "report", *creds)
    failures = [line for line in out.splitlines() if line.startswith("FAIL ")]
    assert failed == 0, "\n".join(failures) or out[-4000:]
    assert passed > 0
