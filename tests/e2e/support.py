"""What the e2e tests check over plain HTTP (httpx), independent of any client."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
ACCEPT = ", ".join([OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST])
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def get_manifest(client: httpx.Client, repo: str, ref: str) -> tuple[bytes, str, str]:
    """(body, Docker-Content-Digest, Content-Type); asserts a 200 whose bytes hash right."""
    r = client.get(f"/v2/{repo}/manifests/{ref}", headers={"Accept": ACCEPT})
    assert r.status_code == 200, f"GET {repo}:{ref} -> {r.status_code} {r.text[:500]}"
    digest = r.headers["docker-content-digest"]
    assert sha256(r.content) == digest, f"{repo}:{ref}: body does not hash to {digest}"
    return r.content, digest, r.headers["content-type"].split(";")[0]


def manifest_digest(client: httpx.Client, repo: str, ref: str) -> str:
    r = client.head(f"/v2/{repo}/manifests/{ref}", headers={"Accept": ACCEPT})
    assert r.status_code == 200, f"HEAD {repo}:{ref} -> {r.status_code}"
    return r.headers["docker-content-digest"]


def get_blob(client: httpx.Client, repo: str, digest: str) -> bytes:
    r = client.get(f"/v2/{repo}/blobs/{digest}", follow_redirects=True)
    assert r.status_code == 200, f"GET blob {repo}@{digest} -> {r.status_code} {r.text[:300]}"
    assert sha256(r.content) == digest, f"{repo}@{digest}: blob bytes hash to {sha256(r.content)}"
    return r.content


def tags(client: httpx.Client, repo: str) -> list[str]:
    r = client.get(f"/v2/{repo}/tags/list")
    assert r.status_code == 200, f"tags/list {repo} -> {r.status_code} {r.text[:300]}"
    return list(r.json().get("tags") or [])


def catalog(client: httpx.Client) -> list[str]:
    names: list[str] = []
    url: str | None = "/v2/_catalog?n=1000"
    while url:
        r = client.get(url)
        assert r.status_code == 200, f"_catalog -> {r.status_code} {r.text[:300]}"
        names += r.json()["repositories"]
        link = r.headers.get("link")
        url = link.split(";")[0].strip("<> ") if link else None
    return names


def check_manifest_tree(client: httpx.Client, repo: str, ref: str) -> dict[str, Any]:
    """GET ``repo:ref`` and everything it references; every byte must hash to its digest.

    Returns the parsed top-level manifest.
    """
    body, _digest, media_type = get_manifest(client, repo, ref)
    doc = json.loads(body)
    media_type = doc.get("mediaType", media_type)
    if media_type in INDEX_TYPES or "manifests" in doc:
        for child in doc["manifests"]:
            check_manifest_tree(client, repo, child["digest"])
    else:
        if "config" in doc:
            get_blob(client, repo, doc["config"]["digest"])
        for layer in doc.get("layers", []):
            get_blob(client, repo, layer["digest"])
    return doc


def check_all_tags(client: httpx.Client) -> dict[str, list[str]]:
    """Every tag of every repository in the catalog resolves to an intact manifest tree."""
    seen: dict[str, list[str]] = {}
    for repo in catalog(client):
        seen[repo] = tags(client, repo)
        for tag in seen[repo]:
            check_manifest_tree(client, repo, tag)
    return seen
