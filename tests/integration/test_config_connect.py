"""``berth config init`` writes a complete config.yaml; ``berth config validate FILE --connect``
connects to what it names (real PostgreSQL, SeaweedFS S3, Redis) and names each failure with
how to fix it; ``berth serve`` refuses to start with the same message."""

from __future__ import annotations

import socket
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis as redis_lib
import yaml
from click.testing import CliRunner

from berth.cli import main
from berth.config import load_settings
from devservers import Redis, free_port
from tests.support.postgres import create_database


def init(tmp: Path, *args: str) -> tuple[Path, dict[str, Any]]:
    path = tmp / "conf" / "config.yaml"
    result = CliRunner().invoke(main, ["config", "init", str(path), *args])
    assert result.exit_code == 0, result.output
    return path, yaml.safe_load(path.read_text())


def validate(path: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["config", "validate", str(path), "--connect"])
    return result.exit_code, result.output


def test_init_embedded_is_complete_private_and_valid(tmp_path: Path) -> None:
    path, config = init(tmp_path, "--deployment", "embedded", "--hostname", "reg.example:5000",
                        "--superuser", "ops", "--data-dir", str(tmp_path / "data"))  # fmt: skip
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert config["SERVER_HOSTNAME"] == "reg.example:5000"
    assert config["SUPER_USERS"] == ["ops"]
    assert len(config["SECRET_KEY"]) >= 40
    assert config["SECRET_KEY"] != config["DATABASE_SECRET_KEY"]
    assert "berth config validate" in path.read_text()  # the header says what next
    settings = load_settings(path, env={}, persist_secrets=False)
    assert settings.unknown_keys == ()
    code, out = validate(path)
    assert code == 0, out
    assert "OK" in out.splitlines()[0]
    assert "ok   database:" in out and "berth serve creates it" in out  # noqa: PT018
    again = CliRunner().invoke(main, ["config", "init", str(path), "--deployment", "embedded"])
    assert again.exit_code != 0
    assert "exists" in again.output


def test_init_distributed_without_answers_says_which_flag(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["config", "init", str(tmp_path / "c.yaml"), "--deployment", "distributed"]
    )
    assert result.exit_code != 0
    assert "--db-uri" in result.output


@pytest.fixture
def distributed_file(
    tmp_path: Path, postgres_url: str, s3_server: dict[str, str], redis_url: str
) -> Path:
    db = create_database(postgres_url, f"berth_connect_{free_port()}")
    redis = urlsplit(redis_url)
    path, _ = init(tmp_path, "--deployment", "distributed", "--hostname", "reg.example",
                   "--superuser", "ops", "--data-dir", str(tmp_path / "data"),
                   "--db-uri", db, "--s3-endpoint", s3_server["endpoint_url"],
                   "--s3-bucket", "berth-connect", "--s3-access-key", s3_server["access_key"],
                   "--s3-secret-key", s3_server["secret_key"],
                   "--redis", f"{redis.hostname}:{redis.port}")  # fmt: skip
    return path


def edit(path: Path, **changes: Any) -> None:
    config = yaml.safe_load(path.read_text())
    for key, value in changes.items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    path.write_text(yaml.safe_dump(config))


def unreachable(db: Any) -> str:
    """The same database URI on a port nothing listens on."""
    return urlunsplit(db._replace(netloc=f"postgres@127.0.0.1:{free_port()}"))


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.s3
def test_validate_connect_distributed(distributed_file: Path) -> None:
    code, out = validate(distributed_file)
    assert code == 0, out
    assert "ok   database: connected" in out
    assert "ok   storage: wrote, read and deleted a test object (S3Storage)" in out
    assert "ok   redis: PING answered" in out


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.s3
def test_validate_connect_names_each_failure(distributed_file: Path, tmp_path: Path) -> None:
    config = yaml.safe_load(distributed_file.read_text())
    db = urlsplit(config["DB_URI"])
    # a Redis that wants a password we do not give
    guarded = Redis(tmp_path / "redis-guarded")
    guarded.start()
    try:
        redis_lib.Redis(port=guarded.port).config_set("requirepass", "right-password")
        storage = config["DISTRIBUTED_STORAGE_CONFIG"]
        storage["default"][1]["s3_secret_key"] = "not-the-secret"
        edit(
            distributed_file,
            DB_URI=urlunsplit(db._replace(path="/no_such_database")),
            DISTRIBUTED_STORAGE_CONFIG=storage,
            BERTH_REDIS={"host": "127.0.0.1", "port": guarded.port, "password": "wrong-one"},
            FEATURE_MAILING=True,
            MAIL_SERVER="127.0.0.1",
            MAIL_PORT=free_port(),
            AUTHENTICATION_TYPE=None,
            LDAP_URI=f"ldap://127.0.0.1:{free_port()}",
        )
        code, out = validate(distributed_file)
    finally:
        guarded.stop()
    assert code == 1, out
    assert out.splitlines()[0].endswith("5 problems")
    assert "FAIL database:" in out and "fix the database name in DB_URI" in out  # noqa: PT018
    assert "FAIL storage: the credentials were refused" in out
    assert "FAIL redis: the password was refused" in out
    assert "FAIL smtp: cannot talk to the mail server" in out
    assert "FAIL ldap:" in out and "check LDAP_URI" in out  # noqa: PT018

    edit(distributed_file, DB_URI=unreachable(db))
    code, out = validate(distributed_file)
    assert "FAIL database: cannot connect" in out
    assert "are DB_URI's host and port right?" in out


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.s3
def test_serve_refuses_with_the_same_message(distributed_file: Path) -> None:
    config = yaml.safe_load(distributed_file.read_text())
    db = urlsplit(config["DB_URI"])
    edit(distributed_file, DB_URI=unreachable(db))
    port = free_port()
    proc = subprocess.run(
        [sys.executable, "-m", "berth", "serve", "--config", str(distributed_file), "--port",
         str(port)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "berth: cannot start:" in proc.stderr
    assert "database: cannot connect" in proc.stderr
    assert "Traceback" not in proc.stderr
    with socket.socket() as s:  # no half server left listening
        s.bind(("127.0.0.1", port))
