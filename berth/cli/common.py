"""What every subcommand shares: the --config/--data-dir options, settings with their
problems reported, and a run over the services of the composition root."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from berth.config import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from berth.services import Services

T = TypeVar("T")


def cli_settings(
    config: str | None, data_dir: str | None, env: dict[str, str] | None = None
) -> Settings:
    """The instance's settings; on a bad configuration, every problem and exit status 2."""
    merged = dict(os.environ)
    merged.update(env or {})
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


def run_with_services(settings: Settings, work: Callable[[Services], Awaitable[T]]) -> T:
    """Upgrade the schema, build the services (one connection), run ``work``, close."""
    from berth.schema.migrate import upgrade
    from berth.services import create_services

    settings.data_dir.mkdir(parents=True, exist_ok=True)

    async def go() -> T:
        await upgrade(settings.db_url)
        svc = create_services(settings, pool_size=1)
        try:
            return await work(svc)
        finally:
            await svc.close()

    return asyncio.run(go())
