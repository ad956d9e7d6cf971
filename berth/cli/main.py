"""``berth`` subcommands. Each composes what it needs from Settings, like the server does.

Contract forms (operators' scripts call these):
  berth serve [--config FILE] [--host H] [--port P] [--data-dir D]
  berth config validate FILE
  berth db upgrade [--config F | --data-dir D]
  berth admin create-user NAME [--superuser] [--password-stdin] [--config F | --data-dir D]
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from berth.cli.common import cli_settings, config_options, run_with_services
from berth.cli.gc import gc
from berth.cli.identity import register as register_identity
from berth.cli.jobs import jobs
from berth.cli.prune import prune
from berth.cli.scanner import scanner
from berth.config import ConfigError, Settings, UnknownKey, load_settings

if TYPE_CHECKING:
    from berth.services import Services


@click.group()
@click.version_option(package_name="berth")
def main() -> None:
    """Berth: a container image registry that speaks Quay's API."""


# ---- serve -------------------------------------------------------------------------------
@main.command()
@config_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=int, help="Port to listen on.")
@click.option("--workers", default=None, type=int, help="Server worker processes.")
def serve(
    config: str | None, data_dir: str | None, host: str, port: int, workers: int | None
) -> None:
    """Run the registry (embedded defaults when no config is given)."""
    env: dict[str, str] = {}
    hostname_set = "SERVER_HOSTNAME" in _config_keys(config) or any(
        k in os.environ for k in ("BERTH_SERVER_HOSTNAME", "QUAY_SERVER_HOSTNAME")
    )
    if not hostname_set:
        shown = "localhost" if host in ("0.0.0.0", "::") else host  # noqa: S104
        env["BERTH_SERVER_HOSTNAME"] = f"{shown}:{port}"
    settings = cli_settings(config, data_dir, env)
    settings.data_dir.mkdir(parents=True, exist_ok=True)

    n_workers = workers or settings.workers
    click.echo(
        f"Berth registry at {settings.base_url}  (listening on {host}:{port}, "
        f"{n_workers} worker{'s' if n_workers != 1 else ''})"
    )
    click.echo(f"  data:     {settings.data_dir}")
    click.echo(f"  database: {_redact(settings.db_url)}")
    click.echo(f"  storage:  {settings.storage.driver} ({settings.storage.name})")
    if settings.auth.open_registry:
        click.echo("  WARNING:  BERTH_OPEN_REGISTRY is on: anyone may push, pull and delete")
    _echo_unknown_keys(settings.unknown_keys, err=True)
    sys.stdout.flush()

    from berth.schema.migrate import sqlite_ready
    from berth.startup import setup_status_path

    setup: dict[str, object] | None = None
    if settings.is_sqlite and sqlite_ready(settings.db_url):  # a restart: nothing to set up
        click.echo(_login_hint(settings))
        sys.stdout.flush()
    else:
        status = setup_status_path(settings.data_dir, os.getpid())  # our pid is the master's
        setup = {"pid": _fork_setup(settings, status), "status": str(status)}
    os.environ["BERTH_SERVE_OPTIONS"] = json.dumps(
        {
            "config": str(settings.config_path) if settings.config_path else None,
            "data_dir": str(settings.data_dir),
            "env": env,
            "host": host,
            "port": port,
            "workers": n_workers,
            "setup": setup,
        }
    )
    if n_workers == 1:
        # This process serves: a second interpreter would start again and import again
        # what this one imported for the configuration (pydantic, click, yaml: ~0.3 s of a
        # start). The setup's imports (SQLAlchemy's DDL, Alembic, argon2) stay in its child.
        from berth.serve import main as serve_main

        serve_main()
        return
    # Hand over to a fresh, slim master process that only supervises the workers: what
    # this one imported would otherwise stay resident for the server's lifetime.
    os.execv(sys.executable, [sys.executable, "-m", "berth.serve"])  # noqa: S606


def _fork_setup(settings: Settings, status: Path) -> int:
    """Upgrade the schema and create the first-run admin in a child process; its pid.

    The server starts meanwhile; its workers serve once the child wrote its status
    (``berth.startup``).
    """
    from berth.startup import SETUP_OK, write_setup_status

    status.unlink(missing_ok=True)
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        from berth.schema.migrate import upgrade

        asyncio.run(upgrade(settings.db_url))
        click.echo(asyncio.run(_first_run_admin(settings)))
        write_setup_status(status, SETUP_OK)
        code = 0
    except BaseException as e:  # the child must report and exit, whatever happened
        click.echo(f"berth: preparing the database failed: {e!r}", err=True)
        write_setup_status(status, f"failed: {e!r}")
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _config_keys(config: str | None) -> set[str]:
    if not config:
        return set()
    import yaml

    try:
        data = yaml.safe_load(Path(config).read_text()) or {}
    except (OSError, yaml.YAMLError):
        return set()
    return set(data) if isinstance(data, dict) else set()


def _redact(url: str) -> str:
    import re

    return re.sub(r"://([^:/@]+):[^@]+@", r"://\1:***@", url)


async def _first_run_admin(settings: Settings) -> str:
    """On an empty instance, create a superuser ``admin`` and say how to log in."""
    from berth.services import create_services

    svc = create_services(settings, pool_size=1)
    try:
        accounts = svc.accounts
        host = settings.server_hostname
        tls = "" if settings.url_scheme == "https" else " --tls-verify=false"
        if await accounts.count_users() == 0 and settings.config_path is None:
            password = secrets.token_urlsafe(18)
            await accounts.create_user("admin", password, superuser=True)
            secret_file = settings.data_dir / "initial-admin-password"
            secret_file.write_text(password + "\n")
            secret_file.chmod(0o600)
            return (
                f"  first start: created superuser 'admin' (password in {secret_file})\n"
                f"  log in:   podman login{tls} -u admin -p {password} {host}"
            )
        if await accounts.count_users() == 0:
            return "  no users yet: berth admin create-user NAME --superuser " + (
                f"--config {settings.config_path}" if settings.config_path else ""
            )
        return _login_hint(settings)
    finally:
        await svc.close()


def _login_hint(settings: Settings) -> str:
    tls = "" if settings.url_scheme == "https" else " --tls-verify=false"
    return f"  log in:   podman login{tls} -u <user> {settings.server_hostname}"


# ---- worker ------------------------------------------------------------------------------
@main.command()
@config_options
def worker(config: str | None, data_dir: str | None) -> None:
    """Run background jobs (distributed deployment: next to the servers)."""
    from berth.schema.migrate import upgrade
    from berth.services import create_services
    from berth.worker import run_worker

    settings = cli_settings(config, data_dir)

    async def go() -> None:
        await upgrade(settings.db_url)
        await run_worker(create_services(settings), click.echo)

    asyncio.run(go())


# ---- config ------------------------------------------------------------------------------
@main.group()
def config() -> None:
    """Configuration tools."""


@config.command("validate")
@click.argument("file", type=click.Path(dir_okay=False))
def config_validate(file: str) -> None:
    """Check a config.yaml and report every problem at once."""
    try:
        settings = load_settings(file, env={}, persist_secrets=False)
    except ConfigError as e:
        click.echo(f"{file}: {len(e.problems)} problem{'s' if len(e.problems) != 1 else ''}")
        for problem in e.problems:
            click.echo(f"  - {problem}")
        _echo_unknown_keys(e.unknown_keys)
        raise SystemExit(1) from e
    click.echo(f"{file}: OK")
    click.echo(f"  SERVER_HOSTNAME: {settings.server_hostname}")
    click.echo(f"  database:        {_redact(settings.db_url)}")
    click.echo(f"  storage:         {settings.storage.name} ({settings.storage.driver})")
    _echo_unknown_keys(settings.unknown_keys)


def _echo_unknown_keys(keys: tuple[UnknownKey, ...], *, err: bool = False) -> None:
    """One line each: a warning for a key nobody knows (a typo must not pass silently), a
    note for a Quay key Berth does not use yet. Neither fails the command."""
    for key in keys:
        click.echo(key.message, err=err)


# ---- db ----------------------------------------------------------------------------------
@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@config_options
def db_upgrade(config: str | None, data_dir: str | None) -> None:
    """Apply schema migrations up to the newest."""
    from berth.schema.migrate import current_revision, upgrade

    settings = cli_settings(config, data_dir)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    before = asyncio.run(current_revision(settings.db_url))
    asyncio.run(upgrade(settings.db_url))
    after = asyncio.run(current_revision(settings.db_url))
    click.echo(f"database at revision {after} (was {before or 'empty'})")


# ---- admin -------------------------------------------------------------------------------
@main.group()
def admin() -> None:
    """Administration (works while the server runs)."""


@admin.command("create-user")
@click.argument("name")
@click.option("--superuser", is_flag=True, help="Give the user superuser rights.")
@click.option("--email", default=None)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@config_options
def create_user(
    name: str,
    superuser: bool,
    email: str | None,
    password_stdin: bool,
    config: str | None,
    data_dir: str | None,
) -> None:
    """Create a user (with its own namespace)."""
    from berth.identity.errors import AccountError

    settings = cli_settings(config, data_dir)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        generated = False
    else:
        password = secrets.token_urlsafe(18)
        generated = True
    try:
        run_with_services(
            settings,
            lambda svc: svc.accounts.create_user(name, password, email=email, superuser=superuser),
        )
    except AccountError as e:
        click.echo(f"berth: {e}", err=True)
        raise SystemExit(1) from e
    click.echo(f"created {'superuser' if superuser else 'user'} {name}")
    if generated:
        click.echo(f"password: {password}")


@admin.command("rotate-signing-key")
@config_options
def rotate_signing_key(config: str | None, data_dir: str | None) -> None:
    """Add a new token signing key (servers use it once restarted; old tokens stay valid)."""

    async def rotate(svc: Services) -> str:
        await svc.auth.load_keys()
        return await svc.auth.rotate_keys()

    kid = run_with_services(cli_settings(config, data_dir), rotate)
    click.echo(
        f"new signing key {kid}; running servers pick it up when they meet a token it signed"
    )


register_identity(main)
main.add_command(prune)
main.add_command(gc)
main.add_command(scanner)
main.add_command(jobs)


@main.command(
    "bench",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,
)
@click.pass_context
def bench(ctx: click.Context) -> None:
    """Benchmark Berth against CNCF distribution (source checkout only).

    See docs/performance.md; scripts/bench runs the same command.
    """
    # The benchmark is development tooling beside the berth package (bench/ at the
    # repository root), not in the wheel: found only when berth runs from a checkout.
    root = Path(__file__).resolve().parents[2]
    if not (root / "pyproject.toml").is_file() or not (root / "bench" / "cli.py").is_file():
        raise click.ClickException("berth bench runs from a source checkout: scripts/bench")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    from bench.cli import bench as bench_command

    bench_command.main(args=ctx.args, prog_name="berth bench", standalone_mode=True)


if __name__ == "__main__":  # pragma: no cover
    main()
