"""Push workflow, manifests: every supported kind, validation errors, names and tags."""

from __future__ import annotations

import json

import pytest

from tests.integration.conftest import (
    DOCKER_CONFIG,
    DOCKER_LAYER,
    DOCKER_LIST,
    DOCKER_MANIFEST,
    EMPTY_DIGEST,
    EMPTY_JSON,
    OCI_EMPTY,
    OCI_INDEX,
    OCI_MANIFEST,
    Berth,
    Client,
    assert_error,
    canonical,
    descriptor,
    digest_of,
    image_config,
    image_manifest,
    index_manifest,
    random_bytes,
)


async def assert_manifest(
    client: Client, repo: str, ref: str, body: bytes, media_type: str
) -> None:
    resp = await client.get(f"/v2/{repo}/manifests/{ref}")
    assert resp.status_code == 200, f"{repo}:{ref} -> {resp.status_code} {resp.text}"
    assert resp.content == body
    assert resp.headers["content-type"] == media_type
    algorithm = ref.split(":")[0] if ":" in ref else "sha256"
    assert resp.headers["docker-content-digest"] == digest_of(body, algorithm)


async def upload_image_blobs(client: Client, repo: str, n_layers: int = 1):  # type: ignore[no-untyped-def]
    layers = [random_bytes(500 + i) for i in range(n_layers)]
    config = image_config(layers)
    for blob in (config, *layers):
        await client.upload(repo, blob)
    return config, layers


# --------------------------------------------------------------------------- kinds


async def test_oci_image_manifest_by_tag(registry: Berth, alice: Client) -> None:
    config, layers = await upload_image_blobs(alice, "alice/app", 2)
    body = image_manifest(config, layers, annotations={"org.example": "yes"})
    resp = await alice.put_manifest("alice/app", "v1", body, OCI_MANIFEST)
    assert resp.status_code == 201, resp.text
    digest = digest_of(body)
    assert resp.headers["docker-content-digest"] == digest
    assert resp.headers["location"].endswith(f"/v2/alice/app/manifests/{digest}")
    assert "oci-subject" not in resp.headers
    await assert_manifest(alice, "alice/app", "v1", body, OCI_MANIFEST)
    await assert_manifest(alice, "alice/app", digest, body, OCI_MANIFEST)


async def test_same_manifest_under_many_tags(registry: Berth, alice: Client) -> None:
    config, layers = await upload_image_blobs(alice, "alice/app")
    body = image_manifest(config, layers)
    for i in range(4):
        resp = await alice.put_manifest("alice/app", f"test{i}", body, OCI_MANIFEST)
        assert resp.status_code == 201
        assert resp.headers["location"]
    for i in range(4):
        await assert_manifest(alice, "alice/app", f"test{i}", body, OCI_MANIFEST)
    await assert_manifest(alice, "alice/app", digest_of(body), body, OCI_MANIFEST)
    resp = await alice.put_manifest("alice/app", "test0", body, OCI_MANIFEST)  # idempotent
    assert resp.status_code == 201


async def test_moving_a_tag(registry: Berth, alice: Client) -> None:
    one = await alice.push_image("alice/app", "latest")
    two = await alice.push_image("alice/app", "latest")
    await assert_manifest(alice, "alice/app", "latest", two.manifest, OCI_MANIFEST)
    tags = (await alice.get("/v2/alice/app/tags/list")).json()["tags"]
    assert tags == ["latest"]
    assert one.digest != two.digest


async def test_manifest_by_digest_is_not_tagged(registry: Berth, alice: Client) -> None:
    pushed = await alice.push_image("alice/app", None)
    await assert_manifest(alice, "alice/app", pushed.digest, pushed.manifest, OCI_MANIFEST)
    assert (await alice.get("/v2/alice/app/tags/list")).json()["tags"] == []


async def test_oci_index(registry: Berth, alice: Client) -> None:
    amd = await alice.push_image("alice/multi", None)
    arm = await alice.push_image("alice/multi", None)
    body = index_manifest(
        [
            (OCI_MANIFEST, amd.manifest, {"platform": {"architecture": "amd64", "os": "linux"}}),
            (OCI_MANIFEST, arm.manifest, {"platform": {"architecture": "arm64", "os": "linux"}}),
        ]
    )
    resp = await alice.put_manifest("alice/multi", "v1", body, OCI_INDEX)
    assert resp.status_code == 201, resp.text
    await assert_manifest(alice, "alice/multi", "v1", body, OCI_INDEX)
    for child in (amd, arm):
        await assert_manifest(alice, "alice/multi", child.digest, child.manifest, OCI_MANIFEST)


async def test_docker_schema2_and_manifest_list(registry: Berth, alice: Client) -> None:
    amd = await alice.push_image("alice/docker", "amd64", media_type=DOCKER_MANIFEST)
    arm = await alice.push_image("alice/docker", "arm64", media_type=DOCKER_MANIFEST)
    await assert_manifest(alice, "alice/docker", "amd64", amd.manifest, DOCKER_MANIFEST)
    doc = json.loads(amd.manifest)
    assert doc["config"]["mediaType"] == DOCKER_CONFIG
    assert doc["layers"][0]["mediaType"] == DOCKER_LAYER
    body = index_manifest(
        [
            (DOCKER_MANIFEST, amd.manifest, {"platform": {"architecture": "amd64", "os": "linux"}}),
            (DOCKER_MANIFEST, arm.manifest, {"platform": {"architecture": "arm64", "os": "linux"}}),
        ],
        media_type=DOCKER_LIST,
    )
    resp = await alice.put_manifest("alice/docker", "latest", body, DOCKER_LIST)
    assert resp.status_code == 201, resp.text
    await assert_manifest(alice, "alice/docker", "latest", body, DOCKER_LIST)
    await assert_manifest(alice, "alice/docker", amd.digest, amd.manifest, DOCKER_MANIFEST)


async def test_oci_artifact_with_empty_config(registry: Berth, alice: Client) -> None:
    """artifactType + the empty config, which the client never uploads (oras does this)."""
    payload = random_bytes(300)
    await alice.upload("alice/art", payload)
    body = canonical(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": "application/vnd.example.sbom.v1",
            "config": {"mediaType": OCI_EMPTY, "digest": EMPTY_DIGEST, "size": 2},
            "layers": [descriptor("application/vnd.example.sbom.layer", payload)],
        }
    )
    resp = await alice.put_manifest("alice/art", "sbom", body, OCI_MANIFEST)
    assert resp.status_code == 201, resp.text
    await assert_manifest(alice, "alice/art", "sbom", body, OCI_MANIFEST)
    empty = await alice.get(f"/v2/alice/art/blobs/{EMPTY_DIGEST}")
    assert empty.status_code == 200
    assert empty.content == EMPTY_JSON


async def test_oci_artifact_with_empty_layer_uploaded(registry: Berth, alice: Client) -> None:
    await alice.upload("alice/art", EMPTY_JSON)
    body = canonical(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": "application/vnd.example.note",
            "config": {"mediaType": OCI_EMPTY, "digest": EMPTY_DIGEST, "size": 2},
            "layers": [{"mediaType": OCI_EMPTY, "digest": EMPTY_DIGEST, "size": 2}],
            "annotations": {"org.example.note": "hello"},
        }
    )
    resp = await alice.put_manifest("alice/art", "note", body, OCI_MANIFEST)
    assert resp.status_code == 201, resp.text
    await assert_manifest(alice, "alice/art", "note", body, OCI_MANIFEST)


@pytest.mark.parametrize("content_type", [OCI_MANIFEST, OCI_INDEX])
async def test_manifest_without_media_type_field(
    registry: Berth, alice: Client, content_type: str
) -> None:
    """No mediaType in the body: the Content-Type header says what it is."""
    if content_type == OCI_MANIFEST:
        config, layers = await upload_image_blobs(alice, "alice/bare")
        body = image_manifest(config, layers, with_media_type=False)
    else:
        child = await alice.push_image("alice/bare", None)
        body = index_manifest([(OCI_MANIFEST, child.manifest, {})], with_media_type=False)
    assert b"mediaType" not in body.split(b'"manifests"')[0].split(b'"config"')[0]
    resp = await alice.put_manifest("alice/bare", "v1", body, content_type)
    assert resp.status_code == 201, resp.text
    await assert_manifest(alice, "alice/bare", "v1", body, content_type)


async def test_manifest_by_sha512_digest(registry: Berth, alice: Client) -> None:
    config, layers = await upload_image_blobs(alice, "alice/app")
    body = image_manifest(config, layers)
    ref = digest_of(body, "sha512")
    resp = await alice.put_manifest("alice/app", ref, body, OCI_MANIFEST)
    assert resp.status_code == 201, resp.text
    assert resp.headers["docker-content-digest"] == ref
    await assert_manifest(alice, "alice/app", ref, body, OCI_MANIFEST)


async def test_manifest_of_exactly_4_mib_is_accepted(registry: Berth, alice: Client) -> None:
    config, layers = await upload_image_blobs(alice, "alice/app")
    limit = 4 * 1024 * 1024
    base = image_manifest(config, layers, annotations={"pad": ""})
    body = image_manifest(config, layers, annotations={"pad": "x" * (limit - len(base))})
    assert len(body) == limit
    resp = await alice.put_manifest("alice/app", "big", body, OCI_MANIFEST)
    assert resp.status_code == 201, resp.text
    await assert_manifest(alice, "alice/app", "big", body, OCI_MANIFEST)


# ---------------------------------------------------------------------------- errors


async def test_missing_blobs_are_all_listed(registry: Berth, alice: Client) -> None:
    await alice.upload("alice/app", random_bytes(10))  # the repository exists
    layers = [random_bytes(100), random_bytes(200)]
    config = image_config(layers)
    body = image_manifest(config, layers)
    resp = await alice.put_manifest("alice/app", "v1", body, OCI_MANIFEST)
    assert_error(resp, 400, "MANIFEST_BLOB_UNKNOWN")
    text = resp.text
    for blob in (config, *layers):
        assert digest_of(blob) in text, f"{digest_of(blob)} not reported missing"
    assert_error(await alice.get("/v2/alice/app/manifests/v1"), 404, "MANIFEST_UNKNOWN")


async def test_some_blobs_missing(registry: Berth, alice: Client) -> None:
    layers = [random_bytes(100), random_bytes(200)]
    config = image_config(layers)
    await alice.upload("alice/app", config)
    await alice.upload("alice/app", layers[0])
    body = image_manifest(config, layers)
    resp = await alice.put_manifest("alice/app", "v1", body, OCI_MANIFEST)
    assert_error(resp, 400, "MANIFEST_BLOB_UNKNOWN")
    assert digest_of(layers[1]) in resp.text
    assert digest_of(layers[0]) not in resp.text


async def test_blobs_of_another_repository_do_not_count(registry: Berth, alice: Client) -> None:
    config, layers = await upload_image_blobs(alice, "alice/one")
    await alice.upload("alice/two", random_bytes(5))
    body = image_manifest(config, layers)
    resp = await alice.put_manifest("alice/two", "v1", body, OCI_MANIFEST)
    assert_error(resp, 400, "MANIFEST_BLOB_UNKNOWN")


async def test_index_with_missing_child(registry: Berth, alice: Client) -> None:
    known = await alice.push_image("alice/multi", None)
    config, layers = await upload_image_blobs(alice, "alice/multi")
    unknown = image_manifest(config, layers)  # never pushed
    body = index_manifest([(OCI_MANIFEST, known.manifest, {}), (OCI_MANIFEST, unknown, {})])
    resp = await alice.put_manifest("alice/multi", "v1", body, OCI_INDEX)
    assert_error(resp, 400, "MANIFEST_BLOB_UNKNOWN")
    assert digest_of(unknown) in resp.text


MALFORMED = {
    "truncated": b"{not json",
    "empty": b"",
    "array": b"[]",
    "string": b'"a string"',
    "no-config": b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json"}',
    "schema3": b'{"schemaVersion": 3, "mediaType": "application/vnd.oci.image.manifest.v1+json",'
    b' "config": {}, "layers": []}',
}


async def test_malformed_manifest_is_manifest_invalid(registry: Berth, alice: Client) -> None:
    await alice.upload("alice/app", random_bytes(10))
    for what, body in MALFORMED.items():
        resp = await alice.put_manifest("alice/app", "v1", body, OCI_MANIFEST)
        assert resp.status_code == 400, what
        assert_error(resp, 400, "MANIFEST_INVALID")


async def test_bad_descriptors_are_manifest_invalid(registry: Berth, alice: Client) -> None:
    config, layers = await upload_image_blobs(alice, "alice/app")
    doc = json.loads(image_manifest(config, layers))
    bad_digest = json.loads(json.dumps(doc))
    bad_digest["layers"][0]["digest"] = "sha256:nothex"
    wrong_size = json.loads(json.dumps(doc))
    wrong_size["layers"][0]["size"] += 1
    negative = json.loads(json.dumps(doc))
    negative["config"]["size"] = -1
    for i, bad in enumerate((bad_digest, wrong_size, negative)):
        resp = await alice.put_manifest("alice/app", f"bad{i}", canonical(bad), OCI_MANIFEST)
        assert_error(resp, 400, "MANIFEST_INVALID")


async def test_media_type_disagreeing_with_content_type(registry: Berth, alice: Client) -> None:
    config, layers = await upload_image_blobs(alice, "alice/app")
    body = image_manifest(config, layers)  # says OCI image manifest
    resp = await alice.put_manifest("alice/app", "v1", body, DOCKER_MANIFEST)
    assert_error(resp, 400, "MANIFEST_INVALID")


async def test_unsupported_manifest_media_type(registry: Berth, alice: Client) -> None:
    config, layers = await upload_image_blobs(alice, "alice/app")
    kind = "application/vnd.example.unknown.manifest+json"
    body = image_manifest(config, layers, media_type=kind)
    resp = await alice.put_manifest("alice/app", "v1", body, kind)
    assert_error(resp, 415, "UNSUPPORTED")


async def test_docker_schema1_is_unsupported(registry: Berth, alice: Client) -> None:
    await alice.upload("alice/app", random_bytes(10))
    body = canonical(
        {
            "schemaVersion": 1,
            "name": "alice/app",
            "tag": "v1",
            "architecture": "amd64",
            "fsLayers": [],
            "history": [],
        }
    )
    kind = "application/vnd.docker.distribution.manifest.v1+prettyjws"
    assert_error(await alice.put_manifest("alice/app", "v1", body, kind), 415, "UNSUPPORTED")


async def test_manifest_larger_than_4_mib_is_refused(registry: Berth, alice: Client) -> None:
    config, layers = await upload_image_blobs(alice, "alice/app")
    body = image_manifest(config, layers, annotations={"pad": "x" * (4 * 1024 * 1024)})
    resp = await alice.put_manifest("alice/app", "huge", body, OCI_MANIFEST)
    assert resp.status_code == 413, resp.text
    assert_error(resp, 413, resp.json()["errors"][0]["code"])
    assert_error(await alice.get("/v2/alice/app/manifests/huge"), 404, "MANIFEST_UNKNOWN")


async def test_digest_reference_not_matching_body(registry: Berth, alice: Client) -> None:
    config, layers = await upload_image_blobs(alice, "alice/app")
    body = image_manifest(config, layers)
    wrong = digest_of(body + b" ")
    resp = await alice.put_manifest("alice/app", wrong, body, OCI_MANIFEST)
    assert_error(resp, 400, "DIGEST_INVALID")
    assert_error(await alice.get(f"/v2/alice/app/manifests/{wrong}"), 404, "MANIFEST_UNKNOWN")


async def test_conformance_totally_wrong_digest(registry: Berth, alice: Client) -> None:
    """The official suite's error-code check: any spec error code, as JSON."""
    await alice.upload("alice/app", random_bytes(10))
    body = b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json"}'
    resp = await alice.put_manifest("alice/app", "sha256:totallywrong", body, OCI_MANIFEST)
    assert resp.status_code == 400
    code = resp.json()["errors"][0]["code"]
    assert code in {"MANIFEST_INVALID", "DIGEST_INVALID"}
    assert_error(resp, 400, code)


# ----------------------------------------------------------------------- names and tags


INVALID_NAMES = [
    "alice/App",
    "alice/app-",
    "alice/-app",
    "alice/a..b",
    "alice/app/",
    "alice//app",
    "a/app",  # namespace shorter than 2 characters
    "alice/" + "a" * 250,  # longer than 255 in total
]


async def test_invalid_repository_names(registry: Berth, alice: Client) -> None:
    for name in INVALID_NAMES:
        resp = await alice.get(f"/v2/{name}/manifests/latest")
        assert resp.status_code == 400, name
        assert_error(resp, 400, "NAME_INVALID")
        resp = await alice.post(f"/v2/{name}/blobs/uploads/")
        assert_error(resp, 400, "NAME_INVALID")


async def test_invalid_tags(registry: Berth, alice: Client) -> None:
    config, layers = await upload_image_blobs(alice, "alice/app")
    body = image_manifest(config, layers)
    for tag in (".hidden", "-dash", "a" * 129, "tag+plus", "ta%20g"):
        resp = await alice.put_manifest("alice/app", tag, body, OCI_MANIFEST)
        assert resp.status_code == 400, tag
        assert_error(resp, 400, "TAG_INVALID")


async def test_pull_by_a_reference_that_is_neither_tag_nor_digest_is_unknown(
    registry: Berth, alice: Client
) -> None:
    """Nothing can be pushed under such a name, so asking for it is a 404 (the OCI
    conformance suite's "nonexistent manifest" checks use ``.INVALID_MANIFEST_NAME``)."""
    config, layers = await upload_image_blobs(alice, "alice/app")
    await alice.put_manifest("alice/app", "v1", image_manifest(config, layers), OCI_MANIFEST)
    for ref in (".INVALID_MANIFEST_NAME", "-dash", "a" * 129):
        resp = await alice.get(f"/v2/alice/app/manifests/{ref}")
        assert_error(resp, 404, "MANIFEST_UNKNOWN")
        resp = await alice.head(f"/v2/alice/app/manifests/{ref}")
        assert resp.status_code == 404, ref
    resp = await alice.get("/v2/alice/nothing-here/manifests/.bad")
    assert_error(resp, 404, "NAME_UNKNOWN")


async def test_longest_and_odd_valid_tags(registry: Berth, alice: Client) -> None:
    config, layers = await upload_image_blobs(alice, "alice/app")
    body = image_manifest(config, layers)
    for tag in ("a" * 128, "_under", "v1.2.3-rc.1_b", "UPPER", "0"):
        resp = await alice.put_manifest("alice/app", tag, body, OCI_MANIFEST)
        assert resp.status_code == 201, f"{tag}: {resp.text}"
        await assert_manifest(alice, "alice/app", tag, body, OCI_MANIFEST)


async def test_a_tag_named_tags_and_the_cached_tag_list_do_not_mix(
    registry: Berth, alice: Client
) -> None:
    # The read cache keeps manifests by reference and the tag list of the repository side by
    # side: a tag literally named "tags" must not share the tag list's entry.
    pushed = await alice.push_image("alice/app", "tags")
    for _ in range(2):  # the first answers fill the cache, the second ones come from it
        tags = (await alice.get("/v2/alice/app/tags/list")).json()
        assert tags == {"name": "alice/app", "tags": ["tags"]}
        await assert_manifest(alice, "alice/app", "tags", pushed.manifest, OCI_MANIFEST)


async def test_nested_repository_names(registry: Berth, alice: Client) -> None:
    for repo in ("alice/team/app", "alice/a/b/c/d", "alice/my_app.v2/x-y"):
        pushed = await alice.push_image(repo, "v1")
        await assert_manifest(alice, repo, "v1", pushed.manifest, OCI_MANIFEST)
        tags = (await alice.get(f"/v2/{repo}/tags/list")).json()
        assert tags == {"name": repo, "tags": ["v1"]}


async def test_single_component_name_maps_to_library(registry: Berth, root: Client) -> None:
    pushed = await root.push_image("busybox", "latest")
    for name in ("busybox", "library/busybox"):
        await assert_manifest(root, name, "latest", pushed.manifest, OCI_MANIFEST)
        blob = await root.get(f"/v2/{name}/blobs/{digest_of(pushed.layers[0])}")
        assert blob.content == pushed.layers[0]
    tags = (await root.get("/v2/busybox/tags/list")).json()
    assert tags == {"name": "library/busybox", "tags": ["latest"]}


async def test_library_is_not_writable_by_users(registry: Berth, root: Client) -> None:
    await root.push_image("busybox", "latest")
    alice = registry.client("alice")
    assert_error(await alice.post("/v2/busybox/blobs/uploads/"), 401, "UNAUTHORIZED")


async def test_content_type_with_parameters_or_generic(registry: Berth, alice: Client) -> None:
    """``; charset=utf-8`` is ignored; a generic application/json defers to mediaType."""
    config, layers = await upload_image_blobs(alice, "alice/app")
    body = image_manifest(config, layers)
    resp = await alice.put_manifest("alice/app", "p", body, f"{OCI_MANIFEST}; charset=utf-8")
    assert resp.status_code == 201, resp.text
    await assert_manifest(alice, "alice/app", "p", body, OCI_MANIFEST)
    resp = await alice.put_manifest("alice/app", "j", body, "application/json")
    assert resp.status_code == 201, resp.text
    await assert_manifest(alice, "alice/app", "j", body, OCI_MANIFEST)
    resp = await alice.put_manifest("alice/app", "none", body, None)
    assert resp.status_code == 201, resp.text
    await assert_manifest(alice, "alice/app", "none", body, OCI_MANIFEST)


async def test_foreign_layers_need_not_be_uploaded(registry: Berth, alice: Client) -> None:
    layer = random_bytes(300)
    config = image_config([layer])
    await alice.upload("alice/win", config)
    body = canonical(
        {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": descriptor(DOCKER_CONFIG, config),
            "layers": [
                descriptor(
                    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
                    layer,
                    urls=["https://example.com/layer.tar.gz"],
                )
            ],
        }
    )
    resp = await alice.put_manifest("alice/win", "v1", body, DOCKER_MANIFEST)
    assert resp.status_code == 201, resp.text
    await assert_manifest(alice, "alice/win", "v1", body, DOCKER_MANIFEST)


async def test_artifact_without_layers(registry: Berth, alice: Client) -> None:
    """Image spec 1.1: layers SHOULD (not MUST) have an entry; a config-only artifact is valid."""
    await alice.upload("alice/art", random_bytes(5))
    body = canonical(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": "application/vnd.example.config-only",
            "config": {"mediaType": OCI_EMPTY, "digest": EMPTY_DIGEST, "size": 2},
            "layers": [],
        }
    )
    resp = await alice.put_manifest("alice/art", "v1", body, OCI_MANIFEST)
    assert resp.status_code == 201, resp.text
    await assert_manifest(alice, "alice/art", "v1", body, OCI_MANIFEST)


async def test_streamed_manifest_over_the_limit_is_refused(registry: Berth, alice: Client) -> None:
    """No Content-Length to trust: the limit holds while the body streams in."""
    config, layers = await upload_image_blobs(alice, "alice/app")
    body = image_manifest(config, layers, annotations={"pad": "y" * (4 * 1024 * 1024)})

    async def stream():  # type: ignore[no-untyped-def]
        for i in range(0, len(body), 65536):
            yield body[i : i + 65536]

    await alice.login("alice/app", "pull", "push")
    resp = await alice.put(
        "/v2/alice/app/manifests/huge", content=stream(), headers={"Content-Type": OCI_MANIFEST}
    )
    assert resp.status_code == 413, resp.text
    assert_error(resp, 413, resp.json()["errors"][0]["code"])


async def test_deleting_a_blob_a_manifest_uses(registry: Berth, alice: Client) -> None:
    """Allowed by the spec; the manifest stays, the blob is gone from the repository."""
    pushed = await alice.push_image("alice/app", "v1")
    layer = digest_of(pushed.layers[0])
    basic = registry.client("alice", basic=True)
    assert (await basic.delete(f"/v2/alice/app/blobs/{layer}")).status_code == 202
    assert (await alice.get("/v2/alice/app/manifests/v1")).status_code == 200
    assert_error(await alice.get(f"/v2/alice/app/blobs/{layer}"), 404, "BLOB_UNKNOWN")
