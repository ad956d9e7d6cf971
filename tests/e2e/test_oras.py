"""oras: artifacts, referrers (attach/discover and the referrers API) and Helm-style charts."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from tests.e2e.conftest import ALICE, BerthServer
from tests.e2e.support import OCI_INDEX, get_blob, get_manifest, tags
from tests.support.clients import run
from tests.support.images import write_oci_layout

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

THING = "application/vnd.example.thing"
SBOM = "application/vnd.example.sbom"
HELM_CONFIG = "application/vnd.cncf.helm.config.v1+json"
HELM_CHART = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
TITLE = "org.opencontainers.image.title"


def oras(env: dict[str, str], cwd: Path, *args: str) -> str:
    return run("oras", *args, "--plain-http", env=env, cwd=cwd, check=True).stdout


def test_oras_artifact_round_trip(berth: BerthServer, client_env: dict[str, str], tmp_path: Path):
    payload = b"an artifact that is not an image\n" * 5000
    (tmp_path / "thing.bin").write_bytes(payload)
    ref = f"{berth.host}/alice/artifacts/thing:v1"
    out = json.loads(
        oras(
            client_env,
            tmp_path,
            "push",
            ref,
            "--artifact-type",
            THING,
            "--format",
            "json",
            "thing.bin:application/octet-stream",
        )
    )
    with berth.client() as http:
        body, digest, _ = get_manifest(http, "alice/artifacts/thing", "v1")
        assert digest == out["digest"]
        manifest = json.loads(body)
        assert manifest["artifactType"] == THING
        (layer,) = manifest["layers"]
        assert layer["annotations"][TITLE] == "thing.bin"
        assert get_blob(http, "alice/artifacts/thing", layer["digest"]) == payload
        get_blob(http, "alice/artifacts/thing", manifest["config"]["digest"])

    pulled = tmp_path / "pulled"
    oras(client_env, tmp_path, "pull", ref, "-o", str(pulled))
    assert (pulled / "thing.bin").read_bytes() == payload


def test_oras_attach_and_discover(berth: BerthServer, client_env: dict[str, str], tmp_path: Path):
    layout = write_oci_layout(tmp_path / "src", tag="v1", layers=(200_000,), seed=3)
    run(
        "skopeo",
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        ":".join(ALICE),
        layout.reference,
        f"docker://{berth.host}/alice/app:v1",
        check=True,
    )
    sbom = json.dumps({"spdxVersion": "SPDX-2.3", "name": "app"}).encode()
    (tmp_path / "sbom.spdx.json").write_bytes(sbom)

    image = f"{berth.host}/alice/app:v1"
    attached = json.loads(
        oras(
            client_env,
            tmp_path,
            "attach",
            "--artifact-type",
            SBOM,
            "--format",
            "json",
            image,
            "sbom.spdx.json:application/spdx+json",
        )
    )
    sbom_digest = attached["digest"]

    found = json.loads(oras(client_env, tmp_path, "discover", "--format", "json", image))
    listed = {m["digest"]: m for m in found["manifests"]}
    assert list(listed) == [sbom_digest]
    assert listed[sbom_digest]["artifactType"] == SBOM

    with berth.client() as http:
        # oras used the referrers API: no fallback tag "sha256-<hex>" was written
        assert tags(http, "alice/app") == ["v1"]
        body, _, _ = get_manifest(http, "alice/app", sbom_digest)
        referrer = json.loads(body)
        assert referrer["subject"]["digest"] == layout.digest
        (layer,) = referrer["layers"]
        assert get_blob(http, "alice/app", layer["digest"]) == sbom

        r = http.get(f"/v2/alice/app/referrers/{layout.digest}")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith(OCI_INDEX)
        index = r.json()
        assert index["mediaType"] == OCI_INDEX
        assert [(m["digest"], m["artifactType"]) for m in index["manifests"]] == [
            (sbom_digest, SBOM)
        ]
        (entry,) = index["manifests"]
        assert entry["size"] == len(body)

        r = http.get(f"/v2/alice/app/referrers/{layout.digest}", params={"artifactType": SBOM})
        assert r.status_code == 200
        assert r.headers.get("oci-filters-applied") == "artifactType"
        assert [m["digest"] for m in r.json()["manifests"]] == [sbom_digest]
        r = http.get(
            f"/v2/alice/app/referrers/{layout.digest}",
            params={"artifactType": "application/vnd.example.other"},
        )
        assert r.status_code == 200
        assert r.json()["manifests"] == []


def _helm_chart(name: str, version: str) -> bytes:
    files = {
        f"{name}/Chart.yaml": f"apiVersion: v2\nname: {name}\nversion: {version}\n".encode(),
        f"{name}/values.yaml": b"replicaCount: 1\n",
        f"{name}/templates/cm.yaml": b"apiVersion: v1\nkind: ConfigMap\n" * 200,
    }
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for path, data in files.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mtime = 1704067200
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_helm_chart_like_artifact(berth: BerthServer, client_env: dict[str, str], tmp_path: Path):
    chart = _helm_chart("mychart", "0.1.0")
    config = json.dumps({"name": "mychart", "version": "0.1.0", "apiVersion": "v2"}).encode()
    (tmp_path / "mychart-0.1.0.tgz").write_bytes(chart)
    (tmp_path / "config.json").write_bytes(config)
    # what `helm push mychart-0.1.0.tgz oci://HOST/alice/charts` sends
    ref = f"{berth.host}/alice/charts/mychart:0.1.0"
    oras(
        client_env,
        tmp_path,
        "push",
        ref,
        "--config",
        f"config.json:{HELM_CONFIG}",
        f"mychart-0.1.0.tgz:{HELM_CHART}",
    )

    with berth.client() as http:
        body, _, _ = get_manifest(http, "alice/charts/mychart", "0.1.0")
        manifest = json.loads(body)
        assert manifest["config"]["mediaType"] == HELM_CONFIG
        assert [layer["mediaType"] for layer in manifest["layers"]] == [HELM_CHART]
        assert get_blob(http, "alice/charts/mychart", manifest["config"]["digest"]) == config
        assert tags(http, "alice/charts/mychart") == ["0.1.0"]

    pulled = tmp_path / "pulled"
    oras(client_env, tmp_path, "pull", ref, "-o", str(pulled))
    assert (pulled / "mychart-0.1.0.tgz").read_bytes() == chart
