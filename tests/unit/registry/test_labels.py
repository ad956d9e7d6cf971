"""What a pushed image's labels ask of its tag, how labels are read, and the tag API's small
rules (name filters, the expiration clamp)."""

from __future__ import annotations

import hashlib

import orjson
import pytest

from berth.oci import mediatypes as mt
from berth.oci.manifest import parse_manifest
from berth.registry.labels import (
    MAX_CONFIG_BYTES,
    PushLabelReader,
    PushLabels,
    expires_after_s,
    label_media_type,
)
from berth.registry.settings import HOUR_S, WEEK_S, TagSettings
from berth.registry.tags import NameFilter, TagService
from berth.storage.memory import InMemoryBlobStorage


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("30s", 30), ("20m", 1200), ("1h", 3600), ("2d", 172800), ("3w", 1814400), (" 2d ", 172800)],
)
def test_expires_after_durations(value: str, seconds: int) -> None:
    assert expires_after_s(value) == seconds


@pytest.mark.parametrize("value", ["soon", "5x", "", "-1d", "2 days", "1.5h", "h"])
def test_unreadable_expires_after_is_none(value: str) -> None:
    assert expires_after_s(value) is None


def test_push_labels_read_expiry_and_immutability() -> None:
    labels = PushLabels.of({"quay.expires-after": "1d", "quay.immutable": " True ", "": "x"})
    assert labels.expires_after_s == 86400
    assert labels.immutable is True
    assert "" not in labels.labels
    for value in ("false", "yes", "1", ""):
        assert PushLabels.of({"quay.immutable": value}).immutable is False


@pytest.mark.parametrize(
    ("value", "media_type"),
    [
        ('{"a": 1}', "application/json"),
        ("[1, 2]", "application/json"),
        ("{not json}", "text/plain"),
        ("plain", "text/plain"),
        ("42", "text/plain"),
    ],
)
def test_label_media_type(value: str, media_type: str) -> None:
    assert label_media_type(value) == media_type


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


async def _blob(storage: InMemoryBlobStorage, data: bytes) -> str:
    async def chunks():  # type: ignore[no-untyped-def]
        yield data

    digest = _digest(data)
    await storage.write_blob(digest, chunks())
    return digest


def _manifest(config: bytes, *, size: int | None = None, **extra: object) -> bytes:
    return orjson.dumps(
        {
            "schemaVersion": 2,
            "mediaType": mt.OCI_MANIFEST,
            "config": {
                "mediaType": mt.OCI_CONFIG,
                "digest": _digest(config),
                "size": size if size is not None else len(config),
            },
            "layers": [],
            **extra,
        }
    )


async def test_reader_merges_config_labels_and_annotations_and_caches() -> None:
    storage = InMemoryBlobStorage()
    config = orjson.dumps({"config": {"Labels": {"a": "config", "b": "config"}}})
    digest = await _blob(storage, config)
    reader = PushLabelReader(storage)
    parsed = parse_manifest(_manifest(config, annotations={"b": "annotation"}), mt.OCI_MANIFEST)
    assert (await reader.read(parsed)).labels == {"a": "config", "b": "annotation"}
    await storage.delete_blob(digest)  # a config seen before is not read again
    assert (await reader.read(parsed)).labels == {"a": "config", "b": "annotation"}


async def test_reader_skips_indexes_big_configs_and_missing_blobs() -> None:
    storage = InMemoryBlobStorage()
    reader = PushLabelReader(storage)
    config = orjson.dumps({"config": {"Labels": {"a": "1"}}})
    await _blob(storage, config)
    big = parse_manifest(_manifest(config, size=MAX_CONFIG_BYTES + 1), mt.OCI_MANIFEST)
    assert (await reader.read(big)).labels == {}
    missing = parse_manifest(_manifest(b'{"other": 1}'), mt.OCI_MANIFEST)
    assert (await reader.read(missing)).labels == {}
    index = orjson.dumps(
        {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": [], "annotations": {"x": "y"}}
    )
    assert (await reader.read(parse_manifest(index, mt.OCI_INDEX))).labels == {}


def test_name_filter_syntax() -> None:
    assert NameFilter.parse("like:v1") == NameFilter("like", "v1")
    assert NameFilter.parse("eq:a:b") == NameFilter("eq", "a:b")
    for raw in ("v1", "regex:v.*", ":v"):
        with pytest.raises(ValueError, match="Unsupported syntax for filter_tag_name"):
            NameFilter.parse(raw)


def test_expiration_is_clamped_to_start_plus_bounds() -> None:
    service = TagService(db=None, settings=TagSettings())  # type: ignore[arg-type]
    start_ms = 1_700_000_000_123
    start = start_ms // 1000
    assert service.clamped_end(start_ms, None) is None
    assert service.clamped_end(start_ms, start + 86400.9) == start_ms + 86400 * 1000
    assert service.clamped_end(start_ms, start + 5) == start_ms + HOUR_S * 1000
    assert service.clamped_end(start_ms, start + 10**12) == start_ms + 104 * WEEK_S * 1000
