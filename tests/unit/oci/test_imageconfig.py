import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from berth.oci.imageconfig import HistoryEntry, ImageConfig, parse_image_config

DOCKER_CONFIG = {
    "architecture": "amd64",
    "os": "linux",
    "created": "2024-01-27T00:30:48.743965523Z",
    "config": {
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        "Cmd": ["/bin/sh"],
        "Labels": {
            "org.opencontainers.image.source": "https://github.com/example/app",
            "maintainer": "ops@example.com",
        },
    },
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "a" * 64]},
    "history": [{"created": "2024-01-27T00:30:48Z", "created_by": "ADD file:..."}],
}


def test_reads_labels_platform_and_created():
    cfg = parse_image_config(orjson.dumps(DOCKER_CONFIG))
    assert cfg == ImageConfig(
        labels={
            "org.opencontainers.image.source": "https://github.com/example/app",
            "maintainer": "ops@example.com",
        },
        os="linux",
        architecture="amd64",
        created="2024-01-27T00:30:48.743965523Z",
        history=(HistoryEntry(created="2024-01-27T00:30:48Z", created_by="ADD file:..."),),
    )


def test_layer_history_skips_empty_layers_and_odd_entries():
    doc = {
        "history": [
            {"created_by": "ADD a /", "author": "me", "comment": "first"},
            {"created_by": "ENV X=1", "empty_layer": True},
            "not an entry",
            {"created_by": 5, "empty_layer": "yes"},
        ]
    }
    cfg = parse_image_config(orjson.dumps(doc))
    assert cfg.layer_history() == (
        HistoryEntry(created_by="ADD a /", author="me", comment="first"),
        HistoryEntry(),
    )


def test_config_without_labels():
    cfg = parse_image_config(b'{"architecture":"arm64","os":"linux","config":{"Labels":null}}')
    assert cfg.labels == {}
    assert cfg.architecture == "arm64"
    assert cfg.created is None


def test_odd_values_are_dropped_not_fatal():
    doc = {
        "os": 1,
        "architecture": ["amd64"],
        "created": None,
        "config": {"Labels": {"ok": "yes", "n": 1, "nested": {"a": "b"}, "nul": "a\x00b"}},
    }
    cfg = parse_image_config(orjson.dumps(doc))
    assert cfg == ImageConfig(labels={"ok": "yes"})


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"[]", b"null", b'{"config": "x"}', b'{"config": {"Labels": []}}', b"{}"],
)
def test_never_raises_on_junk(body):
    assert parse_image_config(body) == ImageConfig()


def test_empty_artifact_config():
    assert parse_image_config(b"{}") == ImageConfig()


@settings(max_examples=50)
@given(st.binary(max_size=200))
def test_random_bytes_never_raise(body):
    assert isinstance(parse_image_config(body), ImageConfig)
