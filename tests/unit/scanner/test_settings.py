"""The scanner's section of the config: Quay's keys, defaults, bad values reported."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from berth.config import ConfigError, load_settings


def _load(tmp_path: Path, **keys: object):  # type: ignore[no-untyped-def]
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(keys))
    return load_settings(path, data_dir=tmp_path / "data", env={}).scanner


def test_defaults_off(tmp_path: Path) -> None:
    s = _load(tmp_path)
    assert (s.enabled, s.notifications, s.notify_on_new_index) == (False, False, True)
    assert s.min_severity_on_new_index == "High"
    assert s.db_dir == (tmp_path / "data").resolve() / "vulndb"
    assert s.max_layer_size is None


def test_quay_keys(tmp_path: Path) -> None:
    s = _load(
        tmp_path,
        FEATURE_SECURITY_SCANNER=True,
        FEATURE_SECURITY_NOTIFICATIONS=True,
        SECURITY_SCANNER_V4_INDEX_MAX_LAYER_SIZE="1G",
        SECURITY_SCANNER_INDEXING_INTERVAL=5,
        NOTIFICATION_MIN_SEVERITY_ON_NEW_INDEX="Critical",
        BERTH_SCANNER_DB_DIR=str(tmp_path / "shared"),
    )
    assert (s.enabled, s.notifications) == (True, True)
    assert s.max_layer_size == 1024**3
    assert s.indexing_interval_s == 5
    assert s.min_severity_on_new_index == "Critical"
    assert s.db_dir == tmp_path / "shared"
    assert not _load(
        tmp_path, FEATURE_SECURITY_SCANNER=True, SECURITY_SCANNER_V4_INDEXING=False
    ).enabled


def test_bad_values_are_reported_with_their_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        _load(
            tmp_path,
            SECURITY_SCANNER_V4_INDEX_MAX_LAYER_SIZE="big",
            NOTIFICATION_MIN_SEVERITY_ON_NEW_INDEX="Severe",
        )
    text = "\n".join(e.value.problems)
    assert "SECURITY_SCANNER_V4_INDEX_MAX_LAYER_SIZE" in text
    assert "NOTIFICATION_MIN_SEVERITY_ON_NEW_INDEX" in text
