"""skopeo copies OCI layouts into Berth and back out, byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import ALICE, BerthServer
from tests.e2e.support import check_manifest_tree, manifest_digest, tags
from tests.support.clients import run
from tests.support.images import write_oci_layout

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CREDS = f"{ALICE[0]}:{ALICE[1]}"


def _reachable_blobs(layout: Path, digest: str) -> set[str]:
    """Digests of the manifest/index ``digest`` and everything under it in ``layout``."""
    path = layout / "blobs" / "sha256" / digest.removeprefix("sha256:")
    doc = json.loads(path.read_bytes())
    found = {digest}
    for child in doc.get("manifests", []):
        found |= _reachable_blobs(layout, child["digest"])
    if "config" in doc:
        found.add(doc["config"]["digest"])
    found |= {layer["digest"] for layer in doc.get("layers", [])}
    return found


def _top_digest(layout: Path, tag: str) -> str:
    index = json.loads((layout / "index.json").read_text())
    (entry,) = [
        m
        for m in index["manifests"]
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag
    ]
    return str(entry["digest"])


@pytest.mark.parametrize(
    "platforms", [None, ["linux/amd64", "linux/arm64/v8"]], ids=["single", "multiarch"]
)
def test_skopeo_round_trip(berth: BerthServer, tmp_path: Path, platforms: list[str] | None) -> None:
    layout = write_oci_layout(
        tmp_path / "src", tag="v1", layers=(1_500_000, 300_000), platforms=platforms, seed=7
    )
    dest = f"docker://{berth.host}/alice/skopeo-app:v1"
    run(
        "skopeo",
        "copy",
        "--all",
        "--dest-tls-verify=false",
        "--dest-creds",
        CREDS,
        layout.reference,
        dest,
        check=True,
    )

    with berth.client() as http:
        assert manifest_digest(http, "alice/skopeo-app", "v1") == layout.digest
        assert tags(http, "alice/skopeo-app") == ["v1"]
        doc = check_manifest_tree(http, "alice/skopeo-app", "v1")
    assert doc["mediaType"] == layout.media_type
    if layout.is_index:
        assert [m["digest"] for m in doc["manifests"]] == [i.manifest.digest for i in layout.images]

    out = tmp_path / "out"
    run(
        "skopeo",
        "copy",
        "--all",
        "--src-tls-verify=false",
        "--src-creds",
        CREDS,
        dest,
        f"oci:{out}:v1",
        check=True,
    )
    assert _top_digest(out, "v1") == layout.digest
    wanted = _reachable_blobs(layout.path, layout.digest)
    assert _reachable_blobs(out, layout.digest) == wanted
    for digest in wanted:
        assert (out / "blobs" / "sha256" / digest[7:]).read_bytes() == layout.blob(digest), digest
