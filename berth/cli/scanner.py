"""``berth scanner``: the vulnerability database of the embedded scanner.

  berth scanner import PATH [--config F | --data-dir D]
  berth scanner status [--config F | --data-dir D] [--json]
  berth scanner update [--config F | --data-dir D] [--force]
  berth scanner sbom NAMESPACE/REPO@DIGEST [--format spdx|cyclonedx] [-o FILE]

``import`` reads unmodified upstream data (an OSV ``all.zip`` or folder of OSV files, the
Debian security tracker JSON, an Alpine secdb file, or a bundle of them with a
``manifest.json`` and checksums), writes a new database generation and swaps it in; safe
while servers run (they pick the new generation up on their next match). A refused input
changes nothing and exits with status 1.
"""

from __future__ import annotations

import asyncio
import datetime
import json

import click

from berth.cli.common import cli_settings, config_options
from berth.outbound import OutboundClients
from berth.scanner import updater, vulndb
from berth.scanner.errors import ImportRefused


@click.group("scanner")
def scanner() -> None:
    """Security scanner: import vulnerability data, show what is loaded."""


@scanner.command("import")
@config_options
@click.argument("path", type=click.Path(exists=True))
def scanner_import(config: str | None, data_dir: str | None, path: str) -> None:
    """Import vulnerability data from PATH (a file, a folder or a bundle)."""
    settings = cli_settings(config, data_dir)
    try:
        result = vulndb.import_path(settings.scanner.db_dir, path)
    except ImportRefused as e:
        click.echo(f"berth: import refused: {e.reason}", err=True)
        click.echo("the loaded vulnerability database is unchanged", err=True)
        raise SystemExit(1) from e
    click.echo(
        f"imported {result.advisories} advisories from {', '.join(result.sources)}: "
        f"generation {result.generation}, {result.changed_keys} packages with changed advisories"
    )


@scanner.command("update")
@config_options
@click.option("--force", is_flag=True, help="Import even if no file changed since the last update.")
def scanner_update(config: str | None, data_dir: str | None, force: bool) -> None:
    """Fetch BERTH_SCANNER_UPDATE_SOURCES through the outbound client and import them."""
    settings = cli_settings(config, data_dir)

    async def run() -> updater.UpdateResult:
        clients = OutboundClients(settings.outbound)
        try:
            return await updater.update(
                clients.client(), settings.scanner.update_sources, settings.scanner.db_dir,
                force=force,
            )  # fmt: skip
        finally:
            await clients.aclose()

    try:
        outcome = asyncio.run(run())
    except ImportRefused as e:
        click.echo(f"berth: update refused: {e.reason}", err=True)
        click.echo("the loaded vulnerability database is unchanged", err=True)
        raise SystemExit(1) from e
    if not outcome.imported or outcome.result is None:
        click.echo(f"up to date: {len(outcome.files)} sources unchanged since the last update")
        return
    r = outcome.result
    click.echo(
        f"imported {r.advisories} advisories from {', '.join(r.sources)}: "
        f"generation {r.generation}, {r.changed_keys} packages with changed advisories"
    )


@scanner.command("sbom")
@config_options
@click.argument("reference")
@click.option(
    "--format", "fmt", type=click.Choice(["spdx", "cyclonedx"]), default="spdx", show_default=True
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the SBOM to this file (default: standard output).",
)
def scanner_sbom(
    config: str | None, data_dir: str | None, reference: str, fmt: str, output: str | None
) -> None:
    """The SBOM of a scanned manifest, REFERENCE being NAMESPACE/REPO@sha256:..."""
    from berth.registry.errors import ManifestUnknown, NameInvalid
    from berth.registry.repositories import parse_repo_name
    from berth.services import create_services

    settings = cli_settings(config, data_dir)
    name, sep, digest = reference.partition("@")
    if not sep or ":" not in digest:
        raise click.UsageError("REFERENCE is NAMESPACE/REPO@sha256:<hex>")
    try:
        repo_name = parse_repo_name(name, library=None)
    except NameInvalid as e:
        raise click.UsageError(f"bad repository {name!r}") from e

    async def go() -> tuple[str, dict[str, object] | None]:
        svc = create_services(settings)
        try:
            repo = await svc.registry.find(repo_name)
            if repo is None:
                raise click.ClickException(f"no repository {name}")
            try:
                await svc.registry.details.get(repo, digest)
            except ManifestUnknown as e:
                raise click.ClickException(f"no manifest {digest} in {name}") from e
            return await svc.scanner.sbom(
                digest, fmt, repository=f"{repo.namespace}/{repo.name}",
                registry=settings.server_hostname,
            )  # fmt: skip
        finally:
            await svc.close()

    status, doc = asyncio.run(go())
    if doc is None:
        raise click.ClickException(f"no SBOM: the manifest's scan is {status}")
    text = json.dumps(doc, indent=1)
    if output:
        with open(output, "w") as f:
            f.write(text + "\n")
    else:
        click.echo(text)


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@scanner.command("status")
@config_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def scanner_status(config: str | None, data_dir: str | None, as_json: bool) -> None:
    """What the vulnerability database holds: generation, sources, dates, counts."""
    settings = cli_settings(config, data_dir)
    st = vulndb.status(settings.scanner.db_dir)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "enabled": settings.scanner.enabled,
                    "generation": st.generation,
                    "imported_at": st.imported_at,
                    "path": st.path,
                    "advisories": st.advisories,
                    "affected": st.affected,
                    "sources": st.sources,
                },
                indent=2,
            )
        )
        return
    state = "enabled" if settings.scanner.enabled else "disabled"
    click.echo(f"scanner:     {state} (FEATURE_SECURITY_SCANNER)")
    if st.path is None:
        click.echo("database:    none imported yet (berth scanner import PATH)")
        return
    click.echo(f"database:    generation {st.generation}, imported {_when(st.imported_at)}")
    click.echo(f"             {st.path}")
    click.echo(f"advisories:  {st.advisories} ({st.affected} affected-package rows)")
    for s in st.sources:
        click.echo(
            f"  {s['name']:<28} {s['format']:<15} {s['advisories']:>8}  "
            f"{_when(s['imported_at'])}  from {s['origin']}"
        )
