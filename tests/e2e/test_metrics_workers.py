"""``/metrics`` of ``berth serve --workers 2``: every worker's requests, whichever answers."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import embedded_config, write_config
from tests.e2e.conftest import ALICE, BERTH, BerthServer, _free_port
from tests.integration.test_health_metrics import metric

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_metrics_add_up_every_worker(tmp_path: Path) -> None:
    for attempt in range(3):  # a free port can be taken by a parallel test before the bind
        port = _free_port()
        config = {**embedded_config(tmp_path), "SERVER_HOSTNAME": f"127.0.0.1:{port}"}
        server = BerthServer("workers", config, write_config(tmp_path, config), port,
                             tmp_path / f"berth-{attempt}.log")  # fmt: skip
        with server.log_path.open("ab") as log:
            server.proc = subprocess.Popen(
                [str(BERTH), "serve", "--config", str(server.config_path), "--host", "127.0.0.1",
                 "--port", str(port), "--workers", "2"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip
        try:
            server._wait_ready()
            break
        except Exception:
            server.stop()
            if attempt == 2 or "Address already in use" not in server.log_path.read_text():
                raise
    try:
        server.create_user(*ALICE)
        n = 40
        for _ in range(n):  # new connections: the kernel spreads them over both workers
            with httpx.Client(base_url=server.url, auth=ALICE, timeout=30) as c:
                assert c.get("/v2/alice/nothing/tags/list").status_code == 404
        deadline = time.monotonic() + 30
        seen = 0.0
        while time.monotonic() < deadline:  # each worker hands its totals over every second
            with httpx.Client(base_url=server.url, timeout=30) as c:
                seen = metric(c.get("/metrics").text, "berth_http_requests_total", kind="tags")
            if seen >= n:
                break
            time.sleep(0.2)
        assert seen == n
        files = list((Path(config["BERTH_DATA_DIR"]) / "metrics").glob("*/*.db"))
        pids = {f.stem.rsplit("_", 1)[-1] for f in files}
        assert len(pids) >= 2, files  # both workers wrote their values
    finally:
        os.killpg(server.proc.pid, signal.SIGTERM)
        server.proc.wait(timeout=30)
