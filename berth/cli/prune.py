"""``berth prune [--config F | --data-dir D] [--dry-run]``: run the auto-prune policies now.

The same pass the workers run on their schedule (safe while the server runs): every
repository some policy applies to, with a progress bar, then the tags deleted (or, with
``--dry-run``, the tags that would be) one per line.
"""

from __future__ import annotations

import asyncio
from email.utils import formatdate

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from berth.cli.common import cli_settings, config_options


@click.command("prune")
@config_options
@click.option("--dry-run", is_flag=True, help="Report what would be deleted; delete nothing.")
def prune(config: str | None, data_dir: str | None, dry_run: bool) -> None:
    """Run the auto-prune policies now and list the tags deleted."""
    from berth.policies.pruning import PrunedTag
    from berth.schema.migrate import upgrade
    from berth.services import create_services

    settings = cli_settings(config, data_dir)
    settings.data_dir.mkdir(parents=True, exist_ok=True)

    async def go() -> tuple[int, list[PrunedTag]]:
        await upgrade(settings.db_url)
        svc = create_services(settings)
        pruned: list[PrunedTag] = []
        try:
            targets = await svc.pruner.targets()
            columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
            with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
                bar = progress.add_task("pruning", total=len(targets))
                for target in targets:
                    repo = target.repository
                    progress.update(bar, description=f"{repo.namespace}/{repo.name}")
                    pruned += await svc.pruner.prune(target, dry_run=dry_run)
                    progress.advance(bar)
            return len(targets), pruned
        finally:
            await svc.close()

    checked, pruned = asyncio.run(go())
    verb = "would delete" if dry_run else "deleted"
    for tag in pruned:
        pushed = formatdate(tag.start_ts / 1000, usegmt=True)
        click.echo(
            f"{verb} {tag.namespace}/{tag.repository}:{tag.tag}  "
            f"(pushed {pushed}, policy {tag.policy}: {tag.reason})"
        )
    repos = len({(t.namespace, t.repository) for t in pruned})
    click.echo(
        f"{len(pruned)} tag{'s' if len(pruned) != 1 else ''} "
        f"{'would be deleted' if dry_run else 'deleted'} in {repos} "
        f"repositor{'ies' if repos != 1 else 'y'} ({checked} checked)"
    )
