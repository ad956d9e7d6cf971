"""The OCI layout generator writes layouts that a registry client would accept."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import tracemalloc
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.support import clients
from tests.support.images import (
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER_GZIP,
    OCI_MANIFEST,
    REF_NAME,
    make_layer,
    make_layer_bytes,
    write_oci_layout,
)


def blob(layout_dir: Path, descriptor: dict[str, Any]) -> bytes:
    """The blob a descriptor points at, checked against its digest and size."""
    algorithm, _, hexdigest = descriptor["digest"].partition(":")
    assert algorithm == "sha256"
    data = (layout_dir / "blobs" / "sha256" / hexdigest).read_bytes()
    assert hashlib.sha256(data).hexdigest() == hexdigest
    assert len(data) == descriptor["size"]
    return data


def tag_descriptor(layout_dir: Path, tag: str) -> dict[str, Any]:
    assert json.loads((layout_dir / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads((layout_dir / "index.json").read_text())
    assert index["schemaVersion"] == 2
    matches = [m for m in index["manifests"] if m["annotations"][REF_NAME] == tag]
    assert len(matches) == 1
    return matches[0]


def check_manifest(layout_dir: Path, descriptor: dict[str, Any]) -> dict[str, Any]:
    """Check a manifest and everything it references; return its config."""
    manifest = json.loads(blob(layout_dir, descriptor))
    assert manifest["schemaVersion"] == 2
    assert manifest["mediaType"] == OCI_MANIFEST
    assert manifest["config"]["mediaType"] == OCI_CONFIG
    config = json.loads(blob(layout_dir, manifest["config"]))
    diff_ids = []
    for layer in manifest["layers"]:
        assert layer["mediaType"] == OCI_LAYER_GZIP
        raw = gzip.decompress(blob(layout_dir, layer))
        diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
    assert config["rootfs"] == {"type": "layers", "diff_ids": diff_ids}
    return config


def test_single_image_layout_is_valid(tmp_path: Path) -> None:
    out = write_oci_layout(
        tmp_path,
        tag="v1",
        layers=[1000, 50_000],
        labels={"quay.expires-after": "2h"},
        annotations={"org.opencontainers.image.source": "https://example.test/berth"},
    )

    top = tag_descriptor(tmp_path, "v1")
    assert top["mediaType"] == OCI_MANIFEST
    assert (top["digest"], top["size"]) == (out.digest, out.size)
    config = check_manifest(tmp_path, top)
    assert (config["os"], config["architecture"]) == ("linux", "amd64")
    assert config["config"]["Labels"] == {"quay.expires-after": "2h"}
    manifest = json.loads(blob(tmp_path, top))
    assert manifest["annotations"] == {
        "org.opencontainers.image.source": "https://example.test/berth"
    }
    assert [layer["digest"] for layer in manifest["layers"]] == [
        d.digest for d in out.images[0].layers
    ]
    assert out.reference == f"oci:{tmp_path}:v1"
    assert not out.is_index


def test_layer_holds_a_file_of_the_requested_size(tmp_path: Path) -> None:
    path, digest, diff_id = make_layer(123_457, seed=7, directory=tmp_path)
    data = path.read_bytes()
    assert digest == "sha256:" + hashlib.sha256(data).hexdigest()
    assert path.name == digest.removeprefix("sha256:")
    raw = gzip.decompress(data)
    assert diff_id == "sha256:" + hashlib.sha256(raw).hexdigest()
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        files = [m for m in tar.getmembers() if m.isfile()]
        assert [m.size for m in files] == [123_457]
    # random content does not compress: the blob is about as big as the file
    assert 123_457 < len(data) < 123_457 + 4096


def test_layers_are_deterministic_per_seed(tmp_path: Path) -> None:
    a = make_layer_bytes(4096, seed=1)
    assert make_layer_bytes(4096, seed=1) == a
    assert make_layer_bytes(4096, seed=2)[1] != a[1]
    on_disk = make_layer(4096, 1, tmp_path)
    assert (on_disk.read_bytes(), on_disk.digest, on_disk.diff_id) == a


def test_multi_platform_layout_is_an_index_of_per_platform_manifests(tmp_path: Path) -> None:
    platforms = ["linux/amd64", "linux/arm64/v8", "linux/ppc64le"]
    out = write_oci_layout(tmp_path, tag="multi", layers=[2048, 4096], platforms=platforms)

    top = tag_descriptor(tmp_path, "multi")
    assert top["mediaType"] == OCI_INDEX == out.media_type
    assert top["digest"] == out.digest
    index = json.loads(blob(tmp_path, top))
    assert index["mediaType"] == OCI_INDEX
    seen_layers: set[str] = set()
    got_platforms = []
    for entry in index["manifests"]:
        assert entry["mediaType"] == OCI_MANIFEST
        config = check_manifest(tmp_path, entry)
        platform = entry["platform"]
        assert (config["os"], config["architecture"]) == (platform["os"], platform["architecture"])
        assert config.get("variant") == platform.get("variant")
        got_platforms.append(
            "/".join(
                filter(None, [platform["os"], platform["architecture"], platform.get("variant")])
            )
        )
        layers = {layer["digest"] for layer in json.loads(blob(tmp_path, entry))["layers"]}
        assert not layers & seen_layers, "each platform has its own layers"
        seen_layers |= layers
    assert got_platforms == platforms
    assert [image.platform for image in out.images] == platforms


def test_tags_accumulate_in_one_layout(tmp_path: Path) -> None:
    first = write_oci_layout(tmp_path, tag="a", layers=[100], seed=1)
    second = write_oci_layout(tmp_path, tag="b", layers=[100], seed=2)
    replaced = write_oci_layout(tmp_path, tag="a", layers=[100], seed=3)

    index = json.loads((tmp_path / "index.json").read_text())
    assert sorted(m["annotations"][REF_NAME] for m in index["manifests"]) == ["a", "b"]
    assert tag_descriptor(tmp_path, "b")["digest"] == second.digest
    assert tag_descriptor(tmp_path, "a")["digest"] == replaced.digest != first.digest


def test_big_layers_are_streamed_not_held_in_memory(tmp_path: Path) -> None:
    size = 24 * 1024 * 1024
    tracemalloc.start()
    try:
        layer = make_layer(size, seed=3, directory=tmp_path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert layer.size > size
    assert peak < 8 * 1024 * 1024, f"peak Python allocation {peak} bytes"


@pytest.mark.slow
@pytest.mark.parametrize("platforms", [None, ["linux/amd64", "linux/arm64/v8"]])
def test_skopeo_reads_and_copies_the_layout(tmp_path: Path, platforms: list[str] | None) -> None:
    src = tmp_path / "src"
    out = write_oci_layout(
        src, tag="t1", layers=[1000, 300_000], platforms=platforms, labels={"berth.test": "yes"}
    )

    inspected = json.loads(clients.run("skopeo", "inspect", out.reference, check=True).stdout)
    assert inspected["Labels"] == {"berth.test": "yes"}
    assert inspected["Architecture"] == "amd64"
    assert inspected["Layers"] == [d.digest for d in out.images[0].layers]
    raw = clients.run("skopeo", "inspect", "--raw", out.reference, check=True).stdout
    assert hashlib.sha256(raw.encode()).hexdigest() == out.digest.removeprefix("sha256:")

    # a copy verifies every blob's digest on the way
    dst = tmp_path / "dst"
    clients.run("skopeo", "copy", "--all", "--quiet", out.reference, f"oci:{dst}:t1", check=True)
    assert tag_descriptor(dst, "t1")["digest"] == out.digest


@pytest.mark.slow
def test_busybox_image_runs_under_podman(tmp_path: Path) -> None:
    busybox = Path("/bin/busybox")
    if not busybox.is_file():
        pytest.fail("/bin/busybox (busybox-static) missing: run scripts/install-test-deps")
    out = write_oci_layout(tmp_path / "img", tag="bb", layers=[1000], busybox=busybox)
    name = f"localhost/berth-test-busybox:{uuid.uuid4().hex[:12]}"
    clients.run(
        "skopeo", "copy", "--quiet", out.reference, f"containers-storage:{name}", check=True
    )
    try:
        proc = clients.run(
            "podman",
            "run",
            "--rm",
            "--network",
            "none",
            name,
            "/bin/echo",
            "hello from berth",
            check=True,
            timeout=120,
        )
        assert proc.stdout.strip() == "hello from berth"
    finally:
        clients.run("podman", "rmi", "--force", name)
