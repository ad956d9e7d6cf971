"""Push images straight over the registry protocol (httpx), to any registry a test runs."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import httpx

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Pushed:
    digest: str
    manifest: bytes
    media_type: str
    blobs: dict[str, bytes]


def push_blob(client: httpx.Client, repo: str, data: bytes) -> str:
    digest = sha256(data)
    r = client.post(f"/v2/{repo}/blobs/uploads/")
    assert r.status_code == 202, r.text
    location = r.headers["location"]
    sep = "&" if "?" in location else "?"
    r = client.put(f"{location}{sep}digest={digest}", content=data)
    assert r.status_code == 201, r.text
    return digest


def push_image(
    client: httpx.Client,
    repo: str,
    tag: str,
    layers: list[bytes],
    *,
    annotations: dict[str, str] | None = None,
    subject: dict[str, object] | None = None,
    artifact_type: str | None = None,
) -> Pushed:
    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}
    ).encode()
    blobs = {sha256(config): config, **{sha256(layer): layer for layer in layers}}
    for data in blobs.values():
        push_blob(client, repo, data)
    manifest: dict[str, object] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": sha256(config), "size": len(config)},
        "layers": [
            {"mediaType": OCI_LAYER, "digest": sha256(layer), "size": len(layer)}
            for layer in layers
        ],
    }
    if annotations:
        manifest["annotations"] = annotations
    if subject:
        manifest["subject"] = subject
    if artifact_type:
        manifest["artifactType"] = artifact_type
    body = json.dumps(manifest).encode()
    r = client.put(
        f"/v2/{repo}/manifests/{tag}", content=body, headers={"Content-Type": OCI_MANIFEST}
    )
    assert r.status_code == 201, r.text
    return Pushed(sha256(body), body, OCI_MANIFEST, blobs)


def push_index(client: httpx.Client, repo: str, tag: str, images: list[Pushed]) -> Pushed:
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {
                "mediaType": image.media_type,
                "digest": image.digest,
                "size": len(image.manifest),
                "platform": {"architecture": arch, "os": "linux"},
            }
            for image, arch in zip(images, ["amd64", "arm64", "ppc64le", "s390x"], strict=False)
        ],
    }
    body = json.dumps(index).encode()
    r = client.put(f"/v2/{repo}/manifests/{tag}", content=body, headers={"Content-Type": OCI_INDEX})
    assert r.status_code == 201, r.text
    blobs = {k: v for image in images for k, v in image.blobs.items()}
    return Pushed(sha256(body), body, OCI_INDEX, blobs)
