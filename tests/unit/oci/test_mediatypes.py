from berth.oci import mediatypes as mt
from berth.oci.digest import digest_of


def test_empty_descriptor_matches_its_content():
    assert digest_of(mt.EMPTY_JSON) == mt.EMPTY_JSON_DIGEST
    assert len(mt.EMPTY_JSON) == mt.EMPTY_JSON_SIZE


def test_groups():
    assert set(mt.MANIFEST_TYPES) == {
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    }
    assert set(mt.INDEX_TYPES) | set(mt.IMAGE_TYPES) == set(mt.MANIFEST_TYPES)
    assert not set(mt.INDEX_TYPES) & set(mt.IMAGE_TYPES)
    assert not set(mt.SCHEMA1_TYPES) & set(mt.MANIFEST_TYPES)
    assert mt.DOCKER_FOREIGN_LAYER in mt.FOREIGN_LAYER_TYPES
    assert mt.OCI_LAYER_GZIP not in mt.FOREIGN_LAYER_TYPES
