"""Two ``berth serve`` replicas on one PostgreSQL database and one S3 bucket.

Both use replica A's address as SERVER_HOSTNAME (the audience of their tokens), as two
replicas behind one load balancer would; the test talks to each one directly.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import ALICE, BerthServer, StartServer, _free_port, e2e_distributed_config
from tests.e2e.support import ACCEPT, OCI_MANIFEST, sha256
from tests.support.images import OCI_CONFIG, OCI_LAYER_GZIP

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.postgres, pytest.mark.s3]

REPO = "alice/shared"


@pytest.fixture
def replicas(
    berth_factory: StartServer, tmp_path: Path, postgres_url: str, s3_server: dict[str, str]
) -> tuple[BerthServer, BerthServer]:
    config = e2e_distributed_config(tmp_path, postgres_url, s3_server)
    port_a = _free_port()
    hostname = f"127.0.0.1:{port_a}"
    a = berth_factory({**config, "BERTH_DATA_DIR": str(tmp_path / "data-a")}, name="A", port=port_a)
    b = berth_factory(
        {**config, "BERTH_DATA_DIR": str(tmp_path / "data-b")}, name="B", hostname=hostname
    )
    a.create_user(*ALICE)
    return a, b


def _token(server: BerthServer, service: str, scope: str) -> dict[str, str]:
    r = httpx.get(f"{server.url}/v2/auth", params={"service": service, "scope": scope}, auth=ALICE)
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def test_upload_continues_on_other_replica(replicas: tuple[BerthServer, BerthServer]) -> None:
    a, b = replicas
    auth = _token(a, a.host, f"repository:{REPO}:pull,push")
    rng = random.Random(5)
    part1, part2, part3 = rng.randbytes(6 << 20), rng.randbytes(3 << 20), rng.randbytes(777)
    blob = part1 + part2 + part3
    digest = sha256(blob)

    with (
        httpx.Client(base_url=a.url, headers=auth, timeout=60) as on_a,
        httpx.Client(base_url=b.url, headers=auth, timeout=60) as on_b,
    ):
        # the token A issued is good on B
        assert on_b.get("/v2/").status_code == 200

        r = on_a.post(f"/v2/{REPO}/blobs/uploads/")
        assert r.status_code == 202, r.text
        location = r.headers["location"]
        r = on_a.patch(
            location,
            content=part1,
            headers={
                "Content-Type": "application/octet-stream",
                "Content-Range": f"0-{len(part1) - 1}",
            },
        )
        assert r.status_code == 202, r.text
        assert r.headers["range"] == f"0-{len(part1) - 1}"
        location = r.headers["location"]

        # B knows the session and where it stands
        r = on_b.get(location)
        assert r.status_code == 204, r.text
        assert r.headers["range"] == f"0-{len(part1) - 1}"

        end = len(part1) + len(part2) - 1
        r = on_b.patch(
            location,
            content=part2,
            headers={
                "Content-Type": "application/octet-stream",
                "Content-Range": f"{len(part1)}-{end}",
            },
        )
        assert r.status_code == 202, r.text
        assert r.headers["range"] == f"0-{end}"
        location = r.headers["location"]
        r = on_b.put(
            location,
            params={"digest": digest},
            content=part3,
            headers={
                "Content-Type": "application/octet-stream",
                "Content-Range": f"{end + 1}-{len(blob) - 1}",
            },
        )
        assert r.status_code == 201, r.text
        assert r.headers["docker-content-digest"] == digest

        for side in (on_a, on_b):
            r = side.get(f"/v2/{REPO}/blobs/{digest}", follow_redirects=True)
            assert r.status_code == 200
            assert r.content == blob


def test_manifest_pushed_on_a_is_pulled_from_b(replicas: tuple[BerthServer, BerthServer]) -> None:
    a, b = replicas
    auth = _token(a, a.host, f"repository:{REPO}:pull,push")
    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}
    ).encode()
    layer = random.Random(9).randbytes(300_000)

    with (
        httpx.Client(base_url=a.url, headers=auth, timeout=60) as on_a,
        httpx.Client(base_url=b.url, headers=auth, timeout=60) as on_b,
    ):
        # blobs through B, manifest through A
        for data in (config, layer):
            r = on_b.post(
                f"/v2/{REPO}/blobs/uploads/",
                params={"digest": sha256(data)},
                content=data,
                headers={"Content-Type": "application/octet-stream"},
            )
            assert r.status_code == 201, r.text
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "digest": sha256(config), "size": len(config)},
                "layers": [
                    {"mediaType": OCI_LAYER_GZIP, "digest": sha256(layer), "size": len(layer)}
                ],
            }
        ).encode()
        r = on_a.put(
            f"/v2/{REPO}/manifests/v1", content=manifest, headers={"Content-Type": OCI_MANIFEST}
        )
        assert r.status_code == 201, r.text
        assert r.headers["docker-content-digest"] == sha256(manifest)

        # at once through B: by tag, by digest, in the tag list
        r = on_b.get(f"/v2/{REPO}/manifests/v1", headers={"Accept": ACCEPT})
        assert r.status_code == 200, r.text
        assert r.content == manifest
        assert r.headers["docker-content-digest"] == sha256(manifest)
        r = on_b.head(f"/v2/{REPO}/manifests/{sha256(manifest)}", headers={"Accept": ACCEPT})
        assert r.status_code == 200
        assert on_b.get(f"/v2/{REPO}/tags/list").json()["tags"] == ["v1"]
        r = on_b.get(f"/v2/{REPO}/blobs/{sha256(layer)}", follow_redirects=True)
        assert r.content == layer

        # and a tag moved on B is seen on A
        r = on_b.put(
            f"/v2/{REPO}/manifests/v2", content=manifest, headers={"Content-Type": OCI_MANIFEST}
        )
        assert r.status_code == 201, r.text
        assert on_a.get(f"/v2/{REPO}/tags/list").json()["tags"] == ["v1", "v2"]


def test_tokens_from_either_replica(replicas: tuple[BerthServer, BerthServer]) -> None:
    """A client may get its token from one replica and be served by the other."""
    a, b = replicas
    scope = f"repository:{REPO}:pull,push"
    from_b = _token(b, a.host, scope)
    from_a = _token(a, a.host, scope)
    for server, headers in ((a, from_b), (b, from_a), (a, from_a), (b, from_b)):
        r = httpx.post(f"{server.url}/v2/{REPO}/blobs/uploads/", headers=headers)
        assert r.status_code == 202, f"{server.name}: {r.status_code} {r.text}"
