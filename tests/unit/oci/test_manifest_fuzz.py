"""parse_manifest must refuse bad input with ManifestInvalid, never with anything else."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from berth.oci import mediatypes as mt
from berth.oci.digest import parse_digest
from berth.oci.manifest import ManifestInvalid, ParsedManifest, parse_manifest
from tests.unit.oci import bodies as b

FIELDS = [
    "schemaVersion",
    "mediaType",
    "config",
    "layers",
    "manifests",
    "subject",
    "artifactType",
    "annotations",
    "digest",
    "size",
    "urls",
    "platform",
    "os",
    "architecture",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63 - 2, max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from([*mt.MANIFEST_TYPES, mt.EMPTY_JSON_DIGEST, "sha256:abc", "md5:00", "a/b"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(FIELDS), st.text(max_size=8)), inner, max_size=5),
    ),
    max_leaves=20,
)
content_types = st.one_of(
    st.none(),
    st.sampled_from([*mt.MANIFEST_TYPES, *mt.SCHEMA1_TYPES, "", "application/json; x=y"]),
    st.text(max_size=30),
)
realistic = st.sampled_from(
    [
        b.oci_image,
        b.oci_index,
        b.docker_image,
        b.docker_list,
        b.oras_artifact,
        b.signature_with_subject,
        b.umoci_image,
    ]
)


def _check(body: bytes, content_type: str | None) -> ParsedManifest | None:
    try:
        m = parse_manifest(body, content_type)
    except ManifestInvalid as exc:
        problem = exc
    else:
        problem = None
    if problem is not None:
        assert isinstance(problem.message, str)
        assert isinstance(problem.detail, dict)
        return None
    assert m.media_type in mt.MANIFEST_TYPES
    for d in (m.config, m.subject, *m.layers, *m.manifests):
        if d is not None:
            parse_digest(d.digest)
            assert type(d.size) is int
            assert d.size >= 0
    return m


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _paths(item, (*prefix, i))


@settings(max_examples=60)
@given(st.binary(max_size=200), content_types)
def test_random_bytes(body, content_type):
    _check(body, content_type)


@settings(max_examples=60)
@given(json_values, content_types)
def test_random_json(doc, content_type):
    _check(json.dumps(doc).encode(), content_type)


@settings(max_examples=100)
@given(realistic, st.data(), json_values, st.booleans(), content_types)
def test_mutated_realistic_manifests(factory, data, replacement, delete, content_type):
    doc = factory()
    path = data.draw(st.sampled_from(list(_paths(doc))[1:]))
    target = doc
    for key in path[:-1]:
        target = target[key]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = replacement
    _check(json.dumps(doc).encode(), content_type)


@settings(max_examples=50)
@given(realistic, st.integers(min_value=0), st.binary(min_size=1, max_size=3))
def test_corrupted_bytes_of_realistic_manifests(factory, position, junk):
    body = b.dumps(factory())
    position %= len(body)
    _check(body[:position] + junk + body[position + 1 :], None)


@given(realistic)
def test_realistic_manifests_parse(factory):
    assert _check(b.dumps(factory()), None) is not None
