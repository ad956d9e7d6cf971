"""cosign signs and verifies with a local key pair (no transparency log); crane copies by mount."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.e2e.conftest import ALICE, BerthServer
from tests.e2e.support import check_manifest_tree, get_manifest, manifest_digest, tags
from tests.support.clients import run
from tests.support.images import write_oci_layout

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

COSIGN_INSECURE = ("--allow-insecure-registry", "--allow-http-registry")
SIMPLESIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"


def _push_image(berth: BerthServer, tmp_path: Path, repo: str, seed: int) -> str:
    layout = write_oci_layout(
        tmp_path / f"src-{seed}", tag="v1", layers=(600_000, 100_000), seed=seed
    )
    run(
        "skopeo",
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        ":".join(ALICE),
        layout.reference,
        f"docker://{berth.host}/{repo}:v1",
        check=True,
    )
    return layout.digest


def _keypair(env: dict[str, str], directory: Path) -> tuple[Path, Path]:
    directory.mkdir()
    run("cosign", "generate-key-pair", env=env, cwd=directory, check=True)
    return directory / "cosign.key", directory / "cosign.pub"


def test_cosign_sign_and_verify(berth: BerthServer, client_env: dict[str, str], tmp_path: Path):
    digest = _push_image(berth, tmp_path, "alice/signed", seed=21)
    env = {**client_env, "COSIGN_PASSWORD": "cosign-test-password"}
    key, pub = _keypair(env, tmp_path / "keys")
    image = f"{berth.host}/alice/signed@{digest}"

    run(
        "cosign",
        "sign",
        "--key",
        key,
        "--tlog-upload=false",
        "-y",
        *COSIGN_INSECURE,
        image,
        env=env,
        check=True,
    )

    verified = run(
        "cosign",
        "verify",
        "--key",
        pub,
        "--insecure-ignore-tlog",
        *COSIGN_INSECURE,
        image,
        env=env,
        check=True,
    )
    (claim,) = json.loads(verified.stdout)
    assert claim["critical"]["image"]["docker-manifest-digest"] == digest
    assert claim["critical"]["identity"]["docker-reference"] == f"{berth.host}/alice/signed"

    # what cosign wrote: the legacy tag scheme "sha256-<hex>.sig", not a referrer
    sig_tag = digest.replace(":", "-") + ".sig"
    with berth.client() as http:
        assert sorted(tags(http, "alice/signed")) == sorted(["v1", sig_tag])
        body, _, _ = get_manifest(http, "alice/signed", sig_tag)
        sig = json.loads(body)
        (layer,) = sig["layers"]
        assert layer["mediaType"] == SIMPLESIGNING
        assert "dev.cosignproject.cosign/signature" in layer["annotations"]
        check_manifest_tree(http, "alice/signed", sig_tag)
        r = http.get(f"/v2/alice/signed/referrers/{digest}")
        assert r.status_code == 200
        assert r.json()["manifests"] == []

    # another key does not verify; an unsigned image does not verify
    _other_key, other_pub = _keypair(env, tmp_path / "other-keys")
    wrong = run(
        "cosign",
        "verify",
        "--key",
        other_pub,
        "--insecure-ignore-tlog",
        *COSIGN_INSECURE,
        image,
        env=env,
    )
    assert wrong.returncode != 0
    unsigned_digest = _push_image(berth, tmp_path, "alice/unsigned", seed=22)
    unsigned = run(
        "cosign",
        "verify",
        "--key",
        pub,
        "--insecure-ignore-tlog",
        *COSIGN_INSECURE,
        f"{berth.host}/alice/unsigned@{unsigned_digest}",
        env=env,
    )
    assert unsigned.returncode != 0
    assert "no signatures found" in unsigned.stderr.lower()


_MOUNT_REQ = re.compile(r"--> POST \S+/v2/alice/mirror/blobs/uploads/\?(\S*mount=\S+)")
_MOUNT_RESP = re.compile(r"<-- (\d{3}) \S+/v2/alice/mirror/blobs/uploads/\?(\S*mount=\S+)")


def test_crane_copy_uses_cross_repo_mount(
    berth: BerthServer, client_env: dict[str, str], tmp_path: Path
):
    digest = _push_image(berth, tmp_path, "alice/origin", seed=31)
    src, dst = f"{berth.host}/alice/origin:v1", f"{berth.host}/alice/mirror:v1"
    copied = run("crane", "copy", "--insecure", "--verbose", src, dst, env=client_env, check=True)

    with berth.client() as http:
        source = check_manifest_tree(http, "alice/origin", "v1")
        check_manifest_tree(http, "alice/mirror", "v1")
        assert manifest_digest(http, "alice/mirror", "v1") == digest
    wanted = {source["config"]["digest"], *(layer["digest"] for layer in source["layers"])}

    log = copied.stderr
    requested = {q for q in _MOUNT_REQ.findall(log)}
    answered = {q: int(status) for status, q in _MOUNT_RESP.findall(log)}
    mounted = {re.search(r"mount=sha256%3A([0-9a-f]{64})", q).group(1) for q in requested}  # type: ignore[union-attr]
    assert {f"sha256:{h}" for h in mounted} == wanted, log[-3000:]
    assert all("from=alice%2Forigin" in q for q in requested)
    assert answered == dict.fromkeys(requested, 201), "every mount is answered 201 Created"
    # nothing was uploaded the long way
    assert "PATCH " not in log
    assert re.search(r"--> PUT \S+/blobs/uploads/", log) is None
