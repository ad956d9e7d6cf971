"""The composition root's outbound clients carry config.yaml's settings: SSRF_ALLOWED_HOSTS
decides what a feature may call, and Quay's extra_ca_certs directory beside config.yaml is
trusted."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from berth.config import ConfigError, load_settings
from berth.outbound import DestinationRefused
from berth.services import Services, create_services
from tests.support.tls import ThrowawayCA
from tests.unit.outbound.conftest import StartOrigin
from tests.unit.outbound.loopback import Reply


def _services(tmp_path: Path, **keys: object) -> Services:
    tmp_path.mkdir(exist_ok=True)
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"BERTH_DATA_DIR": str(tmp_path / "data"), **keys}))
    return create_services(load_settings(config, env={}))


async def test_loopback_is_refused_until_config_allows_it(
    tmp_path: Path, start_origin: StartOrigin
) -> None:
    origin = await start_origin(Reply(body=b"hello"), Reply(body=b"hello"))
    url = f"http://127.0.0.1:{origin.port}/hook"

    default = _services(tmp_path / "a")
    try:
        with pytest.raises(DestinationRefused, match="SSRF_ALLOWED_HOSTS"):
            await default.outbound.client().get(url)
        assert origin.connections == 0
    finally:
        await default.close()

    allowed = _services(tmp_path / "b", SSRF_ALLOWED_HOSTS=["127.0.0.0/8"])
    try:
        response = await allowed.outbound.client().get(url)
        assert (response.status_code, response.content) == (200, b"hello")
        assert allowed.outbound.client() is allowed.outbound.client()
    finally:
        await allowed.close()


async def test_extra_ca_certs_beside_config_yaml_are_trusted(
    tmp_path: Path, start_origin: StartOrigin, ca: ThrowawayCA
) -> None:
    cert, key = ca.issue("localhost")
    origin = await start_origin(Reply(body=b"secure"), tls=(cert, key))
    (tmp_path / "extra_ca_certs").mkdir()
    (tmp_path / "extra_ca_certs" / "lab-ca.crt").write_bytes(ca.pem.read_bytes())
    svc = _services(tmp_path, SSRF_ALLOWED_HOSTS=["localhost"])
    try:
        response = await svc.outbound.client().get(f"https://localhost:{origin.port}/")
        assert response.content == b"secure"
    finally:
        await svc.close()


def test_a_bad_allow_entry_is_a_config_problem(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"SSRF_ALLOWED_HOSTS": ["http://bad/"]}))
    with pytest.raises(ConfigError) as e:
        load_settings(config, env={})
    assert any("SSRF_ALLOWED_HOSTS" in p for p in e.value.problems)
