import pytest

from berth.oci import mediatypes as mt
from berth.oci.digest import digest_of
from berth.oci.manifest import (
    Descriptor,
    ManifestInvalid,
    ManifestUnsupported,
    ParsedManifest,
    parse_manifest,
)
from tests.unit.oci import bodies as b
from tests.unit.oci.bodies import dumps


def parse(doc: dict, content_type: str | None = None) -> ParsedManifest:
    return parse_manifest(dumps(doc), content_type)


# ------------------------------------------------------------------ accepted bodies


def test_oci_image_manifest():
    m = parse(b.oci_image(), mt.OCI_MANIFEST)
    assert m.media_type == mt.OCI_MANIFEST
    assert not m.is_index
    assert m.config == Descriptor(mt.OCI_CONFIG, b.CONFIG, 1469)
    assert [(d.media_type, d.digest, d.size) for d in m.layers] == [
        (mt.OCI_LAYER_GZIP, b.LAYER1, 3370706),
        (mt.OCI_LAYER_ZSTD, b.LAYER2, 1024),
    ]
    assert m.manifests == ()
    assert m.subject is None
    assert m.artifact_type is None
    assert m.annotations["org.opencontainers.image.base.name"] == "docker.io/library/alpine:3.19"
    assert [d.digest for d in m.blob_descriptors()] == [b.CONFIG, b.LAYER1, b.LAYER2]
    assert m.child_digests() == ()


def test_oci_index_with_platforms():
    m = parse(b.oci_index(), mt.OCI_INDEX)
    assert m.is_index
    assert m.media_type == mt.OCI_INDEX
    assert m.config is None
    assert m.layers == ()
    assert m.child_digests() == (b.AMD64, b.ARM64, b.ATTESTATION)
    assert m.manifests[0].platform == {"architecture": "amd64", "os": "linux"}
    assert m.manifests[1].platform["variant"] == "v8"
    assert m.manifests[2].annotations["vnd.docker.reference.type"] == "attestation-manifest"
    assert m.annotations == {"org.opencontainers.image.ref.name": "3.19"}
    assert m.blob_descriptors() == ()
    assert m.artifact_type is None


def test_docker_schema2_manifest():
    m = parse(b.docker_image(), mt.DOCKER_MANIFEST)
    assert m.media_type == mt.DOCKER_MANIFEST
    assert not m.is_index
    assert m.config.media_type == mt.DOCKER_CONFIG
    assert [d.digest for d in m.blob_descriptors()] == [b.CONFIG, b.LAYER1, b.LAYER2]
    assert m.artifact_type is None
    assert m.annotations == {}


def test_docker_manifest_list():
    m = parse(b.docker_list(), mt.DOCKER_MANIFEST_LIST)
    assert m.is_index
    assert m.child_digests() == (b.AMD64, b.ARM64)
    assert m.manifests[1].platform["os.version"] == "10.0.17763.5458"


def test_oci_artifact_with_artifact_type_and_empty_config():
    m = parse(b.oras_artifact(), mt.OCI_MANIFEST)
    assert m.artifact_type == "application/vnd.example.sbom.v1"
    assert m.config == Descriptor(mt.OCI_EMPTY, mt.EMPTY_JSON_DIGEST, 2)
    assert m.layers[0].annotations == {"org.opencontainers.image.title": "sbom.json"}
    assert [d.digest for d in m.blob_descriptors()] == [mt.EMPTY_JSON_DIGEST, b.SBOM]


def test_artifact_type_falls_back_to_the_config_media_type():
    helm = b.oci_image()
    helm["config"]["mediaType"] = "application/vnd.cncf.helm.config.v1+json"
    helm["layers"] = [
        {
            "mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
            "digest": b.LAYER1,
            "size": 3000,
        }
    ]
    assert parse(helm).artifact_type == "application/vnd.cncf.helm.config.v1+json"

    empty = b.oras_artifact()
    del empty["artifactType"]
    assert parse(empty).artifact_type == mt.OCI_EMPTY

    blank = b.oras_artifact()
    blank["artifactType"] = ""  # the image spec treats empty like missing
    assert parse(blank).artifact_type == mt.OCI_EMPTY


def test_index_artifact_type_comes_only_from_the_field():
    doc = b.oci_index()
    doc["artifactType"] = "application/vnd.example.bundle"
    assert parse(doc).artifact_type == "application/vnd.example.bundle"


def test_manifest_with_subject():
    m = parse(b.signature_with_subject(), mt.OCI_MANIFEST)
    assert m.subject == Descriptor(mt.OCI_MANIFEST, b.SUBJECT, 1234)
    assert m.artifact_type == "application/vnd.cncf.notary.signature"
    # the subject need not exist in the registry: it is not a blob of this manifest
    assert b.SUBJECT not in [d.digest for d in m.blob_descriptors()]


def test_index_with_subject():
    doc = b.oci_index()
    doc["subject"] = {"mediaType": mt.OCI_MANIFEST, "digest": b.SUBJECT, "size": 1}
    assert parse(doc).subject.digest == b.SUBJECT


def test_umoci_style_body_without_media_type_trusts_content_type():
    m = parse(b.umoci_image(), mt.OCI_MANIFEST)
    assert m.media_type == mt.OCI_MANIFEST
    assert len(m.layers) == 2


@pytest.mark.parametrize(
    "content_type",
    [
        f"{mt.OCI_MANIFEST}; charset=utf-8",
        f"  {mt.OCI_MANIFEST.upper()} ",
        f"{mt.OCI_MANIFEST};",
    ],
)
def test_content_type_parameters_and_case_are_ignored(content_type):
    assert parse(b.oci_image(), content_type).media_type == mt.OCI_MANIFEST
    assert parse(b.umoci_image(), content_type).media_type == mt.OCI_MANIFEST


def test_docker_body_media_type_wins_without_content_type():
    assert parse(b.docker_image(), None).media_type == mt.DOCKER_MANIFEST
    assert parse(b.docker_list(), "").media_type == mt.DOCKER_MANIFEST_LIST


def test_type_is_inferred_from_fields_when_nothing_declares_it():
    index = b.oci_index()
    del index["mediaType"]
    assert parse(index, None).media_type == mt.OCI_INDEX
    assert parse(b.umoci_image(), None).media_type == mt.OCI_MANIFEST


def test_docker_schema2_layers_may_be_missing_and_oci_layers_may_be_empty():
    doc = b.docker_image()
    del doc["layers"]
    assert parse(doc).layers == ()
    oci = b.oci_image()
    oci["layers"] = []
    assert parse(oci).layers == ()


def test_docker_schema2_ignores_oci_only_fields():
    doc = b.docker_image()
    doc["subject"] = "not even a descriptor"
    doc["artifactType"] = 5
    doc["annotations"] = ["ignored"]
    m = parse(doc)
    assert (m.subject, m.artifact_type, m.annotations) == (None, None, {})


def test_foreign_layers_are_not_blobs_to_hold():
    doc = b.docker_image()
    windows_base = digest_of(b"windows base layer")
    nondist = digest_of(b"nondistributable")
    with_urls = digest_of(b"layer served elsewhere")
    doc["layers"] = [
        {
            "mediaType": mt.DOCKER_FOREIGN_LAYER,
            "size": 1,
            "digest": windows_base,
            "urls": ["https://mcr.microsoft.com/v2/windows/blobs/x"],
        },
        {"mediaType": mt.OCI_LAYER_NONDISTRIBUTABLE_GZIP, "size": 1, "digest": nondist},
        {
            "mediaType": mt.OCI_LAYER_GZIP,
            "size": 1,
            "digest": with_urls,
            "urls": ["https://example.com/layer"],
        },
        {"mediaType": mt.DOCKER_LAYER, "size": 1, "digest": b.LAYER1},
    ]
    m = parse(doc)
    assert [d.is_foreign for d in m.layers] == [True, True, True, False]
    assert m.layers[0].urls == ("https://mcr.microsoft.com/v2/windows/blobs/x",)
    assert [d.digest for d in m.blob_descriptors()] == [b.CONFIG, b.LAYER1]


def test_blob_descriptors_and_child_digests_are_deduplicated_in_order():
    doc = b.oras_artifact()
    empty_layer = {"mediaType": mt.OCI_EMPTY, "digest": mt.EMPTY_JSON_DIGEST, "size": 2}
    doc["layers"] = [doc["layers"][0], empty_layer, doc["layers"][0]]
    assert [d.digest for d in parse(doc).blob_descriptors()] == [mt.EMPTY_JSON_DIGEST, b.SBOM]

    index = b.oci_index()
    index["manifests"].append(dict(index["manifests"][0]))
    assert parse(index).child_digests() == (b.AMD64, b.ARM64, b.ATTESTATION)


def test_sha512_descriptors_are_accepted():
    doc = b.oci_image()
    doc["layers"][0]["digest"] = digest_of(b"big", "sha512")
    assert parse(doc).layers[0].digest.startswith("sha512:")


def test_lenient_where_the_json_is_merely_unusual():
    body = (
        b'{"schemaVersion": 1, "schemaVersion": 2, "mediaType": "%s",'
        b' "x-huge": 123456789012345678901234567890, "x-float": 1.5,'
        b' "x-nested": [[{"a": [null, true]}]], "manifests": []}' % mt.OCI_INDEX.encode()
    )
    m = parse_manifest(body, mt.OCI_INDEX)
    assert m.is_index
    assert m.manifests == ()


def test_optional_fields_may_be_null():
    doc = b.oci_image()
    doc["subject"] = None
    doc["artifactType"] = None
    doc["annotations"] = None
    doc["manifests"] = None
    doc["layers"][0].update(urls=None, annotations=None, platform=None, artifactType=None)
    m = parse(doc)
    assert (m.subject, m.artifact_type, m.annotations) == (None, None, {})
    assert m.layers[0] == Descriptor(mt.OCI_LAYER_GZIP, b.LAYER1, 3370706)


def test_descriptor_extras_are_kept():
    doc = b.oci_index()
    doc["manifests"][0].update(
        artifactType="application/vnd.example", annotations={"k": "v"}, data="e30="
    )
    d = parse(doc).manifests[0]
    assert (d.artifact_type, d.annotations) == ("application/vnd.example", {"k": "v"})


# --------------------------------------------------------------------- refusals


def _invalid(doc_or_body, content_type=None, *, path: str) -> ManifestInvalid:
    body = doc_or_body if isinstance(doc_or_body, bytes) else dumps(doc_or_body)
    with pytest.raises(ManifestInvalid) as info:
        parse_manifest(body, content_type)
    exc = info.value
    assert not isinstance(exc, ManifestUnsupported), exc.message
    assert exc.detail["path"] == path
    if path:
        assert exc.message.startswith(f"{path}: "), exc.message
    assert str(exc) == exc.message
    return exc


@pytest.mark.parametrize("body", [b"", b"{", b"not json", b"\xef\xbb\xbf{}", b"[" * 3000])
def test_not_json(body):
    assert "not valid JSON" in _invalid(body, mt.OCI_MANIFEST, path="").message


@pytest.mark.parametrize("body", [b"[]", b'"manifest"', b"2", b"null", b"true"])
def test_root_must_be_an_object(body):
    assert "JSON object" in _invalid(body, mt.OCI_MANIFEST, path="").message


@pytest.mark.parametrize("version", [1, 3, "2", 2.0, True, None])
def test_schema_version_must_be_2(version):
    doc = b.oci_image()
    doc["schemaVersion"] = version
    _invalid(doc, path="schemaVersion")


def test_schema_version_is_required():
    doc = b.oci_image()
    del doc["schemaVersion"]
    assert "required" in _invalid(doc, path="schemaVersion").message


def test_media_type_must_be_a_string():
    doc = b.oci_image()
    doc["mediaType"] = ["application/vnd.oci.image.manifest.v1+json"]
    _invalid(doc, path="mediaType")


def test_media_type_must_match_content_type():
    exc = _invalid(b.oci_image(), mt.DOCKER_MANIFEST, path="mediaType")
    assert exc.detail["contentType"] == mt.DOCKER_MANIFEST
    assert exc.detail["mediaType"] == mt.OCI_MANIFEST


def test_ambiguous_body_without_any_media_type():
    doc = b.umoci_image()
    doc["manifests"] = []
    _invalid(doc, None, path="mediaType")
    _invalid({"schemaVersion": 2}, None, path="mediaType")


@pytest.mark.parametrize("content_type", mt.SCHEMA1_TYPES)
def test_schema1_is_unsupported(content_type):
    schema1 = {
        "schemaVersion": 1,
        "name": "library/hello-world",
        "tag": "latest",
        "architecture": "amd64",
        "fsLayers": [{"blobSum": b.LAYER1}],
        "history": [{"v1Compatibility": "{}"}],
    }
    for ct in (content_type, None):
        with pytest.raises(ManifestUnsupported) as info:
            parse(schema1, ct)
        assert "schema 1" in info.value.message


@pytest.mark.parametrize(
    ("doc", "content_type", "expected"),
    [
        (b.umoci_image(), "application/vnd.example.manifest+json", None),
        ({**b.oci_image(), "mediaType": mt.OCI_CONFIG}, None, mt.OCI_CONFIG),
        ({**b.oci_image(), "mediaType": ""}, None, ""),
    ],
)
def test_unknown_media_types_are_unsupported(doc, content_type, expected):
    with pytest.raises(ManifestUnsupported) as info:
        parse(doc, content_type)
    expected = expected if expected is not None else content_type
    assert info.value.detail["mediaType"] == expected
    assert mt.OCI_MANIFEST in info.value.detail["supported"]


def _mutated(base, mutate):
    doc = base()
    mutate(doc)
    return doc


def _set(*keys_and_value):
    *keys, value = keys_and_value

    def mutate(doc):
        target = doc
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return mutate


def _delete(*keys):
    def mutate(doc):
        target = doc
        for key in keys[:-1]:
            target = target[key]
        del target[keys[-1]]

    return mutate


OCI, INDEX, DOCKER = b.oci_image, b.oci_index, b.docker_image

ERROR_CASES = [
    # (body factory, mutation, expected JSON path)
    (OCI, _delete("config"), "config"),
    (OCI, _set("config", None), "config"),
    (DOCKER, _delete("config"), "config"),
    (OCI, _set("config", [1, 2]), "config"),
    (OCI, _delete("layers"), "layers"),
    (OCI, _set("layers", {"0": {}}), "layers"),
    (DOCKER, _set("layers", "none"), "layers"),
    (OCI, _set("layers", 1, "layer"), "layers[1]"),
    (OCI, _delete("layers", 0, "mediaType"), "layers[0].mediaType"),
    (OCI, _set("layers", 0, "mediaType", 7), "layers[0].mediaType"),
    (OCI, _set("layers", 0, "mediaType", "targz"), "layers[0].mediaType"),
    (OCI, _set("layers", 0, "mediaType", "a/b\x00"), "layers[0].mediaType"),
    (OCI, _delete("config", "digest"), "config.digest"),
    (OCI, _set("config", "digest", 42), "config.digest"),
    (OCI, _set("layers", 1, "digest", "sha256:" + "A" * 64), "layers[1].digest"),
    (OCI, _set("layers", 1, "digest", "sha256:abc"), "layers[1].digest"),
    (OCI, _set("layers", 1, "digest", "latest"), "layers[1].digest"),
    (OCI, _delete("layers", 0, "size"), "layers[0].size"),
    (OCI, _set("layers", 0, "size", "3370706"), "layers[0].size"),
    (OCI, _set("layers", 0, "size", 12.5), "layers[0].size"),
    (OCI, _set("layers", 0, "size", 12.0), "layers[0].size"),
    (OCI, _set("layers", 0, "size", -1), "layers[0].size"),
    (OCI, _set("layers", 0, "size", True), "layers[0].size"),
    (OCI, _set("layers", 0, "size", None), "layers[0].size"),
    (OCI, _set("layers", 0, "size", 2**63), "layers[0].size"),
    (OCI, _set("layers", 0, "size", 1e30), "layers[0].size"),
    (OCI, _set("layers", 0, "urls", "https://x"), "layers[0].urls"),
    (OCI, _set("layers", 0, "urls", ["https://x", 3]), "layers[0].urls[1]"),
    (OCI, _set("layers", 0, "urls", [""]), "layers[0].urls[0]"),
    (OCI, _set("layers", 0, "annotations", ["a=b"]), "layers[0].annotations"),
    (OCI, _set("layers", 0, "annotations", {"a": 1}), "layers[0].annotations['a']"),
    (OCI, _set("layers", 0, "artifactType", 1), "layers[0].artifactType"),
    (OCI, _set("layers", 0, "data", 1), "layers[0].data"),
    (OCI, _set("annotations", "a=b"), "annotations"),
    (OCI, _set("annotations", {"k": {"nested": "v"}}), "annotations['k']"),
    (OCI, _set("annotations", {"k": "nul\x00"}), "annotations['k']"),
    (OCI, _set("annotations", {"k\x00": "v"}), "annotations"),
    (OCI, _set("artifactType", 5), "artifactType"),
    (OCI, _set("artifactType", "sbom"), "artifactType"),
    (OCI, _set("subject", "sha256:" + "a" * 64), "subject"),
    (OCI, _set("subject", {"mediaType": mt.OCI_MANIFEST, "size": 1}), "subject.digest"),
    (OCI, _set("manifests", []), "manifests"),
    (INDEX, _delete("manifests"), "manifests"),
    (INDEX, _set("manifests", None), "manifests"),
    (INDEX, _set("manifests", {}), "manifests"),
    (INDEX, _set("manifests", 2, None), "manifests[2]"),
    (INDEX, _set("config", {}), "config"),
    (INDEX, _set("layers", []), "layers"),
    (INDEX, _set("manifests", 0, "platform", "linux/amd64"), "manifests[0].platform"),
    (INDEX, _delete("manifests", 0, "platform", "os"), "manifests[0].platform.os"),
    (
        INDEX,
        _set("manifests", 0, "platform", "architecture", 64),
        "manifests[0].platform.architecture",
    ),
    (
        INDEX,
        _set("manifests", 1, "platform", "os.features", "x"),
        "manifests[1].platform.os.features",
    ),
    (INDEX, _set("manifests", 1, "platform", "variant", 8), "manifests[1].platform.variant"),
    (INDEX, _set("manifests", 1, "digest", "sha256:short"), "manifests[1].digest"),
]


@pytest.mark.parametrize(
    ("factory", "mutate", "path"), ERROR_CASES, ids=[c[2] for c in ERROR_CASES]
)
def test_each_invalid_field_is_named_by_its_json_path(factory, mutate, path):
    _invalid(_mutated(factory, mutate), path=path)


def test_unsupported_digest_algorithm_in_a_descriptor_is_invalid_not_unsupported():
    digest = "md5:d41d8cd98f00b204e9800998ecf8427e"
    doc = b.oci_image()
    doc["layers"][1]["digest"] = digest
    exc = _invalid(doc, path="layers[1].digest")
    assert exc.detail["digest"] == digest
    assert "md5" in exc.message


def test_invalid_digest_detail_carries_the_value():
    doc = b.oci_image()
    doc["config"]["digest"] = "sha256:xyz"
    assert _invalid(doc, path="config.digest").detail["digest"] == "sha256:xyz"


def test_long_bad_values_are_shortened_in_messages():
    doc = b.oci_image()
    doc["layers"][0]["mediaType"] = "x" * 100_000
    assert len(_invalid(doc, path="layers[0].mediaType").message) < 300


@pytest.mark.parametrize("content_type", ["application/json", "application/octet-stream; x=1"])
def test_generic_content_type_says_nothing_about_the_kind(content_type):
    # Some clients send any JSON as application/json: the body decides, or its fields do.
    assert parse_manifest(dumps(b.umoci_image()), content_type).media_type == mt.OCI_MANIFEST
    doc = {**b.oci_image(), "mediaType": mt.OCI_MANIFEST}
    assert parse_manifest(dumps(doc), content_type).media_type == mt.OCI_MANIFEST
