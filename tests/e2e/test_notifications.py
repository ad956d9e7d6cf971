"""Notifications from a real ``berth serve``: a podman push fires ``repo_push`` to a
webhook receiver, and a delivery enqueued before a SIGKILL is sent after the restart.

The server first runs without its job runner (``BERTH_RUN_WORKERS_IN_PROCESS: false``), so
the push's delivery job is committed with the push but cannot run; the server is then
killed with SIGKILL and restarted with the runner, and the receiver gets the delivery.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.e2e.conftest import ALICE, StartServer
from tests.support.clients import run
from tests.support.images import write_oci_layout
from tests.support.receivers import http_receiver, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CREDS = f"{ALICE[0]}:{ALICE[1]}"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[list[str]]:
    runroot = tempfile.mkdtemp(prefix="berth-e2e-", dir="/tmp")
    yield ["--root", str(tmp_path / "storage"), "--runroot", runroot, "--storage-driver", "vfs"]
    shutil.rmtree(runroot, ignore_errors=True)


def _signed_in(url: str) -> tuple[httpx.Client, dict[str, str]]:
    http = httpx.Client(base_url=url, timeout=60)
    csrf = http.get("/csrf_token").json()["csrf_token"]
    r = http.post(
        "/api/v1/signin",
        json={"username": ALICE[0], "password": ALICE[1]},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 200, r.text
    return http, {"X-CSRF-Token": r.headers["x-next-csrf-token"]}


def test_podman_push_fires_repo_push_delivered_after_sigkill(
    deployment: dict[str, Any], berth_factory: StartServer, tmp_path: Path, store: list[str]
) -> None:
    with http_receiver() as receiver:
        config = {
            **deployment,
            "SSRF_ALLOWED_HOSTS": ["127.0.0.1"],
            "BERTH_RUN_WORKERS_IN_PROCESS": False,
        }
        server = berth_factory(config, name="notify")
        server.create_user(*ALICE)

        layout = write_oci_layout(tmp_path / "src", tag="v1", layers=(200_000,), seed=5)
        loaded = run("podman", *store, "pull", "-q", layout.reference, check=True).stdout
        image_id = loaded.strip().splitlines()[-1]

        def podman_push(tag: str) -> None:
            target = f"docker://{server.host}/alice/app:{tag}"
            args = ["push", "--tls-verify=false", "--creds", CREDS, image_id, target]
            run("podman", *store, *args, check=True)

        podman_push("v1")  # creates the repository
        http, headers = _signed_in(server.url)
        try:
            r = http.post(
                "/api/v1/repository/alice/app/notification/",
                headers=headers,
                json={
                    "event": "repo_push",
                    "method": "webhook",
                    "config": {"url": receiver.url("/hook")},
                    "eventConfig": {},
                    "title": "e2e",
                },
            )
            assert r.status_code == 201, r.text
        finally:
            http.close()
        podman_push("v2")
        assert receiver.received == []  # no job runner: queued, not sent

        server.kill()  # SIGKILL, the delivery still queued
        server.config = {**server.config, "BERTH_RUN_WORKERS_IN_PROCESS": True}
        server.config_path.write_text(yaml.safe_dump(server.config))
        server.start()

        (got,) = wait_for(lambda: receiver.on("/hook"), timeout=60, what="the delivery")
        body = got.json()
        assert body["repository"] == "alice/app"
        assert body["updated_tags"] == ["v2"]
        assert body["docker_url"] == f"{server.host}/alice/app"
        assert got.headers["X-Berth-Delivery"] == body["delivery_id"]
