"""Realistic manifest bodies, as the common clients push them."""

import orjson

from berth.oci import mediatypes as mt
from berth.oci.digest import digest_of

CONFIG = digest_of(b"image config")
LAYER1 = digest_of(b"layer one")
LAYER2 = digest_of(b"layer two")
AMD64 = digest_of(b"amd64 manifest")
ARM64 = digest_of(b"arm64 manifest")
ATTESTATION = digest_of(b"attestation manifest")
SBOM = digest_of(b"sbom json")
SUBJECT = digest_of(b"the signed image")


def dumps(doc: dict) -> bytes:
    return orjson.dumps(doc)


def oci_image() -> dict:
    return {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "config": {"mediaType": mt.OCI_CONFIG, "digest": CONFIG, "size": 1469},
        "layers": [
            {"mediaType": mt.OCI_LAYER_GZIP, "digest": LAYER1, "size": 3370706},
            {"mediaType": mt.OCI_LAYER_ZSTD, "digest": LAYER2, "size": 1024},
        ],
        "annotations": {
            "org.opencontainers.image.base.name": "docker.io/library/alpine:3.19",
            "org.opencontainers.image.created": "2024-03-01T10:00:00Z",
        },
    }


def oci_index() -> dict:
    return {
        "schemaVersion": 2,
        "mediaType": mt.OCI_INDEX,
        "manifests": [
            {
                "mediaType": mt.OCI_MANIFEST,
                "digest": AMD64,
                "size": 1051,
                "platform": {"architecture": "amd64", "os": "linux"},
            },
            {
                "mediaType": mt.OCI_MANIFEST,
                "digest": ARM64,
                "size": 1051,
                "platform": {
                    "architecture": "arm64",
                    "os": "linux",
                    "variant": "v8",
                    "os.features": [],
                },
            },
            {
                "mediaType": mt.OCI_MANIFEST,
                "digest": ATTESTATION,
                "size": 839,
                "annotations": {
                    "vnd.docker.reference.digest": AMD64,
                    "vnd.docker.reference.type": "attestation-manifest",
                },
                "platform": {"architecture": "unknown", "os": "unknown"},
            },
        ],
        "annotations": {"org.opencontainers.image.ref.name": "3.19"},
    }


def docker_image() -> dict:
    return {
        "schemaVersion": 2,
        "mediaType": mt.DOCKER_MANIFEST,
        "config": {"mediaType": mt.DOCKER_CONFIG, "size": 7023, "digest": CONFIG},
        "layers": [
            {"mediaType": mt.DOCKER_LAYER, "size": 32654, "digest": LAYER1},
            {"mediaType": mt.DOCKER_LAYER, "size": 16724, "digest": LAYER2},
        ],
    }


def docker_list() -> dict:
    return {
        "schemaVersion": 2,
        "mediaType": mt.DOCKER_MANIFEST_LIST,
        "manifests": [
            {
                "mediaType": mt.DOCKER_MANIFEST,
                "size": 7143,
                "digest": AMD64,
                "platform": {"architecture": "amd64", "os": "linux"},
            },
            {
                "mediaType": mt.DOCKER_MANIFEST,
                "size": 7682,
                "digest": ARM64,
                "platform": {
                    "architecture": "amd64",
                    "os": "windows",
                    "os.version": "10.0.17763.5458",
                    "features": ["sse4"],
                },
            },
        ],
    }


def oras_artifact() -> dict:
    """`oras push --artifact-type application/vnd.example.sbom.v1 ... sbom.json`."""
    return {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "artifactType": "application/vnd.example.sbom.v1",
        "config": {"mediaType": mt.OCI_EMPTY, "digest": mt.EMPTY_JSON_DIGEST, "size": 2},
        "layers": [
            {
                "mediaType": "application/spdx+json",
                "digest": SBOM,
                "size": 4096,
                "annotations": {"org.opencontainers.image.title": "sbom.json"},
            }
        ],
        "annotations": {"org.opencontainers.image.created": "2024-03-01T10:00:00Z"},
    }


def signature_with_subject() -> dict:
    """A notation-style signature: an artifact whose subject is the signed image."""
    return {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "artifactType": "application/vnd.cncf.notary.signature",
        "config": {"mediaType": mt.OCI_EMPTY, "digest": mt.EMPTY_JSON_DIGEST, "size": 2},
        "layers": [
            {
                "mediaType": "application/jose+json",
                "digest": digest_of(b"jws envelope"),
                "size": 2090,
            }
        ],
        "subject": {"mediaType": mt.OCI_MANIFEST, "digest": SUBJECT, "size": 1234},
        "annotations": {"io.cncf.notary.x509chain.thumbprint#S256": '["abc"]'},
    }


def umoci_image() -> dict:
    """umoci writes no mediaType in the body; the Content-Type carries it."""
    doc = oci_image()
    del doc["mediaType"]
    return doc
