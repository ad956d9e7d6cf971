"""GITHUB/GITLAB/BITBUCKET_TRIGGER_CONFIG and the FEATURE_*_BUILD flags."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from berth.config import ConfigError, Settings, load_settings
from tests.conftest import write_config


def settings(tmp_path: Path, **keys: Any) -> Settings:
    return load_settings(write_config(tmp_path, {"SERVER_HOSTNAME": "localhost", **keys}), env={})


def test_custom_git_only_by_default(tmp_path: Path) -> None:
    triggers = settings(tmp_path).build_triggers
    assert triggers.enabled
    assert triggers.services == ("custom-git",)
    assert settings(tmp_path, FEATURE_BUILD_SUPPORT=False).build_triggers.services == ()


def test_scm_apps_from_their_config_blocks(tmp_path: Path) -> None:
    triggers = settings(
        tmp_path,
        FEATURE_GITHUB_BUILD=True,
        GITHUB_TRIGGER_CONFIG={
            "CLIENT_ID": "gh-id",
            "CLIENT_SECRET": "gh-secret",
            "GITHUB_ENDPOINT": "https://ghe.example.com",
            "API_ENDPOINT": "https://ghe.example.com/api/v3/",
        },
        FEATURE_GITLAB_BUILD=True,
        GITLAB_TRIGGER_CONFIG={"CLIENT_ID": "gl-id", "CLIENT_SECRET": "gl-secret"},
        FEATURE_BITBUCKET_BUILD=True,
        BITBUCKET_TRIGGER_CONFIG={"CONSUMER_KEY": "bb-key", "CONSUMER_SECRET": "bb-secret"},
    ).build_triggers
    assert triggers.services == ("custom-git", "github", "gitlab", "bitbucket")
    assert triggers.github is not None
    assert triggers.github.endpoint == "https://ghe.example.com/"
    assert triggers.github.token_url == "https://ghe.example.com/login/oauth/access_token"
    assert triggers.gitlab is not None
    assert triggers.gitlab.api_endpoint == "https://gitlab.com/api/v4/"
    assert triggers.bitbucket is not None
    assert triggers.bitbucket.client_id == "bb-key"


def test_a_feature_without_its_config_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        settings(
            tmp_path,
            FEATURE_GITHUB_BUILD=True,
            FEATURE_GITLAB_BUILD=True,
            GITLAB_TRIGGER_CONFIG={"CLIENT_ID": "x", "GITLAB_ENDPOINT": "gitlab.example"},
        )
    text = str(e.value.problems)
    assert "GITHUB_TRIGGER_CONFIG: required" in text
    assert "GITLAB_TRIGGER_CONFIG.CLIENT_SECRET: required" in text
    assert "GITLAB_TRIGGER_CONFIG.GITLAB_ENDPOINT: an http(s) URL" in text
