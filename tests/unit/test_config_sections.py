"""The typed sections ``load_settings`` builds: Quay's defaults, durations in seconds, bad
values reported with their key, and the keys of a file Berth does not know."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from berth.auth.settings import AuthSettings
from berth.cli.main import main
from berth.config import ApiSettings, ConfigError, QuayConfig, SessionSettings, load_settings
from berth.policies.rules import PruneRule
from berth.policies.settings import PolicySettings
from berth.quaykeys import QUAY_KEYS
from berth.registry.settings import RegistrySettings, TagSettings


def _write(tmp_path: Path, data: dict[str, object]) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_every_section_defaults_to_quays_values(tmp_path: Path) -> None:
    s = load_settings(None, data_dir=tmp_path, env={})
    # the dataclass defaults are Quay's, and an empty config gives exactly those
    assert s.api == ApiSettings()
    assert s.session == SessionSettings()
    assert s.auth == AuthSettings()
    assert s.registry == RegistrySettings()
    assert s.policies == PolicySettings()
    # spelled out where the reference (quay-api.md section 7) names them
    assert s.api.super_users_enabled
    assert s.api.user_creation
    assert s.api.direct_login
    assert not s.api.user_initialize
    assert not s.api.superusers_full_access
    assert s.api.mailing
    assert s.api.browser_api_calls_xhr_only
    assert not s.api.public_catalog
    assert s.session.cookie_name == "_csrf_token"
    assert s.session.timeout_s == 31 * 86400  # 31d
    assert s.session.fresh_login_timeout_s == 600  # 10m
    assert s.auth.anonymous_access
    assert s.auth.app_specific_tokens
    assert s.auth.app_specific_token_expiration_s is None  # never
    assert s.registry.library_namespace == "library"
    assert s.registry.default_tag_expiration_s == 14 * 86400  # 2w
    assert s.registry.tag_expiration_options == {0, 86400, 7 * 86400, 14 * 86400, 28 * 86400}
    assert s.registry.tags == TagSettings(min_expiration_s=3600, max_expiration_s=104 * 7 * 86400)
    assert not s.policies.auto_prune
    assert s.policies.default_prune_rule is None
    assert s.require_team_invite is True
    assert s.unknown_keys == ()


def test_sections_read_the_keys_and_parse_durations_once(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        {
            "FEATURE_SUPER_USERS": False,
            "FEATURE_LIBRARY_SUPPORT": False,
            "SESSION_TIMEOUT": "2h",
            "FRESH_LOGIN_TIMEOUT": "30s",
            "SESSION_COOKIE_NAME": "berth_session",
            "APP_SPECIFIC_TOKEN_EXPIRATION": "1d",
            "TAG_EXPIRATION_OPTIONS": ["1h", "1d"],
            "DEFAULT_TAG_EXPIRATION": "1d",
            "LABELED_EXPIRATION_MAXIMUM": "4w",
            "DISABLE_PUSHES": True,
            "FEATURE_AUTO_PRUNE": True,
            "DEFAULT_NAMESPACE_AUTOPRUNE_POLICY": {"method": "number_of_tags", "value": 10},
            "BERTH_AUTOPRUNE_INTERVAL": "15m",
            "FEATURE_REQUIRE_TEAM_INVITE": False,
            "RESTRICTED_USERS_WHITELIST": ["ops"],
            "FEATURE_RESTRICTED_USERS": True,
        },
    )
    s = load_settings(path, env={"BERTH_FEATURE_IMMUTABLE_TAGS": "true"})
    assert s.api.super_users_enabled is False
    assert s.session == SessionSettings("berth_session", 7200, 30)
    assert s.auth.app_specific_token_expiration_s == 86400
    assert s.registry.library_namespace is None
    assert s.registry.read_only is True  # DISABLE_PUSHES
    assert s.api.registry_readonly is False  # only REGISTRY_STATE turns the API read-only
    assert s.registry.tag_expiration_options == {3600, 86400}
    assert s.registry.default_tag_expiration_s == 86400
    assert s.registry.tags.max_expiration_s == 4 * 7 * 86400
    assert s.registry.tags.immutable_tags is True  # from the environment
    assert s.policies.immutable_tags is True
    assert s.policies.auto_prune is True
    assert s.policies.autoprune_interval_s == 900
    assert s.policies.default_prune_rule == PruneRule("number_of_tags", 10)
    assert s.require_team_invite is False
    assert s.is_restricted_user("alice")
    assert not s.is_restricted_user("ops")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("SESSION_TIMEOUT", "a month"),
        ("FRESH_LOGIN_TIMEOUT", "10 minutes"),
        ("APP_SPECIFIC_TOKEN_EXPIRATION", "forever"),
        ("BERTH_AUTOPRUNE_INTERVAL", "1y"),
        ("TAG_EXPIRATION_OPTIONS", ["1d", "soon"]),
        ("LABEL_KEY_RESERVED_PREFIXES", ["com.example"]),
        ("DEFAULT_NAMESPACE_AUTOPRUNE_POLICY", {"method": "number_of_tags", "value": -1}),
        ("DEFAULT_NAMESPACE_AUTOPRUNE_POLICY", {"method": "newest_first", "value": 3}),
        ("FEATURE_USER_CREATION", "perhaps"),
        ("SESSION_COOKIE_NAME", ["not", "a", "name"]),
    ],
)
def test_a_bad_value_is_reported_with_its_key(tmp_path: Path, key: str, value: object) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(_write(tmp_path, {key: value}), env={})
    assert len(info.value.problems) == 1
    assert info.value.problems[0].startswith(f"{key}")


def test_an_empty_app_token_expiration_means_never(tmp_path: Path) -> None:
    s = load_settings(_write(tmp_path, {"APP_SPECIFIC_TOKEN_EXPIRATION": ""}), env={})
    assert s.auth.app_specific_token_expiration_s is None


def test_unknown_keys_are_typos_or_quay_keys(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        {"FEATURE_USER_CREATON": False, "FEATURE_SIGNING": True, "SERVER_HOSTNAME": "r:5000"},
    )
    s = load_settings(path, env={"QUAY_OVERRIDE_CONFIG": '{"ZZZ_NOTHING_LIKE_IT": 1}'})
    messages = [k.message for k in s.unknown_keys]
    assert messages == [  # warnings first
        "warning: FEATURE_USER_CREATON is not a key Berth knows; "
        "did you mean FEATURE_USER_CREATION?",
        "warning: ZZZ_NOTHING_LIKE_IT is not a key Berth knows",
        "note: FEATURE_SIGNING is used by Quay, not by Berth yet",
    ]


def test_a_lower_case_key_gets_its_upper_case_spelling(tmp_path: Path) -> None:
    s = load_settings(_write(tmp_path, {"feature_public_catalog": True}), env={})
    assert s.unknown_keys[0].suggestions == ("FEATURE_PUBLIC_CATALOG",)
    assert s.api.public_catalog is False  # keys are case-sensitive, as in Quay


def test_unknown_keys_come_with_the_problems_too(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(_write(tmp_path, {"PREFERRED_URL_SCHEM": "https", "DB_URI": "x"}), env={})
    assert [k.key for k in info.value.unknown_keys] == ["PREFERRED_URL_SCHEM"]
    assert info.value.unknown_keys[0].suggestions == ("PREFERRED_URL_SCHEME",)


def test_berths_keys_are_never_reported_as_quay_only(tmp_path: Path) -> None:
    # a key Berth reads is known, whether or not Quay has it too
    assert "FEATURE_SUPER_USERS" in QUAY_KEYS
    assert "FEATURE_SUPER_USERS" in QuayConfig.model_fields
    s = load_settings(_write(tmp_path, {"FEATURE_SUPER_USERS": True}), env={})
    assert s.unknown_keys == ()


def test_validate_warns_about_a_typo_with_a_suggestion(tmp_path: Path) -> None:
    cfg = _write(tmp_path, {"FEATURE_USER_CREATON": False})
    result = CliRunner().invoke(main, ["config", "validate", str(cfg)])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output
    assert (
        "warning: FEATURE_USER_CREATON is not a key Berth knows; "
        "did you mean FEATURE_USER_CREATION?"
    ) in result.output
    assert "note:" not in result.output


def test_validate_notes_a_quay_key_berth_does_not_use(tmp_path: Path) -> None:
    cfg = _write(tmp_path, {"FEATURE_SIGNING": False, "FEATURE_HELM_OCI_SUPPORT": True})
    result = CliRunner().invoke(main, ["config", "validate", str(cfg)])
    assert result.exit_code == 0, result.output
    assert "note: FEATURE_SIGNING is used by Quay, not by Berth yet" in result.output
    assert "note: FEATURE_HELM_OCI_SUPPORT is used by Quay, not by Berth yet" in result.output
    assert "warning" not in result.output


def test_validate_is_quiet_about_a_correct_file(tmp_path: Path) -> None:
    cfg = _write(tmp_path, {"FEATURE_USER_CREATION": False, "BERTH_GC_INTERVAL": "0s"})
    result = CliRunner().invoke(main, ["config", "validate", str(cfg)])
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output
    assert "note" not in result.output


def test_validate_lists_unknown_keys_after_the_problems(tmp_path: Path) -> None:
    cfg = _write(tmp_path, {"PREFERRED_URL_SCHEME": "ftp", "SUPER_USER": ["admin"]})
    result = CliRunner().invoke(main, ["config", "validate", str(cfg)])
    assert result.exit_code == 1
    assert "1 problem" in result.output
    assert "warning: SUPER_USER is not a key Berth knows; did you mean SUPER_USERS" in (
        result.output
    )


def test_usage_log_keys(tmp_path: Path) -> None:
    from berth.usagelogs.settings import UsageLogSettings

    assert load_settings(None, data_dir=tmp_path, env={}).usage_logs == UsageLogSettings()
    s = load_settings(
        _write(
            tmp_path,
            {
                "FEATURE_ACTION_LOG_ROTATION": True,
                "ACTION_LOG_ROTATION_THRESHOLD": "2w",
                "ACTION_LOG_MAX_PAGE": 5,
                "ACTION_LOG_AUDIT_LOGIN_FAILURES": True,
                "ACTION_LOG_AUDIT_PULL_FAILURES": True,
                "ACTION_LOG_AUDIT_DELETE_FAILURES": True,
                "EXPORT_ACTION_LOGS_SECONDS": 60,
            },
        ),
        env={},
    ).usage_logs
    assert s.rotation
    assert s.rotation_threshold_s == 14 * 86400
    assert s.max_page == 5
    assert s.audit_login_failures
    assert s.audit_pull_failures
    assert not s.audit_push_failures
    assert s.audit_delete_failures
    assert s.export_link_ttl_s == 60


@pytest.mark.parametrize("model", ["elasticsearch", "splunk", "transition_reads_both_writes_es"])
def test_other_logs_models_are_a_clear_configuration_error(tmp_path: Path, model: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(_write(tmp_path, {"LOGS_MODEL": model}), env={})
    (problem,) = info.value.problems
    assert problem.startswith("LOGS_MODEL:")
    assert model in problem
    assert "supported: database" in problem
