"""The quota, pull statistics and rate-limit keys as ``load_settings`` reads them, and
Quay's limit strings in and out."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from berth.config import ConfigError, load_settings
from berth.quotas.errors import InvalidQuota
from berth.quotas.limits import format_bytes, parse_limit
from berth.quotas.settings import QuotaSettings
from berth.ratelimits.settings import RateLimit, RateLimitSettings


def _load(tmp_path: Path, data: dict[str, object]):  # type: ignore[no-untyped-def]
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_settings(path, data_dir=tmp_path, env={})


def test_defaults_are_quays_and_everything_is_off(tmp_path: Path) -> None:
    s = load_settings(None, data_dir=tmp_path, env={})
    assert s.quotas == QuotaSettings()
    assert not s.quotas.management
    assert not s.quotas.enforced
    assert s.quotas.cooldown_s == 86400
    assert s.quotas.backfill
    assert s.quotas.backfill_interval_s == 1800
    assert not s.registry.pull_stats
    assert s.rate_limits == RateLimitSettings()
    assert not s.rate_limits.enabled


def test_the_keys_are_read(tmp_path: Path) -> None:
    s = _load(
        tmp_path,
        {
            "FEATURE_QUOTA_MANAGEMENT": True,
            "FEATURE_VERIFY_QUOTA": False,
            "DEFAULT_SYSTEM_REJECT_QUOTA_BYTES": 1000,
            "QUOTA_NOTIFICATION_COOLDOWN_SECONDS": 60,
            "FEATURE_IMAGE_PULL_STATS": True,
            "BERTH_RATE_LIMITS": {
                "v2": {"caller": 10, "namespace": 100},
                "api": {"caller": 5, "window": 10},
            },
            "BERTH_REDIS": {"host": "redis.internal"},
        },
    )
    assert s.quotas.management
    assert not s.quotas.enforced
    assert s.quotas.default_reject_bytes == 1000
    assert s.quotas.cooldown_s == 60
    assert s.registry.pull_stats
    assert s.rate_limits.enabled
    assert s.rate_limits.limits == {"v2": RateLimit(10, 100, 60), "api": RateLimit(5, None, 10)}
    assert s.rate_limits.redis == {"host": "redis.internal"}
    assert _load(tmp_path, {"BERTH_RATE_LIMITS": {}}).rate_limits.enabled


@pytest.mark.parametrize(
    "value",
    [
        {"v3": {"caller": 1}},
        {"v2": {"caller": 0}},
        {"v2": {"caller": "many"}},
        {"api": {"window": -1}},
        {"api": {"callers": 3}},
        ["v2"],
    ],
)
def test_bad_rate_limits_are_reported_with_the_key(tmp_path: Path, value: object) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, {"BERTH_RATE_LIMITS": value})
    assert info.value.problems[0].startswith("BERTH_RATE_LIMITS")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10", 10),
        ("500MB", 500_000_000),
        ("10 GiB", 10 * 1024**3),
        ("2G", 2_000_000_000),
        ("3 Ki", 3072),
        ("1.5 MiB", 1_572_864),
        ("7 B", 7),
    ],
)
def test_limit_strings(text: str, expected: int) -> None:
    assert parse_limit(text) == expected


@pytest.mark.parametrize("text", ["", "lots", "-5 GiB", "0", "10 XB", "GiB"])
def test_bad_limit_strings(text: str) -> None:
    with pytest.raises(InvalidQuota):
        parse_limit(text)


def test_limits_render_like_quay() -> None:
    assert format_bytes(1_000_000) == "976.6 KiB"
    assert format_bytes(104857600) == "100.0 MiB"
    assert format_bytes(10 * 1024**3) == "10.0 GiB"
    assert format_bytes(500) == "500.0 Byte"
