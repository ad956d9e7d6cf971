"""Quay config.yaml parsing: defaults, overrides, and every problem reported at once."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from berth.config import ConfigError, load_settings
from berth.durations import parse_duration


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_embedded_defaults(tmp_path: Path) -> None:
    s = load_settings(None, data_dir=tmp_path / "d", env={})
    assert s.db_url == f"sqlite+aiosqlite:///{tmp_path / 'd' / 'berth.db'}"
    assert s.storage.driver == "LocalStorage"
    assert s.storage.args["storage_path"] == str(tmp_path / "d" / "storage")
    assert s.server_hostname == "localhost:5000"
    assert s.max_manifest_bytes == 4 * 1024 * 1024
    # generated secrets persist: a restart signs with the same keys
    again = load_settings(None, data_dir=tmp_path / "d", env={})
    assert again.secret_key == s.secret_key
    assert again.database_secret_key == s.database_secret_key


def test_quay_keys_are_read(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        {
            "SERVER_HOSTNAME": "registry.example.com",
            "PREFERRED_URL_SCHEME": "https",
            "DB_URI": "postgresql://u:p@db:5432/quay",
            "SECRET_KEY": "a",
            "DATABASE_SECRET_KEY": "b",
            "SUPER_USERS": ["admin"],
            "FEATURE_PUBLIC_CATALOG": True,
            "DISTRIBUTED_STORAGE_CONFIG": {
                "default": [
                    "RadosGWStorage",
                    {
                        "hostname": "rgw.local",
                        "port": 8080,
                        "is_secure": False,
                        "access_key": "k",
                        "secret_key": "s",
                        "bucket_name": "quay",
                        "storage_path": "/datastorage/registry",
                    },
                ]
            },
            "DISTRIBUTED_STORAGE_PREFERENCE": ["default"],
        },
    )
    s = load_settings(path, env={})
    assert s.base_url == "https://registry.example.com"
    assert s.db_url == "postgresql+asyncpg://u:p@db:5432/quay"
    assert s.storage.driver == "RadosGWStorage"
    assert s.super_users == frozenset({"admin"})
    assert s.api.public_catalog is True
    assert s.api.user_initialize is False


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, {"SERVER_HOSTNAME": "from-file:5000"})
    s = load_settings(
        path,
        env={
            "BERTH_SERVER_HOSTNAME": "from-env:5000",
            "QUAY_OVERRIDE_CONFIG": '{"SUPER_USERS": ["ops"]}',
            "BERTH_FEATURE_ANONYMOUS_ACCESS": "false",
        },
    )
    assert s.server_hostname == "from-env:5000"
    assert s.super_users == frozenset({"ops"})
    assert s.auth.anonymous_access is False


def test_every_problem_is_reported_with_its_key(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        {
            "PREFERRED_URL_SCHEME": "gopher",
            "DB_URI": "mysql://x",
            "DEFAULT_TAG_EXPIRATION": "two weeks",
            "FEATURE_ANONYMOUS_ACCESS": "sometimes",
        },
    )
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    keys = " ".join(info.value.problems)
    for key in (
        "PREFERRED_URL_SCHEME",
        "DB_URI",
        "DEFAULT_TAG_EXPIRATION",
        "FEATURE_ANONYMOUS_ACCESS",
    ):
        assert key in keys
    assert len(info.value.problems) == 4


def test_storage_problems_name_the_location_and_key(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        {
            "DISTRIBUTED_STORAGE_CONFIG": {"s3": ["S3Storage", {"storage_path": "/r"}]},
            "DISTRIBUTED_STORAGE_PREFERENCE": ["s3", "missing"],
        },
    )
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    text = "\n".join(info.value.problems)
    assert "DISTRIBUTED_STORAGE_PREFERENCE: 'missing'" in text
    assert "DISTRIBUTED_STORAGE_CONFIG.s3" in text
    assert "s3_bucket" in text


def test_unknown_storage_driver_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path, {"DISTRIBUTED_STORAGE_CONFIG": {"x": ["FloppyStorage", {}]}})
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    assert "FloppyStorage" in info.value.problems[0]


def test_shared_database_needs_shared_secrets(tmp_path: Path) -> None:
    path = _write(tmp_path, {"DB_URI": "postgresql://db/quay"})
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    assert {p.split(":")[0] for p in info.value.problems} == {"SECRET_KEY", "DATABASE_SECRET_KEY"}


def test_not_yaml_mapping(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_settings(path, env={})


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("1h", 3600), ("2d", 172800), ("3w", 1814400), (45, 45)]
)
def test_durations(text: str | int, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["", "2 weeks", "1y", "-1d", "h"])
def test_bad_durations(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(bad)


def test_server_processes_default(tmp_path: Path) -> None:
    assert load_settings(None, data_dir=tmp_path, env={}).workers == 1  # embedded: one process
    shared = _write(
        tmp_path,
        {"DB_URI": "postgresql://db/quay", "SECRET_KEY": "a", "DATABASE_SECRET_KEY": "b"},
    )
    assert load_settings(shared, env={}).workers >= 1
    assert load_settings(shared, env={"BERTH_WORKERS": "3"}).workers == 3


@pytest.mark.parametrize(
    ("proxy", "explicit", "redirects"),
    [
        (None, None, True),  # Quay's default: S3 downloads are presigned redirects
        (True, None, False),  # FEATURE_PROXY_STORAGE: Berth serves the bytes
        (True, True, True),  # the storage entry's own argument wins
        (None, False, False),
    ],
)
def test_s3_downloads_redirect_unless_storage_is_proxied(
    tmp_path: Path, proxy: bool | None, explicit: bool | None, redirects: bool
) -> None:
    args: dict[str, object] = {"s3_bucket": "b", "endpoint_url": "http://s3.local:8333"}
    if explicit is not None:
        args["presigned_redirect"] = explicit
    data: dict[str, object] = {"DISTRIBUTED_STORAGE_CONFIG": {"s3": ["S3Storage", args]}}
    if proxy is not None:
        data["FEATURE_PROXY_STORAGE"] = proxy
    storage = load_settings(_write(tmp_path, data), env={}).storage
    assert storage.args["presigned_redirect"] is redirects
