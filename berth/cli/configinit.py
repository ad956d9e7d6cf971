"""``berth config init``: a complete ``config.yaml`` for the embedded default or the
distributed deployment, secrets generated, what it needs asked (or given as flags).

It replaces Quay's config mode (a web app run in a second container to write and check the
file): answer the questions, then ``berth config validate FILE --connect``.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import yaml

HEADER = """\
# Berth configuration (Quay's config.yaml keys), written by `berth config init`.
# Check it, and every connection it names, with:
#   berth config validate {path} --connect
# SECRET_KEY and DATABASE_SECRET_KEY were generated: every replica needs the same values,
# and DATABASE_SECRET_KEY must never change once credentials are stored with it.
"""


def _ask(value: str | None, prompt: str, *, flag: str, hide: bool = False,
         default: str | None = None) -> str:  # fmt: skip
    """The flag's value, or the answer to a question (only with a terminal to ask on)."""
    if value:
        return value
    if sys.stdin.isatty():
        return str(click.prompt(prompt, default=default, hide_input=hide))
    if default is not None:
        return default
    raise click.UsageError(f"give {flag} (no terminal to ask on)")


def build_config(
    deployment: str,
    *,
    hostname: str,
    superuser: str,
    data_dir: str | None,
    db_uri: str | None = None,
    s3: dict[str, str] | None = None,
    redis: dict[str, Any] | None = None,
) -> dict[str, Any]:
    config: dict[str, Any] = {
        "SERVER_HOSTNAME": hostname,
        "PREFERRED_URL_SCHEME": "http",
        "SUPER_USERS": [superuser],
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATABASE_SECRET_KEY": secrets.token_urlsafe(48),
        "FEATURE_ANONYMOUS_ACCESS": True,
        "FEATURE_USER_CREATION": True,
        "CREATE_PRIVATE_REPO_ON_PUSH": True,
        "DEFAULT_TAG_EXPIRATION": "2w",
        "TAG_EXPIRATION_OPTIONS": ["0s", "1d", "1w", "2w", "4w"],
    }
    if data_dir:
        config["BERTH_DATA_DIR"] = data_dir
    if deployment == "distributed":
        assert db_uri is not None
        assert s3 is not None
        config["DB_URI"] = db_uri
        config["DISTRIBUTED_STORAGE_CONFIG"] = {"default": ["S3Storage", s3]}
        config["DISTRIBUTED_STORAGE_PREFERENCE"] = ["default"]
        if redis:
            config["BERTH_REDIS"] = redis
    return config


@click.command("init")
@click.argument("file", type=click.Path(dir_okay=False), default="config.yaml")
@click.option(
    "--deployment",
    type=click.Choice(["embedded", "distributed"]),
    default=None,
    help="embedded: SQLite + local disk; distributed: PostgreSQL + S3 + Redis.",
)
@click.option("--hostname", default=None, help="SERVER_HOSTNAME: host[:port] clients use.")
@click.option("--superuser", default=None, help="The name listed in SUPER_USERS.")
@click.option("--data-dir", default=None, help="BERTH_DATA_DIR (default: data/ beside FILE).")
@click.option("--db-uri", default=None, help="postgresql://user:password@host:5432/db")
@click.option("--s3-endpoint", default=None, help="S3 endpoint URL (empty: AWS).")
@click.option("--s3-bucket", default=None)
@click.option("--s3-access-key", default=None)
@click.option("--s3-secret-key", default=None)
@click.option("--s3-region", default=None)
@click.option(
    "--redis",
    "redis_addr",
    default=None,
    help="host:port of the Redis the replicas share (empty: none).",
)
@click.option("--redis-password", default=None)
@click.option("--force", is_flag=True, help="Overwrite FILE.")
def config_init(file: str, deployment: str | None, hostname: str | None, superuser: str | None,
                data_dir: str | None, db_uri: str | None, s3_endpoint: str | None,
                s3_bucket: str | None, s3_access_key: str | None, s3_secret_key: str | None,
                s3_region: str | None, redis_addr: str | None, redis_password: str | None,
                force: bool) -> None:  # fmt: skip
    """Write a complete config.yaml (secrets generated; what is missing is asked)."""
    path = Path(file)
    if path.exists() and not force:
        raise click.ClickException(f"{path} exists: choose another FILE, or --force")
    deployment = _ask(deployment, "Deployment (embedded or distributed)", flag="--deployment",
                      default="embedded")  # fmt: skip
    if deployment not in ("embedded", "distributed"):
        raise click.UsageError("--deployment is embedded or distributed")
    hostname = _ask(hostname, "SERVER_HOSTNAME (host[:port] clients use)", flag="--hostname",
                    default="localhost:5000")  # fmt: skip
    superuser = _ask(superuser, "Superuser name", flag="--superuser", default="admin")
    s3: dict[str, str] | None = None
    redis: dict[str, Any] | None = None
    if deployment == "distributed":
        db_uri = _ask(db_uri, "PostgreSQL URI (postgresql://user:password@host:5432/db)",
                      flag="--db-uri")  # fmt: skip
        if not urlsplit(db_uri).scheme.startswith("postgres"):
            raise click.UsageError(f"--db-uri {db_uri!r} is not a postgresql:// URI")
        s3 = {
            "s3_bucket": _ask(s3_bucket, "S3 bucket", flag="--s3-bucket"),
            "s3_access_key": _ask(s3_access_key, "S3 access key", flag="--s3-access-key"),
            "s3_secret_key": _ask(
                s3_secret_key, "S3 secret key", flag="--s3-secret-key", hide=True
            ),
            "storage_path": "registry",
        }
        endpoint = _ask(s3_endpoint, "S3 endpoint URL (empty for AWS)", flag="--s3-endpoint",
                        default="")  # fmt: skip
        if endpoint:
            s3["endpoint_url"] = endpoint
        region = _ask(s3_region, "S3 region", flag="--s3-region", default="us-east-1")
        s3["s3_region"] = region
        addr = _ask(redis_addr, "Redis host:port (empty: none)", flag="--redis", default="")
        if addr:
            host, _, port = addr.rpartition(":") if ":" in addr else (addr, "", "6379")
            redis = {"host": host, "port": int(port or 6379)}
            if redis_password:
                redis["password"] = redis_password
    config = build_config(deployment, hostname=hostname, superuser=superuser, data_dir=data_dir,
                          db_uri=db_uri, s3=s3, redis=redis)  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    text = HEADER.format(path=path) + yaml.safe_dump(config, sort_keys=False)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds secrets
    with os.fdopen(fd, "w") as out:
        out.write(text)
    path.chmod(0o600)
    click.echo(f"wrote {path} ({deployment}; secrets generated, mode 0600)")
    click.echo(f"next: berth config validate {path} --connect")
    click.echo(f"then: berth serve --config {path}")
