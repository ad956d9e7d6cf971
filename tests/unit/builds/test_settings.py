"""The builds' config section: Quay's BUILD_MANAGER shape, Berth's BERTH_BUILD_* keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from berth.config import ConfigError, load_settings
from tests.conftest import embedded_config, write_config


def settings(tmp_path: Path, **keys: Any) -> Any:
    return load_settings(write_config(tmp_path, embedded_config(tmp_path, **keys)), env={})


def test_defaults(tmp_path: Path) -> None:
    b = settings(tmp_path).builds
    assert b.enabled is True  # Quay's default
    assert b.executor.kind == "local"
    assert b.executor.network == "none"
    assert b.executor.isolation == "oci"
    assert (b.max_running, b.max_running_per_namespace) == (2, 1)
    assert b.registry == "localhost:5000"
    assert b.registry_tls_verify is False  # PREFERRED_URL_SCHEME http
    assert b.work_dir == tmp_path / "data" / "builds"


def test_build_manager_executor_keys(tmp_path: Path) -> None:
    manager = [
        "ephemeral",
        {
            "ALLOWED_WORKER_COUNT": 1,
            "EXECUTORS": [
                {
                    "EXECUTOR": "kubernetes",
                    "BUILDER_NAMESPACE": "builds",
                    "CONTAINER_MEMORY_LIMITS": "3G",
                    "CONTAINER_CPU_LIMITS": "500m",
                    "MAXIMUM_BUILD_TIME": "30m",
                    "MAX_BUILD_DISK": "5G",
                }
            ],
        },
    ]
    ex = settings(tmp_path, BUILD_MANAGER=manager, FEATURE_BUILD_SUPPORT=True).builds.executor
    assert ex.kind == "kubernetes"
    assert ex.memory_bytes == 3 * 1024**3
    assert ex.cpu_millis == 500
    assert ex.timeout_s == 1800
    assert ex.max_disk_bytes == 5 * 1024**3
    assert ex.options == {"BUILDER_NAMESPACE": "builds"}


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        ({"BUILD_MANAGER": ["x", {"EXECUTORS": [{"EXECUTOR": "docker"}]}]}, "EXECUTOR 'docker'"),
        ({"BUILD_MANAGER": "local"}, "BUILD_MANAGER: Input should be a valid list"),
        ({"BUILD_MANAGER": ["local"]}, "BUILD_MANAGER: [name"),
        (
            {"BUILD_MANAGER": ["x", {"EXECUTORS": [{"ISOLATION": "chroot"}]}]},
            "ISOLATION chroot needs BUILDER_NETWORK host",
        ),
        (
            {"BUILD_MANAGER": ["x", {"EXECUTORS": [{"CONTAINER_MEMORY_LIMITS": "lots"}]}]},
            "a size like 2G",
        ),
        ({"BERTH_BUILD_CONCURRENCY": {"total": 0}}, "integers >= 1"),
        ({"BERTH_BUILD_CONCURRENCY": {"overall": 3}}, "unknown keys overall"),
    ],
)
def test_bad_values_are_config_errors(tmp_path: Path, keys: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError) as e:
        settings(tmp_path, **keys)
    assert any(problem in p for p in e.value.problems), e.value.problems


def test_the_push_token_lives_at_most_an_hour(tmp_path: Path) -> None:
    assert settings(tmp_path, BERTH_BUILD_TOKEN_TTL=99999).builds.token_ttl_s == 3600
