"""``berth`` subcommands. Each composes what it needs from Settings, like the server does.

Contract forms (operators' scripts call these):
  berth serve [--config FILE] [--host H] [--port P] [--data-dir D]
  berth config init [FILE] [--deployment embedded|distributed] [--hostname H] ...
  berth config validate FILE [--connect]
  berth db upgrade [--config F | --data-dir D]
  berth backup DEST [--config F | --data-dir D]
  berth restore SRC [--force] [--config F | --data-dir D]
  berth admin create-user NAME [--superuser] [--password-stdin] [--config F | --data-dir D]
  berth admin set-password NAME [--password-stdin] [--config F | --data-dir D]
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from berth.cli.builds import builds
from berth.cli.common import (
    cli_settings,
    config_options,
    private_data_dir,
    remember_served,
    run_with_services,
)
from berth.cli.configinit import config_init
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
@click.option(
    "--ssl-cert",
    type=click.Path(dir_okay=False),
    default=None,
    help="TLS certificate (PEM, chain after it); default: ssl.cert beside the config file.",
)
@click.option(
    "--ssl-key",
    type=click.Path(dir_okay=False),
    default=None,
    help="Its private key (PEM); default: ssl.key beside the config file.",
)
def serve(
    config: str | None,
    data_dir: str | None,
    host: str,
    port: int,
    workers: int | None,
    ssl_cert: str | None,
    ssl_key: str | None,
) -> None:
    """Run the registry (embedded defaults when no config is given)."""
    from berth.cli.tls import TlsError, check_tls, find_tls

    env: dict[str, str] = {}
    config = config or os.environ.get("BERTH_CONFIG") or None
    try:
        found = find_tls(Path(config).resolve() if config else None, ssl_cert, ssl_key)
        tls = check_tls(*found) if found else None
    except TlsError as e:
        click.echo(f"berth: {e}", err=True)
        raise SystemExit(1) from e
    keys = _config_keys(config)
    if (
        tls
        and "PREFERRED_URL_SCHEME" not in keys
        and not any(
            k in os.environ for k in ("BERTH_PREFERRED_URL_SCHEME", "QUAY_PREFERRED_URL_SCHEME")
        )
    ):
        env["BERTH_PREFERRED_URL_SCHEME"] = "https"
    hostname_set = "SERVER_HOSTNAME" in keys or any(
        k in os.environ for k in ("BERTH_SERVER_HOSTNAME", "QUAY_SERVER_HOSTNAME")
    )
    if not hostname_set:
        shown = "localhost" if host in ("0.0.0.0", "::") else host  # noqa: S104
        env["BERTH_SERVER_HOSTNAME"] = f"{shown}:{port}"
    settings = cli_settings(config, data_dir, env, locate=False)
    _port_free_or_exit(host, port)
    if not settings.is_sqlite:
        # A shared database, storage and Redis: refuse to start on what would fail anyway,
        # with the message ``config validate --connect`` gives, before anything is started.
        failed = [o for o in _connection_checks(settings, smtp_ldap=False) if not o.ok]
        if failed:
            click.echo("berth: cannot start:", err=True)
            for o in failed:
                click.echo(f"  - {o}", err=True)
            raise SystemExit(1)
    private_data_dir(settings)
    remember_served(settings)
    from berth.metrics import prepare_multiprocess_dir

    # Before any process of the server imports prometheus-client (it reads it at import).
    prepare_multiprocess_dir(settings.data_dir, os.environ)

    n_workers = workers or settings.workers
    click.echo(
        f"Berth registry at {settings.base_url}  (listening on {host}:{port}, "
        f"{n_workers} worker{'s' if n_workers != 1 else ''})"
    )
    if tls:
        click.echo(f"  tls:      {tls.cert} (valid until {tls.not_after:%Y-%m-%d})")
    click.echo(f"  data:     {settings.data_dir}")
    click.echo(f"  database: {_redact(settings.db_url)}")
    click.echo(f"  storage:  {settings.storage.driver} ({settings.storage.name})")
    bindir = Path(sys.executable).parent
    if shutil.which("berth") is None and (bindir / "berth").exists():
        click.echo(
            f"  commands: {bindir / 'berth'} (not on PATH: "
            f"source {bindir / 'activate'}, or add {bindir} to PATH)"
        )
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
            "ssl": [str(tls.cert.resolve()), str(tls.key.resolve())] if tls else None,
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
    hint = f"  log in:   podman login{tls} -u <user> {settings.server_hostname}"
    initial = settings.data_dir / "initial-admin-password"
    if initial.exists():
        hint += f"\n  admin:    the first start's superuser 'admin' has its password in {initial}"
    return hint


def _port_free_or_exit(host: str, port: int) -> None:
    """One clear line, not the server's traceback, when the address is taken."""
    import errno
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                reason = "is already in use (another berth serve?)"
            elif e.errno == errno.EACCES:
                reason = "needs privileges (ports below 1024)"
            else:
                reason = f"cannot be used: {e.strerror}"
            click.echo(
                f"berth: port {port} on {host} {reason}; choose another with --port", err=True
            )
            raise SystemExit(1) from None


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


config.add_command(config_init)


@config.command("validate")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--connect",
    is_flag=True,
    help="Also connect: database, storage (write, read, delete), Redis, SMTP, LDAP.",
)
def config_validate(file: str, connect: bool) -> None:
    """Check a config.yaml and report every problem at once."""
    try:
        settings = load_settings(file, env={}, persist_secrets=False)
    except ConfigError as e:
        click.echo(f"{file}: {len(e.problems)} problem{'s' if len(e.problems) != 1 else ''}")
        for problem in e.problems:
            click.echo(f"  - {problem}")
        _echo_unknown_keys(e.unknown_keys)
        raise SystemExit(1) from e
    failed = []
    if connect:
        outcomes = _connection_checks(settings, smtp_ldap=True)
        failed = [o for o in outcomes if not o.ok]
    if failed:
        click.echo(f"{file}: {len(failed)} problem{'s' if len(failed) != 1 else ''}")
    else:
        click.echo(f"{file}: OK")
    click.echo(f"  SERVER_HOSTNAME: {settings.server_hostname}")
    click.echo(f"  database:        {_redact(settings.db_url)}")
    click.echo(f"  storage:         {settings.storage.name} ({settings.storage.driver})")
    if connect:
        for o in outcomes:
            click.echo(f"  {'ok  ' if o.ok else 'FAIL'} {o}")
    _echo_unknown_keys(settings.unknown_keys)
    if failed:
        raise SystemExit(1)


def _connection_checks(settings: Settings, *, smtp_ldap: bool) -> list[Any]:
    """``berth.health.checks`` on the settings' database, storage and Redis (and, for
    ``config validate --connect``, the SMTP and LDAP servers the file names)."""
    from berth.health.checks import check_connections

    raw = _raw_config(settings.config_path) if smtp_ldap else {}
    return asyncio.run(
        check_connections(
            db_url=settings.db_url,
            storage_driver=settings.storage.driver,
            storage_args=settings.storage.args,
            redis_options=settings.cache_redis,
            raw=raw,
        )
    )


def _raw_config(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    import yaml

    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


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


# ---- backup and restore --------------------------------------------------------------------
@main.command("backup")
@click.argument("dest", type=click.Path(file_okay=False))
@config_options
def backup_cmd(dest: str, config: str | None, data_dir: str | None) -> None:
    """Back up the embedded default into DEST (a new directory), while the server runs."""
    from berth.backup import services as bk
    from berth.storage.factory import create_storage

    settings = cli_settings(config, data_dir)
    target = Path(dest).resolve()
    started = time.monotonic()

    async def blobs(digests: list[str]) -> int:
        source = create_storage(settings.storage.driver, settings.storage.args)
        out = create_storage("LocalStorage", {"storage_path": str(target / "storage")})
        try:
            return await bk.copy_blobs(source, out, digests, click.echo,
                                       what="vanished during the backup (garbage collection?): "
                                       "run the backup again")  # fmt: skip
        finally:
            await source.close()
            await out.close()

    try:
        digests = bk.snapshot(
            db_url=settings.db_url, data_dir=settings.data_dir, dest=target, progress=click.echo
        )
        total = asyncio.run(blobs(digests))
        bk.finish_backup(target, settings.data_dir, digests, total)
    except bk.BackupError as e:
        click.echo(f"berth: {e}", err=True)
        raise SystemExit(1) from e
    click.echo(f"backup: {target} ({len(digests)} blobs, {total} bytes, "
               f"{time.monotonic() - started:.1f} s)")  # fmt: skip


@main.command("restore")
@click.argument("src", type=click.Path(file_okay=False, exists=True))
@click.option("--force", is_flag=True, help="Replace the registry already in the data dir.")
@config_options
def restore_cmd(src: str, force: bool, config: str | None, data_dir: str | None) -> None:
    """Restore a backup of the embedded default into a data directory (stop its server)."""
    from berth.backup import services as bk
    from berth.storage.factory import create_storage

    settings = cli_settings(config, data_dir, locate=False)
    source = Path(src).resolve()
    local = (
        Path(str(settings.storage.args.get("storage_path")))
        if settings.storage.driver == "LocalStorage"
        else None
    )

    async def blobs(digests: list[str]) -> int:
        backed = create_storage("LocalStorage", {"storage_path": str(source / "storage")})
        storage = create_storage(settings.storage.driver, settings.storage.args)
        try:
            return await bk.copy_blobs(backed, storage, digests, click.echo,
                                       what="is missing from the backup")  # fmt: skip
        finally:
            await backed.close()
            await storage.close()

    try:
        digests = bk.prepare_restore(src=source, db_url=settings.db_url,
                                     data_dir=settings.data_dir, local_storage=local,
                                     force=force, progress=click.echo)  # fmt: skip
        total = asyncio.run(blobs(digests))
    except bk.BackupError as e:
        click.echo(f"berth: {e}", err=True)
        raise SystemExit(1) from e
    click.echo(f"restored into {settings.data_dir} ({len(digests)} blobs, {total} bytes)")


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


@admin.command("set-password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@config_options
def set_password(name: str, password_stdin: bool, config: str | None, data_dir: str | None) -> None:
    """Give a user a new password (a generated one unless --password-stdin): the way out of
    a forgotten password or a login back-off."""
    from berth.audit.services import Performer
    from berth.identity.errors import AccountError

    settings = cli_settings(config, data_dir)
    generated = not password_stdin
    password = secrets.token_urlsafe(18) if generated else sys.stdin.readline().rstrip("\r\n")

    async def work(svc: Services) -> bool:
        user = await svc.accounts.get_user(name)
        if user is None or user.kind != "user":
            return False
        await svc.accounts.update_user(
            user.id, password=password, performer=Performer(name, user.id)
        )
        return True

    try:
        found = run_with_services(settings, work)
    except AccountError as e:
        click.echo(f"berth: {e}", err=True)
        raise SystemExit(1) from e
    if not found:
        click.echo(f"berth: no user {name}", err=True)
        raise SystemExit(1)
    click.echo(f"new password set for {name}")
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
main.add_command(builds)


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
