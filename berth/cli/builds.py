"""``berth builds``: the build queue, and retrying a build that ended in an internal error.

  berth builds list [--config F | --data-dir D]
  berth builds retry UUID [--config F | --data-dir D]

``list`` shows the builds waiting or running, oldest first. ``retry`` queues an
``internalerror`` build again (a build whose worker was lost after its automatic retries).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from berth.cli.common import cli_settings, config_options, run_with_services

if TYPE_CHECKING:
    from berth.builds.types import BuildRecord
    from berth.services import Services


@click.group("builds")
def builds() -> None:
    """Dockerfile builds: the queue, and retrying internal errors."""


@builds.command("list")
@config_options
def list_builds(config: str | None, data_dir: str | None) -> None:
    """Show the builds waiting or running, oldest first."""

    async def work(svc: Services) -> list[BuildRecord]:
        assert svc.builds is not None
        return await svc.builds.running()

    rows = run_with_services(cli_settings(config, data_dir), work)
    if not rows:
        click.echo("no builds waiting or running")
    for b in rows:
        click.echo(
            f"{b.uuid}  {b.phase:<16} {b.namespace}/{b.repository}  {','.join(b.docker_tags)}"
        )


@builds.command("retry")
@config_options
@click.argument("build_uuid", metavar="UUID")
def retry_build(config: str | None, data_dir: str | None, build_uuid: str) -> None:
    """Queue an internalerror build again."""
    from berth.builds.errors import BuildError

    async def work(svc: Services) -> None:
        assert svc.builds is not None
        await svc.builds.retry(build_uuid, performer=None)

    try:
        run_with_services(cli_settings(config, data_dir), work)
    except BuildError as e:
        raise click.ClickException(e.message) from None
    click.echo(f"build {build_uuid} is queued again")
