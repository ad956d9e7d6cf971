"""A robot pushes with a token its identity provider minted (robot identity federation),
against a real ``berth serve`` and a real OpenID Connect provider: podman logs in with the
exchanged token and pushes; a token for another subject gets no robot token."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import ALICE, StartServer
from tests.e2e.support import manifest_digest
from tests.support.clients import run
from tests.support.images import write_oci_layout
from tests.support.oidc import CLIENT_ID, CLIENT_SECRET, OidcProvider

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


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


def test_federated_robot_pushes_with_the_providers_token(
    deployment: dict[str, Any],
    berth_factory: StartServer,
    oidc_provider: OidcProvider,
    tmp_path: Path,
    store: list[str],
) -> None:
    server = berth_factory({**deployment, "SSRF_ALLOWED_HOSTS": ["127.0.0.1"]}, name="fed")
    server.create_user(*ALICE)
    http, csrf = _signed_in(server.url)
    try:
        assert http.put("/api/v1/user/robots/ci", json={}, headers=csrf).status_code == 201
        r = http.post(
            "/api/v1/repository",
            json={"repository": "app", "namespace": "alice", "visibility": "private",
                  "description": ""},
            headers=csrf,
        )  # fmt: skip
        assert r.status_code == 201, r.text
        r = http.put(
            "/api/v1/repository/alice/app/permissions/user/alice+ci",
            json={"role": "write"},
            headers=csrf,
        )
        assert r.status_code == 200, r.text
        r = http.post(
            "/api/v1/user/robots/ci/federation",
            json=[{"issuer": oidc_provider.issuer, "subject": "ci"}],
            headers=csrf,
        )
        assert r.status_code == 200, r.text
    finally:
        http.close()

    def exchange(token: str) -> httpx.Response:
        return httpx.get(
            f"{server.url}/oauth2/federation/robot/token", auth=("alice+ci", token), timeout=60
        )

    other = exchange(oidc_provider.client_credentials((CLIENT_ID, CLIENT_SECRET)))
    assert other.status_code == 401, other.text
    r = exchange(oidc_provider.client_credentials())
    assert r.status_code == 200, r.text
    robot_token = r.json()["token"]

    auth_file = tmp_path / "auth.json"
    run(
        "podman", "login", "--tls-verify=false", "--authfile", str(auth_file),
        "-u", "alice+ci", "-p", robot_token, server.host, check=True,
    )  # fmt: skip
    layout = write_oci_layout(tmp_path / "src", tag="v1", layers=(200_000,), seed=31)
    loaded = run("podman", *store, "pull", "-q", layout.reference, check=True).stdout.strip()
    digestfile = tmp_path / "pushed.digest"
    run(
        "podman", *store, "push", "--tls-verify=false", "--authfile", str(auth_file),
        "--digestfile", digestfile, loaded.splitlines()[-1],
        f"docker://{server.host}/alice/app:v1", check=True,
    )  # fmt: skip
    with server.client(ALICE) as client:
        assert manifest_digest(client, "alice/app", "v1") == digestfile.read_text().strip()
