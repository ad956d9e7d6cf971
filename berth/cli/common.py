"""What every subcommand shares: the --config/--data-dir options, settings with their
problems reported, and a run over the services of the composition root."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from berth.config import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from berth.services import Services

T = TypeVar("T")


DEFAULT_DATA_DIR = "berth-data"
LOCATE_HELP = (
    "say which registry: --config FILE or --data-dir DIR "
    "(or BERTH_CONFIG / BERTH_DATA_DIR in the environment)"
)


def state_file(env: Mapping[str, str] | None = None) -> Path:
    """Where ``berth serve`` notes the registry it serves, for the commands run elsewhere."""
    env = os.environ if env is None else env
    base = env.get("XDG_STATE_HOME") or str(
        Path(env.get("HOME", "~")).expanduser() / ".local/state"
    )
    return Path(base) / "berth" / "last-serve.json"


def remember_served(settings: Settings) -> None:
    """Note the registry ``berth serve`` runs (its config file or data directory)."""
    path = state_file()
    record = {
        "config": str(settings.config_path) if settings.config_path else None,
        "data_dir": str(settings.data_dir),
    }
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record) + "\n")


def locate_registry(
    config: str | None, data_dir: str | None, env: Mapping[str, str]
) -> tuple[str | None, str | None]:
    """The registry a command other than ``serve`` acts on.

    Given (``--config``, ``--data-dir``, BERTH_CONFIG, BERTH_DATA_DIR): that one. Otherwise
    ``./berth-data`` when a registry is there, else the one ``berth serve`` last ran (said
    on stderr). Nothing found: exit status 2 with how to say which, instead of creating an
    empty registry in the current directory.
    """
    config = config or env.get("BERTH_CONFIG") or None
    if config or data_dir or env.get("BERTH_DATA_DIR"):
        return config, data_dir
    if (Path(DEFAULT_DATA_DIR) / "berth.db").exists():
        return None, DEFAULT_DATA_DIR
    try:
        record = json.loads(state_file(env).read_text())
    except (OSError, ValueError):
        record = None
    if isinstance(record, dict):
        last_config, last_dir = record.get("config"), record.get("data_dir")
        if last_config and Path(last_config).is_file():
            click.echo(f"berth: using the registry berth serve last ran: --config {last_config}",
                       err=True)  # fmt: skip
            return str(last_config), None
        if last_dir and (Path(last_dir) / "berth.db").exists():
            click.echo(f"berth: using the registry berth serve last ran: --data-dir {last_dir}",
                       err=True)  # fmt: skip
            return None, str(last_dir)
    click.echo(
        f"berth: no registry found: ./{DEFAULT_DATA_DIR} holds none and berth serve has not "
        f"run one here; {LOCATE_HELP}",
        err=True,
    )
    raise SystemExit(2)


def cli_settings(
    config: str | None,
    data_dir: str | None,
    env: dict[str, str] | None = None,
    *,
    locate: bool = True,
) -> Settings:
    """The instance's settings; on a bad configuration, every problem and exit status 2.

    ``locate``: find the registry meant (``locate_registry``); ``berth serve`` passes False
    (it creates the embedded default where it is asked to)."""
    merged = dict(os.environ)
    merged.update(env or {})
    if locate:
        config, data_dir = locate_registry(config, data_dir, merged)
    elif config is None and merged.get("BERTH_CONFIG"):
        config = merged["BERTH_CONFIG"]
    try:
        return load_settings(config, data_dir=data_dir, env=merged)
    except ConfigError as e:
        click.echo("berth: the configuration has problems:", err=True)
        for problem in e.problems:
            click.echo(f"  - {problem}", err=True)
        raise SystemExit(2) from e


def config_options(f: Any) -> Any:
    """``--config FILE`` and ``--data-dir DIR``, as every subcommand takes them."""
    f = click.option(
        "--data-dir",
        "data_dir",
        type=click.Path(file_okay=False),
        default=None,
        help="Data directory of the embedded default (SQLite, blobs, secrets).",
    )(f)
    f = click.option(
        "--config",
        "config",
        type=click.Path(dir_okay=False),
        default=None,
        help="Quay-style config.yaml.",
    )(f)
    return f


def private_data_dir(settings: Settings) -> None:
    """The data directory and what Berth writes there readable by its owner only: the
    directory 0700, the database files 0600, and a umask of 077 for what comes next."""
    os.umask(0o077)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.data_dir.chmod(0o700)
    for name in ("berth.db", "berth.db-wal", "berth.db-shm"):
        with contextlib.suppress(FileNotFoundError):
            (settings.data_dir / name).chmod(0o600)


def run_with_services(settings: Settings, work: Callable[[Services], Awaitable[T]]) -> T:
    """Upgrade the schema, build the services (one connection), run ``work``, close."""
    from berth.schema.migrate import upgrade
    from berth.services import create_services

    private_data_dir(settings)

    async def go() -> T:
        await upgrade(settings.db_url)
        svc = create_services(settings, pool_size=1)
        try:
            return await work(svc)
        finally:
            await svc.close()

    return asyncio.run(go())
