"""Berth's container image (scripts/build-image): pushed into a running Berth, pulled from it
and run with podman, as a non-root user, serving pushes and pulls with its volumes on the host.

The image is built once per source: ``scripts/build-image --cache DIR`` keeps an oci-archive
keyed on the hash of what goes into it (``--source-key``) and loads that instead of building
again (a build takes about 4 minutes on the two-core reference machine; a reuse seconds).
DIR is ``$BERTH_IMAGE_CACHE`` or ``~/.cache/berth/image``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import embedded_config
from tests.e2e.conftest import ALICE, StartServer, _free_port
from tests.e2e.support import check_manifest_tree, manifest_digest
from tests.support.clients import REPO_ROOT, require, run
from tests.support.images import write_oci_layout

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

BUILD = REPO_ROOT / "scripts" / "build-image"
CREDS = f"{ALICE[0]}:{ALICE[1]}"
IMAGE_UID = 10001
BUILD_TIMEOUT = 1800


def _cache_dir() -> Path:
    default = Path.home() / ".cache" / "berth" / "image"
    return Path(os.environ.get("BERTH_IMAGE_CACHE", default))


@pytest.fixture(scope="module")
def image_archive() -> Path:
    """The oci-archive of the image built from this checkout (built now, or reused)."""
    if os.geteuid() != 0:
        pytest.fail("scripts/build-image runs as root (mmdebstrap, buildah)", pytrace=False)
    for tool in ("buildah", "podman", "skopeo"):
        require(tool)
    if shutil.which("mmdebstrap") is None:
        pytest.fail("mmdebstrap not found: run scripts/install-test-deps", pytrace=False)
    key = subprocess.run(
        [str(BUILD), "--source-key"], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()
    cache = _cache_dir()
    proc = subprocess.run(
        [str(BUILD), "--cache", str(cache)],
        capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, f"scripts/build-image failed:\n{proc.stdout}\n{proc.stderr}"
    arch = subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    ).stdout.strip()
    archive = cache / f"berth-{key}-{arch}.oci.tar"
    assert archive.is_file(), f"{archive} missing after the build:\n{proc.stderr}"
    return archive


@pytest.fixture
def store(tmp_path: Path) -> Iterator[list[str]]:
    """Private containers-storage for podman (vfs works everywhere as root)."""
    runroot = tempfile.mkdtemp(prefix="berth-img-", dir="/tmp")  # podman: runroot <= 50 chars
    yield ["--root", str(tmp_path / "storage"), "--runroot", runroot, "--storage-driver", "vfs"]
    shutil.rmtree(runroot, ignore_errors=True)


def _wait_v2(url: str, container: str, store: list[str], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            r = httpx.get(f"{url}/v2/", timeout=2.0)
            if r.status_code in (200, 401):
                return
        except httpx.TransportError:
            pass
        state = run("podman", *store, "inspect", "--format", "{{.State.Status}}", container)
        if state.stdout.strip() not in ("running", "created", "configured"):
            break
        time.sleep(0.5)
    logs = run("podman", *store, "logs", container)
    pytest.fail(f"the container did not answer /v2/:\n{logs.stdout}{logs.stderr}", pytrace=False)


def test_image_from_berth_runs_as_non_root_and_serves_pushes_and_pulls(
    image_archive: Path, berth_factory: StartServer, tmp_path: Path, store: list[str]
) -> None:
    berth = berth_factory(embedded_config(tmp_path / "host"), name="host")
    berth.create_user(*ALICE)
    # 1. the image goes into a running Berth ...
    target = f"{berth.host}/alice/berth:test"
    run(
        "skopeo", "copy", "--quiet", "--dest-tls-verify=false", "--dest-creds", CREDS,
        f"oci-archive:{image_archive}", f"docker://{target}", check=True, timeout=600,
    )  # fmt: skip
    with berth.client() as http:
        doc = check_manifest_tree(http, "alice/berth", "test")
    assert doc["mediaType"] == "application/vnd.oci.image.manifest.v1+json"

    # ... and podman pulls it back from there
    run("podman", *store, "pull", "-q", "--tls-verify=false", "--creds", CREDS, target,
        check=True, timeout=600)  # fmt: skip
    (image,) = json.loads(run("podman", *store, "image", "inspect", target, check=True).stdout)
    config = image["Config"]
    assert config["User"] == f"{IMAGE_UID}:{IMAGE_UID}"
    assert config["Entrypoint"] == ["/usr/local/bin/berth-entrypoint"]
    assert config["Cmd"] == ["serve"]
    assert set(config["Volumes"]) == {"/data", "/config"}
    assert "8080/tcp" in config["ExposedPorts"]

    # 2. run it: data and config directories from the host, owned by the image's user
    port = _free_port()
    host = f"127.0.0.1:{port}"
    data, conf = tmp_path / "ctr-data", tmp_path / "ctr-config"
    for d in (data, conf):
        d.mkdir()
        os.chown(d, IMAGE_UID, IMAGE_UID)
    (conf / "config.yaml").write_text(f"SERVER_HOSTNAME: '{host}'\nSUPER_USERS: [root]\n")
    # the image's user reads it, whatever this process's umask (berth's CLI sets 077)
    os.chown(conf / "config.yaml", IMAGE_UID, IMAGE_UID)
    name = f"berth-image-test-{port}"
    run(
        "podman", *store, "run", "-d", "--name", name, "--network=host",
        "-e", f"BERTH_PORT={port}", "-v", f"{data}:/data", "-v", f"{conf}:/config", target,
        check=True, timeout=120,
    )  # fmt: skip
    try:
        url = f"http://{host}"
        _wait_v2(url, name, store)
        assert run("podman", *store, "exec", name, "id", "-u", check=True).stdout.strip() == str(
            IMAGE_UID
        )
        # the embedded default wrote into the host's data directory, as the image's user
        assert (data / "berth.db").stat().st_uid == IMAGE_UID
        # the entry point gives admin commands the mounted config
        run(
            "podman", *store, "exec", "-i", name, "berth-entrypoint", "admin", "create-user",
            ALICE[0], "--password-stdin", input=ALICE[1] + "\n", check=True, timeout=120,
        )  # fmt: skip

        # 3. a push and a pull against the registry in the container
        layout = write_oci_layout(tmp_path / "small", tag="v1", layers=(300_000,), seed=4)
        pushed_ref = f"{host}/alice/small:v1"
        digestfile = tmp_path / "digest"
        run(
            "skopeo", "copy", "--quiet", "--dest-tls-verify=false", "--dest-creds", CREDS,
            "--digestfile", digestfile, layout.reference, f"docker://{pushed_ref}",
            check=True, timeout=300,
        )  # fmt: skip
        with httpx.Client(base_url=url, auth=ALICE, timeout=60) as http:
            assert manifest_digest(http, "alice/small", "v1") == digestfile.read_text().strip()
            check_manifest_tree(http, "alice/small", "v1")
        back = tmp_path / "back"
        run(
            "skopeo", "copy", "--quiet", "--src-tls-verify=false", "--src-creds", CREDS,
            f"docker://{pushed_ref}", f"oci:{back}:v1", check=True, timeout=300,
        )  # fmt: skip
        index = json.loads((back / "index.json").read_text())
        assert index["manifests"][0]["digest"] == digestfile.read_text().strip()
    finally:
        run("podman", *store, "rm", "-f", "-t", "5", name, timeout=120)
