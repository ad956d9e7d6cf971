"""``berth gc``: one garbage collection pass now, safe while servers and workers run.

  berth gc [--config F | --data-dir D] [--grace SECONDS] [--dry-run] [--batch-size N]

``--grace`` overrides, for this pass, the grace period protecting blobs uploaded,
re-uploaded or mounted but not yet referenced by a manifest (BERTH_GC_GRACE, one hour by
default); ``--grace 0`` collects everything unreferenced now. ``--dry-run`` changes nothing
and reports what a pass would free, per repository.
"""

from __future__ import annotations

import asyncio
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from berth.cli.common import cli_settings, config_options
from berth.durations import parse_duration


class _Duration(click.ParamType[int, Any]):
    name = "SECONDS"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        text = str(value).strip()
        try:
            seconds = int(text) if text.isdigit() else parse_duration(text)
        except ValueError:
            self.fail(f"{value!r} is not a number of seconds (or a duration like 30m, 1h)")
        return seconds


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _table(report: Any) -> Table:
    done = "to free" if report.dry_run else "freed"
    table = Table(title=f"Garbage collection ({'dry run' if report.dry_run else 'done'})")
    table.add_column("repository")
    for name in ("tags", "manifests", "links", "size released", f"blobs {done}", f"bytes {done}"):
        table.add_column(name, justify="right")
    for r in sorted(report.repositories, key=lambda r: r.repository):
        table.add_row(
            r.repository,
            str(r.tags),
            str(r.manifests),
            str(r.links),
            _size(r.released),
            str(r.blobs),
            str(r.freed),
        )
    table.add_section()
    table.add_row(
        "total",
        str(report.tags),
        str(report.manifests),
        str(report.links),
        "",
        str(report.blobs),
        str(report.freed),
    )
    return table


@click.command("gc")
@config_options
@click.option(
    "--grace",
    type=_Duration(),
    default=None,
    help="Grace period for unreferenced uploads, in seconds (default: BERTH_GC_GRACE, 1h).",
)
@click.option("--dry-run", is_flag=True, help="Change nothing; report what would be freed.")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=500,
    show_default=True,
    help="Rows deleted per transaction (smaller: shorter transactions, slower pass).",
)
def gc(
    config: str | None, data_dir: str | None, grace: int | None, dry_run: bool, batch_size: int
) -> None:
    """Collect garbage now: expired tags, unreferenced manifests and blobs, stale uploads."""
    from berth.schema.migrate import upgrade
    from berth.services import create_services

    settings = cli_settings(config, data_dir)
    err = Console(stderr=True)
    out = Console()

    async def go() -> Any:
        await upgrade(settings.db_url)
        svc = create_services(settings)
        svc.gc.batch_size = batch_size
        try:
            with Progress(
                TextColumn("{task.description:<13}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err,
                transient=False,
            ) as bar:
                tasks: dict[str, Any] = {}

                def progress(stage: str, done: int, total: int) -> None:
                    if stage not in tasks:
                        tasks[stage] = bar.add_task(stage, total=total)
                    bar.update(tasks[stage], completed=done, total=total)

                return await svc.gc.collect(grace_s=grace, dry_run=dry_run, progress=progress)
        finally:
            await svc.close()

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    report = asyncio.run(go())
    out.print(_table(report))
    verb = "would free" if dry_run else "freed"
    out.print(
        f"{verb} {report.manifests} manifests and {report.blobs} blobs "
        f"({report.freed} bytes, {_size(report.freed)}); "
        f"{'would purge' if dry_run else 'purged'} {report.uploads} upload sessions; "
        f"grace {report.grace_s}s; {report.seconds:.2f}s",
        soft_wrap=True,
    )
    if report.skipped:
        out.print(f"skipped (changed during the pass, retried next time): {report.skipped}")
