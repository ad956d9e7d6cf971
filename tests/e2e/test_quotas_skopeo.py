"""Quotas and pull statistics with real clients against ``berth serve`` on both
deployments: skopeo pushes into an organization until its Reject limit and the next push
(skopeo's, then podman's) fails with Quay's message while another organization still takes
pushes; N skopeo pulls
give a pull count of N."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import ALICE, ROOT, StartServer
from tests.e2e.quay_clients.podman import Podman
from tests.support.clients import run
from tests.support.images import write_oci_layout

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CREDS = f"{ALICE[0]}:{ALICE[1]}"
LAYER = 1_000_000
FEATURES = {
    "FEATURE_QUOTA_MANAGEMENT": True,
    "FEATURE_SUPERUSERS_FULL_ACCESS": True,
    "FEATURE_IMAGE_PULL_STATS": True,
}


@contextlib.contextmanager
def session(url: str, user: tuple[str, str]) -> Iterator[httpx.Client]:
    """An /api/v1 browser session (cookie + CSRF header), as the Ansible collection uses."""
    with httpx.Client(base_url=url, timeout=60.0) as client:
        yield _signed_in(client, user)


def _signed_in(client: httpx.Client, user: tuple[str, str]) -> httpx.Client:
    csrf = client.get("/csrf_token").json()["csrf_token"]
    r = client.post(
        "/api/v1/signin",
        json={"username": user[0], "password": user[1]},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 200, r.text
    client.headers["X-CSRF-Token"] = r.headers["X-Next-CSRF-Token"]
    return client


def skopeo_push(host: str, layout: Any, ref: str) -> Any:
    return run(
        "skopeo", "copy", "--dest-tls-verify=false", "--dest-creds", CREDS,
        layout.reference, f"docker://{host}/{ref}",
    )  # fmt: skip


def test_push_until_the_reject_limit_then_pull_counts(
    deployment: dict[str, Any], berth_factory: StartServer, tmp_path: Path
) -> None:
    berth = berth_factory({**deployment, **FEATURES})
    berth.create_user(*ALICE)
    berth.create_user(*ROOT, superuser=True)
    with session(berth.url, ALICE) as alice, session(berth.url, ROOT) as root:
        for org in ("acme", "other"):
            r = alice.post("/api/v1/organization/", json={"name": org, "email": f"{org}@x.test"})
            assert r.status_code == 201, r.text
            r = root.post(f"/api/v1/organization/{org}/quota", json={"limit": "3 MB"})
            assert r.status_code == 201, r.text
            qid = root.get(f"/api/v1/organization/{org}/quota").json()[0]["id"]
            r = root.post(
                f"/api/v1/organization/{org}/quota/{qid}/limit",
                json={"type": "Reject", "threshold_percent": 100},
            )
            assert r.status_code == 201, r.text

        pushed = 0
        while True:
            layout = write_oci_layout(
                tmp_path / f"img{pushed}", tag="v", layers=(LAYER,), seed=pushed
            )
            proc = skopeo_push(berth.host, layout, f"acme/app:v{pushed}")
            if proc.returncode != 0:
                break
            pushed += 1
            assert pushed < 10
        assert pushed == 2  # 3 MB holds two images of a bit over 1 MB, not three
        assert "Quota has been exceeded on namespace" in proc.stderr, proc.stderr
        report = alice.get("/api/v1/organization/acme").json()["quota_report"]
        assert report["configured_quota"] == 3_000_000
        assert report["quota_bytes"] <= 3_000_000
        # podman prints Quay's message too
        runroot = Path(tempfile.mkdtemp(prefix="berth-q-", dir="/tmp"))
        try:
            podman = Podman(tmp_path / "storage", runroot, tmp_path / "auth.json")
            assert podman.login(berth.host, *ALICE).returncode == 0
            image = podman.load(layout)
            proc = podman.push(image, f"{berth.host}/acme/app:podman")
            assert proc.returncode != 0
            assert "Quota has been exceeded on namespace" in proc.stderr, proc.stderr
            proc = podman.push(image, f"{berth.host}/other/app:podman")
            assert proc.returncode == 0, proc.stderr  # another org still takes it
        finally:
            shutil.rmtree(runroot, ignore_errors=True)
        proc = skopeo_push(berth.host, layout, "other/app:v0")
        assert proc.returncode == 0, proc.stderr

        pulls = 3
        for i in range(pulls):
            run(
                "skopeo", "copy", "--src-tls-verify=false", "--src-creds", CREDS,
                f"docker://{berth.host}/acme/app:v0", f"oci:{tmp_path / f'out{i}'}:v0", check=True,
            )  # fmt: skip
        url = "/api/v1/repository/acme/app/tag/v0/pull_statistics"
        deadline = time.monotonic() + 10
        stats = alice.get(url).json()
        while stats["tag_pull_count"] < pulls and time.monotonic() < deadline:
            time.sleep(0.5)  # the pull log is flushed every second
            stats = alice.get(url).json()
        time.sleep(1.5)  # one more flush: nothing more arrives
        stats = alice.get(url).json()
        assert stats["tag_pull_count"] == pulls
        assert stats["manifest_pull_count"] == pulls
