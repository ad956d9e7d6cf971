"""podman pushes and pulls; buildah builds from scratch and pushes."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import ALICE, BerthServer
from tests.e2e.support import check_manifest_tree, manifest_digest, sha256
from tests.support.clients import run
from tests.support.images import write_oci_layout

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CREDS = f"{ALICE[0]}:{ALICE[1]}"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[list[str]]:
    """Private containers-storage for podman/buildah (vfs works everywhere as root).

    podman refuses a runroot longer than 50 characters, so that one lives in /tmp.
    """
    runroot = tempfile.mkdtemp(prefix="berth-e2e-", dir="/tmp")
    yield [
        "--root",
        str(tmp_path / "storage"),
        "--runroot",
        runroot,
        "--storage-driver",
        "vfs",
    ]
    shutil.rmtree(runroot, ignore_errors=True)


def test_podman_push_then_pull(berth: BerthServer, tmp_path: Path, store: list[str]) -> None:
    layout = write_oci_layout(tmp_path / "src", tag="v1", layers=(800_000, 200_000), seed=11)
    loaded = run("podman", *store, "pull", "-q", layout.reference, check=True).stdout.strip()
    image_id = loaded.splitlines()[-1]

    target = f"{berth.host}/alice/podman-app:v1"
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
        image_id,
        f"docker://{target}",
        check=True,
    )
    pushed = digestfile.read_text().strip()
    with berth.client() as http:
        assert manifest_digest(http, "alice/podman-app", "v1") == pushed
        check_manifest_tree(http, "alice/podman-app", "v1")

    # forget the local image, then pull it back from Berth
    run("podman", *store, "rmi", "--all", "--force", check=True)
    run("podman", *store, "pull", "--tls-verify=false", "--creds", CREDS, target, check=True)
    inspect = json.loads(run("podman", *store, "image", "inspect", target, check=True).stdout)
    (image,) = inspect
    assert image["Digest"] == pushed
    assert f"{target.rsplit(':', 1)[0]}@{pushed}" in image["RepoDigests"]
    # same content as the layout we started from
    assert image["RootFS"]["Layers"] == list(layout.images[0].diff_ids)
    assert image["Id"] == layout.images[0].config.digest.removeprefix("sha256:")


def _oci_files(layout_dir: Path, tag: str) -> dict[str, bytes]:
    """Every regular file in the layers of ``tag`` of an OCI layout: path -> bytes."""
    index = json.loads((layout_dir / "index.json").read_text())
    (entry,) = [
        m
        for m in index["manifests"]
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag
    ]

    def blob(digest: str) -> bytes:
        data = (layout_dir / "blobs" / "sha256" / digest.removeprefix("sha256:")).read_bytes()
        assert sha256(data) == digest
        return data

    manifest = json.loads(blob(entry["digest"]))
    files: dict[str, bytes] = {}
    for layer in manifest["layers"]:
        with tarfile.open(fileobj=io.BytesIO(blob(layer["digest"])), mode="r:*") as tar:
            for member in tar.getmembers():
                if member.isfile():
                    f = tar.extractfile(member)
                    assert f is not None
                    files[member.name.lstrip("./")] = f.read()
    return files


def test_buildah_from_scratch_push(berth: BerthServer, tmp_path: Path, store: list[str]) -> None:
    content = b"built by buildah, stored by berth\n" * 1000
    (tmp_path / "payload.txt").write_bytes(content)

    ctr = run("buildah", *store, "from", "scratch", check=True).stdout.strip()
    run(
        "buildah",
        *store,
        "copy",
        ctr,
        str(tmp_path / "payload.txt"),
        "/app/payload.txt",
        check=True,
    )
    run("buildah", *store, "config", "--label", "built-by=e2e", ctr, check=True)
    run("buildah", *store, "commit", ctr, "localhost/e2e-built:latest", check=True)
    target = f"{berth.host}/alice/built:v1"
    digestfile = tmp_path / "pushed.digest"
    run(
        "buildah",
        *store,
        "push",
        "--tls-verify=false",
        "--creds",
        CREDS,
        "--digestfile",
        digestfile,
        "localhost/e2e-built:latest",
        f"docker://{target}",
        check=True,
    )
    pushed = digestfile.read_text().strip()
    with berth.client() as http:
        assert manifest_digest(http, "alice/built", "v1") == pushed

    out = tmp_path / "pulled"
    run(
        "skopeo",
        "copy",
        "--src-tls-verify=false",
        "--src-creds",
        CREDS,
        f"docker://{target}",
        f"oci:{out}:v1",
        check=True,
    )
    files = _oci_files(out, "v1")
    assert files["app/payload.txt"] == content
