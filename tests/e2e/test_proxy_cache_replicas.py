"""Two Berth replicas (one PostgreSQL database, one S3 bucket) proxying one upstream: cold
pulls started on both at once fetch each blob from the upstream once (the cross-replica
lock of ``berth/proxycache/locks.py``), and every client gets the same bytes."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import BerthServer, StartServer, _free_port, e2e_distributed_config
from tests.support.clients import run
from tests.support.distribution import DistributionServer
from tests.support.images import write_oci_layout

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.postgres, pytest.mark.s3]

ADMIN = ("admin", "password123")
CREDS = f"{ADMIN[0]}:{ADMIN[1]}"
ORG = "cache"


@pytest.fixture
def upstream(tmp_path: Path) -> Iterator[DistributionServer]:
    server = DistributionServer(tmp_path / "upstream")
    server.start()
    yield server
    server.stop()


def _replicas(
    tmp_path: Path,
    berth_factory: StartServer,
    postgres_url: str,
    s3_server: dict[str, str],
) -> tuple[BerthServer, BerthServer]:
    config = {
        **e2e_distributed_config(tmp_path, postgres_url, s3_server),
        "FEATURE_PROXY_CACHE": True,
        "FEATURE_USER_INITIALIZE": True,
        "SUPER_USERS": [ADMIN[0]],
        "BROWSER_API_CALLS_XHR_ONLY": False,
        "FEATURE_MAILING": False,
        "SSRF_ALLOWED_HOSTS": ["127.0.0.1"],
    }
    port_a = _free_port()
    a = berth_factory({**config, "BERTH_DATA_DIR": str(tmp_path / "data-a")}, name="A", port=port_a)
    b = berth_factory(
        {**config, "BERTH_DATA_DIR": str(tmp_path / "data-b")},
        name="B",
        hostname=f"127.0.0.1:{port_a}",
    )
    return a, b


def test_replicas_fetch_each_blob_once(
    tmp_path: Path,
    berth_factory: StartServer,
    postgres_url: str,
    s3_server: dict[str, str],
    upstream: DistributionServer,
) -> None:
    a, b = _replicas(tmp_path, berth_factory, postgres_url, s3_server)
    r = httpx.post(
        f"{a.url}/api/v1/user/initialize",
        json={
            "username": ADMIN[0],
            "password": ADMIN[1],
            "email": "admin@example.com",
            "access_token": True,
        },
        timeout=60.0,
    )
    assert r.status_code == 200, r.text
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    with httpx.Client(base_url=f"{a.url}/api/v1", headers=headers, timeout=60) as api:
        r = api.post("/organization/", json={"name": ORG, "email": "cache@example.com"})
        assert r.status_code == 201, r.text
        r = api.post(
            f"/organization/{ORG}/proxycache",
            json={"upstream_registry": upstream.host, "insecure": True},
        )
        assert r.status_code == 201, r.text

    layout = write_oci_layout(tmp_path / "src", tag="v1", layers=(4_000_000, 1_500_000), seed=71)
    run(
        "skopeo", "copy", "--dest-tls-verify=false", layout.reference,
        f"docker://{upstream.host}/team/big:v1", check=True,
    )  # fmt: skip

    def pull(n: int) -> dict[str, bytes]:
        server = (a, b)[n % 2]
        out = tmp_path / f"out{n}"
        run(
            "skopeo", "copy", "--src-tls-verify=false", "--src-creds", CREDS,
            f"docker://{server.host}/{ORG}/team/big:v1", f"oci:{out}:v1", check=True,
        )  # fmt: skip
        return {p.name: p.read_bytes() for p in (out / "blobs" / "sha256").iterdir()}

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        results = list(pool.map(pull, range(6)))
    image = layout.images[0]
    for layer in image.layers:
        assert upstream.requests("GET", f"/v2/team/big/blobs/{layer.digest}") == 1, layer.digest
        assert results[0][layer.digest.split(":", 1)[1]] == layout.blob(layer.digest)
    assert all(r == results[0] for r in results)
