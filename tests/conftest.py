"""Shared fixtures: real PostgreSQL, Redis and SeaweedFS servers, and Berth settings on top.

The deployments every protocol test runs on:
  embedded     SQLite (WAL) + filesystem storage, as `berth serve` with no config
  distributed  PostgreSQL + S3 (a real SeaweedFS server)
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.devservers import running
from tests.support.ldap import Slapd
from tests.support.oidc import OidcProvider
from tests.support.postgres import create_database, postgres_server
from tests.support.redis import redis_server
from tests.support.seaweed import seaweed_server

_counter = itertools.count()


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from postgres_server(tmp_path_factory)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from redis_server(tmp_path_factory)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    yield from seaweed_server(tmp_path_factory)


@pytest.fixture(scope="session")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    """A real OpenLDAP seeded with users and groups (tests/support/ldap.py)."""
    server = Slapd(tmp_path_factory.mktemp("slapd"))
    with running(server):
        yield server


def embedded_config(tmp: Path, **extra: Any) -> dict[str, Any]:
    """config.yaml keys for the embedded default in ``tmp``."""
    return {
        "SERVER_HOSTNAME": "localhost:5000",
        "SUPER_USERS": ["root"],
        "BERTH_DATA_DIR": str(tmp / "data"),
        **extra,
    }


def distributed_config(
    tmp: Path, postgres_url: str, s3: dict[str, str], **extra: Any
) -> dict[str, Any]:
    """config.yaml keys for PostgreSQL + S3, each call with a fresh database and bucket."""
    n = next(_counter)
    db_url = create_database(postgres_url, f"berth_{n}")
    return {
        "SERVER_HOSTNAME": "localhost:5000",
        "SUPER_USERS": ["root"],
        "BERTH_DATA_DIR": str(tmp / "data"),
        "DB_URI": db_url,
        "SECRET_KEY": "test-secret-key-distributed",
        "DATABASE_SECRET_KEY": "test-database-secret-key-distributed",
        "DISTRIBUTED_STORAGE_CONFIG": {
            "s3": [
                "S3Storage",
                {
                    "endpoint_url": s3["endpoint_url"],
                    "s3_bucket": f"berth-{n}",
                    "s3_access_key": s3["access_key"],
                    "s3_secret_key": s3["secret_key"],
                    "s3_region": "us-east-1",
                    "storage_path": "registry",
                },
            ]
        },
        "DISTRIBUTED_STORAGE_PREFERENCE": ["s3"],
        **extra,
    }


def write_config(tmp: Path, data: dict[str, Any]) -> Path:
    path = tmp / f"config-{next(_counter)}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(
    params=[
        "embedded",
        pytest.param("distributed", marks=[pytest.mark.slow, pytest.mark.postgres, pytest.mark.s3]),
    ]
)
def deployment(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    """config.yaml keys for each deployment; tests parametrized over both."""
    if request.param == "embedded":
        return embedded_config(tmp_path)
    pg = request.getfixturevalue("postgres_url")
    s3 = request.getfixturevalue("s3_server")
    return distributed_config(tmp_path, pg, s3)


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    """A real OpenID Connect provider (oidc-provider on nodejs, tests/support/oidc.py); its
    client ``berth`` may redirect to the in-process Berth of tests/integration."""
    server = OidcProvider(
        tmp_path_factory.mktemp("oidc"), ["http://localhost:5000/oauth2/testidp/callback"]
    )
    with running(server):
        yield server
