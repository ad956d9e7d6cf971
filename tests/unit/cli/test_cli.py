"""The `berth` command forms operators' scripts rely on."""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner

from berth.cli.main import main


def test_config_validate_ok(tmp_path: Path) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump({"SERVER_HOSTNAME": "reg.example.com:443"}))
    result = CliRunner().invoke(main, ["config", "validate", str(cfg)])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output
    assert "reg.example.com:443" in result.output
    assert not (tmp_path / "data").exists()  # validation writes nothing


def test_config_validate_lists_every_problem(tmp_path: Path) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "PREFERRED_URL_SCHEME": "ftp",
                "V2_PAGINATION_SIZE": "many",
                "DISTRIBUTED_STORAGE_CONFIG": {"main": ["S3Storage", {}]},
            }
        )
    )
    result = CliRunner().invoke(main, ["config", "validate", str(cfg)])
    assert result.exit_code == 1
    assert "2 problems" in result.output
    assert "PREFERRED_URL_SCHEME" in result.output
    assert "V2_PAGINATION_SIZE" in result.output


def test_db_upgrade_then_create_users(tmp_path: Path) -> None:
    runner = CliRunner()
    data = str(tmp_path / "data")
    result = runner.invoke(main, ["db", "upgrade", "--data-dir", data])
    assert result.exit_code == 0, result.output
    assert "(was empty)" in result.output

    result = runner.invoke(
        main,
        ["admin", "create-user", "alice", "--password-stdin", "--data-dir", data],
        input="correct-horse-battery\n",
    )
    assert result.exit_code == 0, result.output
    assert "created user alice" in result.output
    assert "password:" not in result.output

    result = runner.invoke(
        main, ["admin", "create-user", "root", "--superuser", "--data-dir", data]
    )
    assert result.exit_code == 0, result.output
    assert "created superuser root" in result.output
    assert "password: " in result.output  # generated and shown once

    result = runner.invoke(
        main,
        ["admin", "create-user", "alice", "--password-stdin", "--data-dir", data],
        input="another-password\n",
    )
    assert result.exit_code == 1
    assert "already taken" in result.output

    result = runner.invoke(
        main,
        ["admin", "create-user", "Bad Name!", "--password-stdin", "--data-dir", data],
        input="another-password\n",
    )
    assert result.exit_code == 1
    assert "invalid username" in result.output

    result = runner.invoke(
        main,
        ["admin", "create-user", "bob", "--password-stdin", "--data-dir", data],
        input="short\n",
    )
    assert result.exit_code == 1
    assert "at least 8" in result.output


def test_bad_config_never_starts_a_server(tmp_path: Path) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump({"DB_URI": "oracle://x"}))
    result = CliRunner().invoke(main, ["serve", "--config", str(cfg), "--port", "1"])
    assert result.exit_code == 2
    assert "DB_URI" in result.output


def test_rotate_signing_key_keeps_old_tokens_valid(tmp_path: Path) -> None:
    import asyncio

    from berth.config import load_settings
    from berth.services import create_services

    data = str(tmp_path / "data")
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade", "--data-dir", data]).exit_code == 0
    settings = load_settings(None, data_dir=data, env={})

    async def token_before() -> tuple[str, str]:
        svc = create_services(settings)
        await svc.auth.load_keys()
        kid = svc.auth.keyring._signing.kid  # type: ignore[union-attr]
        token = svc.auth.keyring.issue("alice", [], audience=settings.server_hostname, ttl_s=60)
        await svc.close()
        return kid, token

    old_kid, old_token = asyncio.run(token_before())
    result = runner.invoke(main, ["admin", "rotate-signing-key", "--data-dir", data])
    assert result.exit_code == 0, result.output
    assert "new signing key" in result.output
    new_kid = result.output.split("new signing key ")[1].split(";")[0]
    assert new_kid != old_kid

    async def after() -> tuple[str, str]:
        svc = create_services(settings)
        await svc.auth.load_keys()
        claims = await svc.auth.verify_token(old_token)
        kid = svc.auth.keyring._signing.kid  # type: ignore[union-attr]
        await svc.close()
        return claims.subject, kid

    subject, signing_kid = asyncio.run(after())
    assert subject == "alice"
    assert signing_kid == new_kid
