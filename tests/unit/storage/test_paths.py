"""Blob layout and the validation that keeps caller input inside it."""

from __future__ import annotations

import pytest

from berth.storage.paths import (
    blob_path,
    check_upload_id,
    digest_from_blob_path,
    normalize_prefix,
    parse_digest,
    upload_data_path,
)

HEX = "ab" + "0" * 62


def test_blob_path_layout() -> None:
    assert blob_path(f"sha256:{HEX}") == f"blobs/sha256/ab/{HEX}"
    assert blob_path("sha512:" + "f" * 128) == "blobs/sha512/ff/" + "f" * 128


def test_blob_path_round_trip() -> None:
    assert digest_from_blob_path(blob_path(f"sha256:{HEX}")) == f"sha256:{HEX}"
    assert digest_from_blob_path(f"blobs/sha256/cd/{HEX}") is None  # wrong shard
    assert digest_from_blob_path("blobs/sha256/ab/.tmp-123") is None
    assert digest_from_blob_path(f"uploads/sha256/ab/{HEX}") is None


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "sha256",
        "sha256:",
        "md5:" + "0" * 32,
        "sha256:" + "0" * 63,
        "sha256:" + "A" * 64,
        "sha256:../../../../etc/passwd" + "0" * 36,
        "sha512:" + "0" * 64,
    ],
)
def test_malformed_digests_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError, match="digest"):
        parse_digest(bad)


def test_upload_ids() -> None:
    assert upload_data_path("3f2a-uuid_1.x") == "uploads/3f2a-uuid_1.x/data"
    for bad in ("", "..", ".hidden", "a/b", "a\\b", "x" * 129, "sp ace"):
        with pytest.raises(ValueError, match="upload id"):
            check_upload_id(bad)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("", ""), ("/", ""), ("/datastorage/registry", "datastorage/registry/"), ("a//b/", "a/b/")],
)
def test_normalize_prefix(raw: str, expected: str) -> None:
    assert normalize_prefix(raw) == expected


def test_prefix_cannot_climb() -> None:
    with pytest.raises(ValueError, match=r"\.\."):
        normalize_prefix("a/../b")
