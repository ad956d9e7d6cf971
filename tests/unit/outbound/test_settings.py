"""Building OutboundSettings from plain values, proxies from an environment, NO_PROXY."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from berth.config import QuayConfig
from berth.outbound import (
    OutboundConfigError,
    ProxySettings,
    Timeouts,
    build_outbound_settings,
    proxy_settings_from_env,
)
from berth.outbound.proxy import NoProxy


def test_defaults_allow_nothing_private_and_use_no_proxy() -> None:
    settings = build_outbound_settings()
    assert settings.allowed.hosts == frozenset()
    assert settings.allowed.networks == ()
    assert settings.proxies == ProxySettings()
    assert settings.extra_ca_paths == ()


def test_build_from_plain_values(tmp_path: Path) -> None:
    settings = build_outbound_settings(
        allowed_hosts=["10.20.0.0/16", "registry.lab.internal"],
        proxy_env={"HTTPS_PROXY": "proxy.lab:3128", "NO_PROXY": "lab.internal, 10.0.0.0/8"},
        extra_ca_paths=[tmp_path / "extra_ca_certs"],
        timeouts=Timeouts(connect=2, read=5, write=5, pool=1),
    )
    assert settings.allowed.hosts == {"registry.lab.internal"}
    assert [str(n) for n in settings.allowed.networks] == ["10.20.0.0/16"]
    assert settings.proxies == ProxySettings(
        http=None, https="http://proxy.lab:3128", no_proxy=("lab.internal", "10.0.0.0/8")
    )
    assert settings.extra_ca_paths == (tmp_path / "extra_ca_certs",)
    assert settings.timeouts.connect == 2


def test_bad_values_are_named() -> None:
    with pytest.raises(OutboundConfigError, match=re.escape("'http://registry.lab:5000'")):
        build_outbound_settings(allowed_hosts=["http://registry.lab:5000"])
    with pytest.raises(OutboundConfigError, match=re.escape("HTTPS_PROXY 'socks5://p:1080'")):
        build_outbound_settings(proxy_env={"HTTPS_PROXY": "socks5://p:1080"})


def test_proxy_env_lower_case_wins_and_empty_is_unset() -> None:
    env = {
        "HTTP_PROXY": "http://upper:1",
        "http_proxy": "http://lower:2",
        "HTTPS_PROXY": "http://secure:3",
        "https_proxy": "",
        "no_proxy": "a.example, .b.example,,*.c.example ",
        "PATH": "/usr/bin",
    }
    assert proxy_settings_from_env(env) == ProxySettings(
        http="http://lower:2",
        https="http://secure:3",
        no_proxy=("a.example", ".b.example", "*.c.example"),
    )
    assert proxy_settings_from_env({}) == ProxySettings()


@pytest.mark.parametrize(
    ("no_proxy", "host", "port", "bypass"),
    [
        (["*"], "anything.example", 443, True),
        (["lab.internal"], "lab.internal", 443, True),
        (["lab.internal"], "registry.lab.internal", 443, True),
        (["lab.internal"], "LAB.Internal.", 443, True),
        (["lab.internal"], "notlab.internal", 443, False),
        ([".lab.internal"], "registry.lab.internal", 443, True),
        (["*.lab.internal"], "registry.lab.internal", 443, True),
        (["registry.lab:5000"], "registry.lab", 5000, True),
        (["registry.lab:5000"], "registry.lab", 443, False),
        (["10.0.0.0/8"], "10.1.2.3", 80, True),
        (["10.0.0.0/8"], "11.1.2.3", 80, False),
        (["10.0.0.0/8"], "ten.example", 80, False),  # names are not resolved for CIDRs
        (["192.168.1.5"], "192.168.1.5", 80, True),
        (["::1"], "::1", 80, True),
        (["[::1]:8080"], "::1", 8080, True),
        (["fd00::/8"], "fd00::5", 80, True),
        ([], "anything.example", 443, False),
    ],
)
def test_no_proxy_matching(no_proxy: list[str], host: str, port: int, bypass: bool) -> None:
    assert NoProxy(no_proxy).bypasses(host, port) is bypass


def test_quay_config_key_defaults_to_empty_and_rejects_bad_entries() -> None:
    assert QuayConfig().SSRF_ALLOWED_HOSTS == []
    cfg = QuayConfig(SSRF_ALLOWED_HOSTS=["10.20.0.0/16", "registry.lab.internal", "*.lab"])
    assert cfg.SSRF_ALLOWED_HOSTS == ["10.20.0.0/16", "registry.lab.internal", "*.lab"]
    with pytest.raises(
        ValueError, match=re.escape("'https://registry.lab:5000' is not a host name")
    ):
        QuayConfig(SSRF_ALLOWED_HOSTS=["ok.lab", "https://registry.lab:5000"])
