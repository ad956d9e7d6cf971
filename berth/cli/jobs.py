"""``berth jobs``: show the background jobs and revive dead ones.

  berth jobs list [--state queued|running|done|dead] [--kind K] [--limit N]
                  [--config F | --data-dir D]
  berth jobs retry ID [--config F | --data-dir D]

``list`` shows the newest jobs first: id, kind, lane, state, attempts of the maximum, when it
is due (or finished) and the last error. ``retry`` puts a dead (or waiting) job back in the
queue, due now, its attempts reset; a running or finished job is left alone.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.table import Table

from berth.cli.common import cli_settings, config_options, run_with_services
from berth.jobs.models import STATES

if TYPE_CHECKING:
    from berth.jobs import JobRow
    from berth.services import Services

ERROR_WIDTH = 60


def _when(ms: int | None) -> str:
    if ms is None:
        return ""
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _error(text: str | None) -> str:
    line = " ".join((text or "").split())
    return line if len(line) <= ERROR_WIDTH else line[: ERROR_WIDTH - 1] + "…"


def _table(rows: list[JobRow], title: str) -> Table:
    table = Table(title=title)
    table.add_column("id", justify="right")
    for name in ("kind", "lane", "state"):
        table.add_column(name)
    table.add_column("attempts", justify="right")
    table.add_column("run at / finished (UTC)")
    table.add_column("last error", overflow="fold")
    for r in rows:
        when = _when(r.finished_at) if r.state in ("done", "dead") else _when(r.run_at)
        table.add_row(
            str(r.id),
            r.kind,
            r.lane,
            r.state,
            f"{r.attempts}/{r.max_attempts}",
            when,
            _error(r.last_error),
        )
    return table


@click.group("jobs")
def jobs() -> None:
    """Background jobs: list them, revive dead ones."""


@jobs.command("list")
@config_options
@click.option("--state", type=click.Choice(STATES), default=None, help="Only jobs in this state.")
@click.option("--kind", default=None, help="Only jobs of this kind (e.g. collect_garbage).")
@click.option(
    "--limit", type=click.IntRange(min=1), default=50, show_default=True, help="Newest N jobs."
)
def list_jobs(
    config: str | None, data_dir: str | None, state: str | None, kind: str | None, limit: int
) -> None:
    """Show the newest jobs, optionally of one state or kind."""
    settings = cli_settings(config, data_dir)

    async def work(svc: Services) -> list[JobRow]:
        return await svc.jobs.list(state=state, kind=kind, limit=limit)

    rows = run_with_services(settings, work)
    out = Console(width=160)
    if not rows:
        out.print(
            "no jobs"
            + (f" in state {state}" if state else "")
            + (f" of kind {kind}" if kind else "")
        )
        return
    out.print(_table(rows, f"Jobs ({state or 'all states'}, newest first)"))


@jobs.command("retry")
@config_options
@click.argument("job_id", metavar="ID", type=int)
def retry_job(config: str | None, data_dir: str | None, job_id: int) -> None:
    """Put a dead (or waiting) job back in the queue, due now, attempts reset."""
    from berth.jobs import JobNotFound, JobNotRetryable

    settings = cli_settings(config, data_dir)

    async def work(svc: Services) -> None:
        await svc.jobs.retry(job_id)

    try:
        run_with_services(settings, work)
    except JobNotFound:
        raise click.ClickException(f"there is no job {job_id}") from None
    except JobNotRetryable as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"job {job_id} is queued again")
