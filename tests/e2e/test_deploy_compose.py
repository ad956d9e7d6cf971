"""deploy/compose started for real with podman-compose: two Berth replicas behind HAProxy, a
worker, PostgreSQL, Redis and SeaweedFS, all from locally built images (scripts/build-image,
deploy/compose/build-service-image). An upload started through one replica finishes through
the other, and the load balancer serves what was pushed.

The images are built once: Berth's is cached per source hash (see test_deploy_image.py), the
service image is rebuilt only when its build script or entry point changed (its label).
"""

from __future__ import annotations

import json
import os
import random
import secrets
import shutil
import subprocess
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from devservers import free_ports
from tests.e2e.conftest import ALICE
from tests.e2e.support import ACCEPT, OCI_MANIFEST, sha256
from tests.e2e.test_deploy_image import _cache_dir
from tests.support.clients import REPO_ROOT
from tests.support.images import OCI_CONFIG, OCI_LAYER_GZIP

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

COMPOSE_DIR = REPO_ROOT / "deploy" / "compose"
SERVICES_BUILD = COMPOSE_DIR / "build-service-image"
BERTH_BUILD = REPO_ROOT / "scripts" / "build-image"
SERVICES_IMAGE = "localhost/berth-services:1"
REPO = "alice/shared"
READY_TIMEOUT = 300.0


def _sh(*args: str | Path, timeout: float = 600, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=timeout, check=False, **kw
    )  # type: ignore[call-overload]


@pytest.fixture(scope="module")
def images() -> dict[str, str]:
    if os.geteuid() != 0:
        pytest.fail("the images are built as root (mmdebstrap, buildah)", pytrace=False)
    for tool in ("podman-compose", "podman", "buildah", "mmdebstrap"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} not found: run scripts/install-test-deps", pytrace=False)
    built = _sh(BERTH_BUILD, "--cache", _cache_dir(), timeout=1800)
    assert built.returncode == 0, built.stderr
    version = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]
    key = _sh(SERVICES_BUILD, "--source-key").stdout.strip()
    label = _sh(
        "podman", "image", "inspect", "--format",
        '{{index .Labels "dev.berth.source-key"}}', SERVICES_IMAGE,
    ).stdout.strip()  # fmt: skip
    if label != key:
        proc = _sh(SERVICES_BUILD, timeout=1800)
        assert proc.returncode == 0, proc.stderr
    return {"berth": f"localhost/berth:{version}", "services": SERVICES_IMAGE}


@dataclass
class Topology:
    lb: str
    replica_1: str
    replica_2: str
    hostname: str


def _wait(url: str, what: str, compose: list[str]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/v2/", timeout=3).status_code == 401:
                return
        except httpx.TransportError:
            pass
        time.sleep(1)
    logs = _sh(*compose, "logs", timeout=120)
    pytest.fail(f"{what} did not answer /v2/:\n{logs.stdout[-20000:]}", pytrace=False)


def _container(project: str, service: str) -> str:
    proc = _sh(
        "podman", "ps", "-q", "--filter", f"label=io.podman.compose.project={project}",
        "--filter", f"label=com.docker.compose.service={service}",
    )  # fmt: skip
    ids = proc.stdout.split()
    assert len(ids) == 1, f"{service}: {proc.stdout} {proc.stderr}"
    return ids[0]


@pytest.fixture
def topology(images: dict[str, str], tmp_path: Path) -> Iterator[Topology]:
    lb_port, port_1, port_2 = free_ports(3)
    project = f"berthtest{lb_port}"
    work = tmp_path / "compose"
    shutil.copytree(COMPOSE_DIR, work)
    hostname = f"127.0.0.1:{lb_port}"
    env = {
        "SERVER_HOSTNAME": hostname,
        "BERTH_PORT": str(lb_port),
        "BERTH_1_PORT": str(port_1),
        "BERTH_2_PORT": str(port_2),
        "BERTH_IMAGE": images["berth"],
        "SERVICES_IMAGE": images["services"],
        "POSTGRES_PASSWORD": secrets.token_hex(12),
        "REDIS_PASSWORD": secrets.token_hex(12),
        "S3_ACCESS_KEY": "berth",
        "S3_SECRET_KEY": secrets.token_hex(12),
        "SECRET_KEY": secrets.token_hex(24),
        "DATABASE_SECRET_KEY": secrets.token_hex(24),
    }
    (work / ".env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    compose = ["podman-compose", "-p", project, "-f", str(work / "compose.yaml")]
    try:
        up = _sh(*compose, "up", "-d", "postgres", "redis", "seaweedfs", cwd=work)
        assert up.returncode == 0, up.stdout + up.stderr
        # the schema, once, before the replicas start (PostgreSQL takes a moment to initdb)
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            migrate = _sh(*compose, "run", "--rm", "migrate", cwd=work)
            if migrate.returncode == 0:
                break
            assert time.monotonic() < deadline, migrate.stdout + migrate.stderr
            time.sleep(2)
        up = _sh(*compose, "up", "-d", cwd=work)
        assert up.returncode == 0, up.stdout + up.stderr
        topo = Topology(
            lb=f"http://{hostname}",
            replica_1=f"http://127.0.0.1:{port_1}",
            replica_2=f"http://127.0.0.1:{port_2}",
            hostname=hostname,
        )
        for url, what in ((topo.replica_1, "berth-1"), (topo.replica_2, "berth-2"),
                          (topo.lb, "the load balancer")):  # fmt: skip
            _wait(url, what, compose)
        create = _sh(
            "podman", "exec", "-i", _container(project, "berth-1"), "berth-entrypoint",
            "admin", "create-user", ALICE[0], "--password-stdin", input=ALICE[1] + "\n",
        )  # fmt: skip
        assert create.returncode == 0, create.stdout + create.stderr
        yield topo
    finally:
        _sh(*compose, "down", "-v", cwd=work, timeout=300)


def test_upload_started_on_one_replica_finishes_on_the_other(topology: Topology) -> None:
    r = httpx.get(
        f"{topology.lb}/v2/auth",
        params={"service": topology.hostname, "scope": f"repository:{REPO}:pull,push"},
        auth=ALICE,
        timeout=30,
    )
    assert r.status_code == 200, r.text
    auth = {"Authorization": f"Bearer {r.json()['token']}"}
    rng = random.Random(20)
    part1, part2 = rng.randbytes(5 << 20), rng.randbytes(1 << 20)
    blob = part1 + part2
    digest = sha256(blob)

    with (
        httpx.Client(base_url=topology.replica_1, headers=auth, timeout=120) as one,
        httpx.Client(base_url=topology.replica_2, headers=auth, timeout=120) as two,
        httpx.Client(base_url=topology.lb, headers=auth, timeout=120) as lb,
    ):
        r = one.post(f"/v2/{REPO}/blobs/uploads/")
        assert r.status_code == 202, r.text
        r = one.patch(
            httpx.URL(r.headers["location"]).raw_path.decode(),
            content=part1,
            headers={"Content-Type": "application/octet-stream"},
        )
        assert r.status_code == 202, r.text
        location = httpx.URL(r.headers["location"]).raw_path.decode()

        # the other replica knows the session and where it stands, and finishes it
        r = two.get(location)
        assert r.status_code == 204, r.text
        assert r.headers["range"] == f"0-{len(part1) - 1}"
        r = two.put(
            location,
            params={"digest": digest},
            content=part2,
            headers={"Content-Type": "application/octet-stream"},
        )
        assert r.status_code == 201, r.text
        assert r.headers["docker-content-digest"] == digest

        # a manifest through the load balancer; everything readable on every path
        config = json.dumps(
            {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}
        ).encode()
        r = lb.post(
            f"/v2/{REPO}/blobs/uploads/",
            params={"digest": sha256(config)},
            content=config,
            headers={"Content-Type": "application/octet-stream"},
        )
        assert r.status_code == 201, r.text
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "digest": sha256(config), "size": len(config)},
                "layers": [{"mediaType": OCI_LAYER_GZIP, "digest": digest, "size": len(blob)}],
            }
        ).encode()
        r = lb.put(
            f"/v2/{REPO}/manifests/v1", content=manifest, headers={"Content-Type": OCI_MANIFEST}
        )
        assert r.status_code == 201, r.text
        for side in (one, two, lb):
            r = side.get(f"/v2/{REPO}/manifests/v1", headers={"Accept": ACCEPT})
            assert r.status_code == 200, r.text
            assert r.content == manifest
            r = side.get(f"/v2/{REPO}/blobs/{digest}")
            assert r.status_code == 200, r.text
            assert r.content == blob
