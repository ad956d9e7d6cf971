"""The ``berth bench`` command (``python -m bench``; ``berth bench`` hands its arguments here)."""

from __future__ import annotations

from pathlib import Path

import click

from bench.runner import BenchOptions
from bench.runner import run_bench as _run_bench

__all__ = ["BenchOptions", "bench", "run_bench"]


def run_bench(options: BenchOptions) -> int:
    """Run the benchmark described by ``options``; returns the process exit status."""
    return _run_bench(options)


def _pair(
    _ctx: click.Context, _param: click.Parameter, value: str | None
) -> tuple[int, int] | None:
    if value is None:
        return None
    try:
        small, large = (int(v) for v in value.split(","))
    except ValueError as e:
        raise click.BadParameter("expected SMALL,LARGE, e.g. 1000,100000") from e
    if not 0 < small < large:
        raise click.BadParameter("expected 0 < SMALL < LARGE")
    return small, large


@click.command("bench")
@click.option(
    "--deployment",
    type=click.Choice(["embedded", "distributed"]),
    default="embedded",
    show_default=True,
    help="embedded: SQLite + filesystem; distributed: PostgreSQL + SeaweedFS S3 + Redis.",
)
@click.option("--quick", is_flag=True, help="Small smoke run (minutes); docs are not updated.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("bench-results"),
    show_default=True,
    help="Directory for <timestamp>.json.",
)
@click.option(
    "--docs/--no-docs",
    default=None,
    help="Regenerate docs/performance.md's table and docs/img/performance.svg "
    "(default: on for full runs and --from-json, off for --quick).",
)
@click.option(
    "--docs-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The docs directory to update (default: docs/ of this checkout).",
)
@click.option(
    "--from-json",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Measure nothing: re-report an earlier results file.",
)
@click.option(
    "--growth-tags",
    callback=_pair,
    default=None,
    metavar="SMALL,LARGE",
    help="Tag counts of the cost growth check (default 1000,100000; quick 100,2000).",
)
@click.option(
    "--growth-repos",
    callback=_pair,
    default=None,
    metavar="SMALL,LARGE",
    help="Repository counts of the cost growth check (default 1000,10000; quick 100,1000).",
)
@click.option("--skip-growth", is_flag=True, help="Skip the cost growth check.")
@click.option(
    "--skip-notify",
    is_flag=True,
    help="Skip push throughput with a webhook notification vs without.",
)
@click.option(
    "--logs-rows",
    callback=_pair,
    default=None,
    metavar="SMALL,LARGE",
    help="log_entries rows of the usage-logs check (default 10000,10000000; quick 10000,1000000).",
)
@click.option("--skip-logs", is_flag=True, help="Skip the usage-logs check.")
@click.option(
    "--skip-scan-backlog",
    is_flag=True,
    help="Skip push throughput while the scanner works off a backlog (bench/scan_backlog.py).",
)
@click.option(
    "--skip-quota",
    is_flag=True,
    help="Skip the quota (manifest PUT) and pull statistics (manifest GET) comparisons.",
)
@click.option(
    "--proxy",
    is_flag=True,
    help="Also time cold and warm pulls through Berth's proxy cache and distribution's "
    "pull-through mode (bench/proxy.py; results in the JSON).",
)
@click.option(
    "--mirror",
    is_flag=True,
    help="Also time a repository mirror's sync of N tags against skopeo sync "
    "(bench/mirror.py; results in the JSON).",
)
@click.option("--workers", type=int, default=None, help="berth serve --workers (default: its own).")
@click.option(
    "--regbench-arg",
    "regbench_args",
    multiple=True,
    help="Extra argument for regbench, repeatable (e.g. --regbench-arg=--reps=5).",
)
@click.option("--keep", is_flag=True, help="Keep the temporary directory (servers' data and logs).")
@click.option("--check", is_flag=True, help="Exit with status 1 when a target is missed.")
def bench(**kwargs: object) -> None:
    """Measure Berth against CNCF distribution side by side (regbench) on this machine."""
    raise SystemExit(run_bench(BenchOptions(**kwargs)))  # type: ignore[arg-type]
