"""Driver registry: names, Quay-style arguments, and configuration errors."""

from __future__ import annotations

import pytest

from berth.storage.base import BlobStorage, StorageConfigError, UnknownStorageDriver
from berth.storage.factory import DRIVERS, create_storage, validate_storage_args
from berth.storage.filesystem import FilesystemBlobStorage
from berth.storage.memory import InMemoryBlobStorage
from berth.storage.s3 import S3BlobStorage


def test_local_storage(tmp_path) -> None:
    storage = create_storage("LocalStorage", {"storage_path": str(tmp_path / "blobs")})
    assert isinstance(storage, FilesystemBlobStorage)
    assert storage.root == str(tmp_path / "blobs")
    assert storage.driver_name == "filesystem"


def test_in_memory_storage() -> None:
    assert isinstance(create_storage("InMemoryStorage", {}), InMemoryBlobStorage)
    assert isinstance(create_storage("InMemoryStorage", None), InMemoryBlobStorage)


def test_s3_storage_with_quay_args() -> None:
    storage = create_storage(
        "S3Storage",
        {
            "s3_bucket": "quay-bucket",
            "storage_path": "/datastorage/registry",
            "s3_access_key": "AK",
            "s3_secret_key": "SK",
            "host": "s3.internal.example",
            "port": 9000,
            "s3_region": "eu-west-1",
            "maximum_chunk_size_mb": 100,  # a Quay option Berth ignores
        },
    )
    assert isinstance(storage, S3BlobStorage)
    assert storage.bucket == "quay-bucket"
    assert storage.prefix == "datastorage/registry/"
    assert storage.endpoint_url == "https://s3.internal.example:9000"
    assert storage.region == "eu-west-1"
    assert storage.presign is False


def test_s3_storage_berth_extras() -> None:
    storage = create_storage(
        "S3Storage",
        {
            "s3_bucket": "b-1",
            "host": "localhost",
            "port": "8333",
            "is_secure": False,
            "presigned_redirect": True,
        },
    )
    assert isinstance(storage, S3BlobStorage)
    assert storage.endpoint_url == "http://localhost:8333"
    assert storage.presign is True
    assert storage.prefix == ""
    explicit = create_storage(
        "S3Storage", {"s3_bucket": "b-1", "host": "ignored", "endpoint_url": "http://x:1"}
    )
    assert isinstance(explicit, S3BlobStorage)
    assert explicit.endpoint_url == "http://x:1"


def test_s3_without_host_talks_to_aws() -> None:
    storage = create_storage("S3Storage", {"s3_bucket": "b-1"})
    assert isinstance(storage, S3BlobStorage)
    assert storage.endpoint_url is None
    assert storage.region == "us-east-1"


def test_radosgw_storage() -> None:
    storage = create_storage(
        "RadosGWStorage",
        {
            "hostname": "rgw.example",
            "port": 7480,
            "is_secure": False,
            "access_key": "AK",
            "secret_key": "SK",
            "bucket_name": "registry",
            "storage_path": "/registry",
        },
    )
    assert isinstance(storage, S3BlobStorage)
    assert storage.endpoint_url == "http://rgw.example:7480"
    assert storage.bucket == "registry"
    assert storage.prefix == "registry/"


def test_unknown_driver_lists_known_names() -> None:
    with pytest.raises(UnknownStorageDriver) as info:
        create_storage("GoogleCloudStorage", {})
    assert info.value.driver == "GoogleCloudStorage"
    assert set(info.value.known) == {
        "LocalStorage",
        "S3Storage",
        "RadosGWStorage",
        "InMemoryStorage",
    }
    for name in info.value.known:
        assert name in str(info.value)
    [problem] = validate_storage_args("GoogleCloudStorage", {})
    assert "GoogleCloudStorage" in problem
    assert "LocalStorage" in problem


def test_missing_required_arg_names_the_key() -> None:
    with pytest.raises(StorageConfigError) as info:
        create_storage("LocalStorage", {})
    assert info.value.key == "storage_path"
    assert "storage_path" in str(info.value)
    with pytest.raises(StorageConfigError) as info:
        create_storage("S3Storage", {"storage_path": "/x"})
    assert info.value.key == "s3_bucket"


def test_validate_reports_every_problem_at_once() -> None:
    problems = validate_storage_args(
        "RadosGWStorage", {"hostname": "", "port": "http", "is_secure": "yes"}
    )
    joined = "\n".join(problems)
    for key in ("hostname", "port", "is_secure", "access_key", "secret_key", "bucket_name"):
        assert f"'{key}'" in joined
    assert len(problems) == 6


def test_validate_accepts_good_args(tmp_path) -> None:
    assert validate_storage_args("LocalStorage", {"storage_path": str(tmp_path)}) == []
    assert validate_storage_args("InMemoryStorage", {}) == []
    assert validate_storage_args("S3Storage", {"s3_bucket": "b", "port": 443}) == []


@pytest.mark.parametrize(
    ("args", "key"),
    [
        ({"s3_bucket": "b", "s3_access_key": "AK"}, "s3_secret_key"),
        ({"s3_bucket": "b", "s3_secret_key": "SK"}, "s3_access_key"),
        ({"s3_bucket": "b", "port": 0}, "port"),
        ({"s3_bucket": "b", "port": True}, "port"),
        ({"s3_bucket": "b", "presigned_redirect": "true"}, "presigned_redirect"),
        ({"s3_bucket": 42}, "s3_bucket"),
        ({"s3_bucket": "b", "storage_path": "/a/../b"}, "storage_path"),
    ],
)
def test_bad_s3_args(args: dict, key: str) -> None:
    with pytest.raises(StorageConfigError) as info:
        create_storage("S3Storage", args)
    assert info.value.key == key
    assert key in str(info.value)


def test_args_must_be_a_mapping() -> None:
    [problem] = validate_storage_args("LocalStorage", ["storage_path"])
    assert "mapping" in problem


def test_every_registered_driver_satisfies_the_contract(tmp_path) -> None:
    minimal = {
        "LocalStorage": {"storage_path": str(tmp_path)},
        "S3Storage": {"s3_bucket": "b-1"},
        "RadosGWStorage": {
            "hostname": "h",
            "access_key": "a",
            "secret_key": "s",
            "bucket_name": "b-1",
        },
        "InMemoryStorage": {},
    }
    assert set(minimal) == set(DRIVERS)
    for name, args in minimal.items():
        assert isinstance(create_storage(name, args), BlobStorage)
