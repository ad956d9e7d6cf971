"""An image built by buildah with ``LABEL quay.expires-after=20s``, pushed by podman, expires
on time: pullable right after the push, refused once the label's time is up, and back after a
time-machine restore. The tags API (through a browser-style session) shows the expiry and the
label that set it."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import ALICE, BerthServer
from tests.e2e.support import ACCEPT
from tests.e2e.test_podman_buildah import store
from tests.support.clients import run

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
__all__ = ["store"]  # the containers-storage fixture of the podman/buildah tests

CREDS = f"{ALICE[0]}:{ALICE[1]}"
LIFETIME_S = 20
REPO = "alice/expiring"


def _sign_in(http: httpx.Client) -> str:
    """Sign in as alice the way the web UI does (/csrf_token, then /api/v1/signin); the
    CSRF token for the session's writes."""
    csrf = http.get("/csrf_token").json()["csrf_token"]
    r = http.post(
        "/api/v1/signin",
        json={"username": ALICE[0], "password": ALICE[1]},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 200, r.text
    return str(r.headers["x-next-csrf-token"])


def _build_and_push(berth: BerthServer, tmp_path: Path, store: list[str]) -> str:
    (tmp_path / "hello.txt").write_text("short-lived\n")
    ctr = run("buildah", *store, "from", "scratch", check=True).stdout.strip()
    run("buildah", *store, "copy", ctr, str(tmp_path / "hello.txt"), "/hello.txt", check=True)
    run(
        "buildah",
        *store,
        "config",
        "--label",
        f"quay.expires-after={LIFETIME_S}s",
        "--label",
        "maintainer=e2e",
        ctr,
        check=True,
    )
    run("buildah", *store, "commit", ctr, "localhost/expiring:latest", check=True)
    digestfile = tmp_path / "pushed.digest"
    run(
        "podman",
        *store,
        "push",
        "--tls-verify=false",
        "--creds",
        CREDS,
        "--digestfile",
        digestfile,
        "localhost/expiring:latest",
        f"docker://{berth.host}/{REPO}:nightly",
        check=True,
    )
    return digestfile.read_text().strip()


def _pull(store: list[str], berth: BerthServer) -> int:
    return run(
        "podman",
        *store,
        "pull",
        "--tls-verify=false",
        "--creds",
        CREDS,
        f"{berth.host}/{REPO}:nightly",
    ).returncode


def test_label_expires_the_tag_on_time(
    berth: BerthServer, tmp_path: Path, store: list[str]
) -> None:
    digest = _build_and_push(berth, tmp_path, store)
    api = httpx.Client(base_url=berth.url, timeout=60.0)
    with api, berth.client() as registry:
        csrf = _sign_in(api)
        r = api.get(f"/api/v1/repository/{REPO}/tag/", params={"specificTag": "nightly"})
        (tag,) = r.json()["tags"]
        assert tag["manifest_digest"] == digest
        assert tag["end_ts"] - tag["start_ts"] == LIFETIME_S
        assert time.time() < tag["end_ts"] - 2, "the push took too long to check in time"
        labels = api.get(f"/api/v1/repository/{REPO}/manifest/{digest}/labels").json()["labels"]
        assert {(x["key"], x["value"], x["source_type"]) for x in labels} >= {
            ("quay.expires-after", f"{LIFETIME_S}s", "manifest"),
            ("maintainer", "e2e", "manifest"),
        }
        run("podman", *store, "rmi", "--all", "--force", check=True)
        assert _pull(store, berth) == 0  # still alive

        time.sleep(max(0.0, tag["end_ts"] + 1 - time.time()))
        run("podman", *store, "rmi", "--all", "--force", check=True)
        assert _pull(store, berth) != 0
        r = registry.head(f"/v2/{REPO}/manifests/{digest}", headers={"Accept": ACCEPT})
        assert r.status_code == 404
        active = api.get(f"/api/v1/repository/{REPO}/tag/", params={"onlyActiveTags": "true"})
        assert active.json()["tags"] == []

        r = api.post(
            f"/api/v1/repository/{REPO}/tag/nightly/restore",
            json={"manifest_digest": digest},
            headers={"X-CSRF-Token": csrf},
        )
        assert (r.status_code, r.json()) == (200, {})
        assert _pull(store, berth) == 0
