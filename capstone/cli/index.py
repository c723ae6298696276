"""``capstone index``: build and inspect the search index (derived from the vault alone).

Searching is done inside a Woo case (``capstone woo search --case``), never here: this group only
maintains the index.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from capstone.access import ARCHIVIST, AUDITOR, WOO_OFFICER
from capstone.cli.access import authorize
from capstone.cli.context import AppContext, fail, pass_app, print_json
from capstone.index import IndexOutdatedError, SearchIndex, open_index
from capstone.index.indexer import IndexReport, rebuild_index, update_index
from capstone.services import open_vault
from vault import VaultError


@click.group(name="index")
def group() -> None:
    """The search index over the vault: rebuild, update, stats (search is per Woo case)."""


def _open(app: AppContext) -> SearchIndex:
    try:
        return open_index(app.settings.search_index_url)
    except Exception as exc:
        fail(f"cannot open the search index: {exc}")


def _target(app: AppContext) -> str:
    url = app.settings.search_index_url
    if url.startswith("sqlite"):
        return url
    return url.split("://", 1)[0] + "://" + url.rsplit("@", 1)[-1]  # no credentials on screen


def _run(app: AppContext, as_json: bool, rebuild: bool, workers: int | None) -> None:
    try:
        vault = open_vault(app.settings)
    except VaultError as exc:
        fail(str(exc))
    index = _open(app)
    from capstone.index import sandbox

    sandbox.configure_from_settings(app.settings)  # per-attachment time and memory limits
    action = rebuild_index if rebuild else update_index
    progress: Any = None
    if sys.stderr.isatty() and not as_json:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        progress = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            "{task.fields[docs]:,} documents",
            TimeRemainingColumn(),
            transient=True,
        )
    try:
        if progress is None:
            report = action(vault, index, workers=workers)
        else:
            with progress:
                task = progress.add_task("indexing segments", total=None, docs=0)

                def tick(current: IndexReport) -> None:
                    progress.update(
                        task,
                        completed=current.segments_done,
                        total=current.segments_total,
                        docs=current.documents,
                    )

                report = action(vault, index, progress=tick, workers=workers)
    except (VaultError, IndexOutdatedError) as exc:
        fail(str(exc))
    finally:
        index.close()
        vault.close()
    if as_json:
        print_json({"index": _target(app), **report.to_json()})
        return
    what = "Rebuilt" if rebuild else "Updated"
    click.echo(f"{what} search index {_target(app)} in {report.seconds:.1f} s")
    click.echo(
        f"  records: {report.records_indexed:,} indexed, {report.records_skipped:,} already indexed, "
        f"{report.records_failed:,} unreadable (retried next time)"
    )
    click.echo(f"  documents written: {report.documents:,} ({report.notes:,} with extraction notes)")
    if report.records_indexed and report.seconds > 0:
        click.echo(f"  rate: {report.records_indexed / report.seconds:,.0f} records/s")
    if report.records_failed:
        sys.exit(1)


_WORKERS = click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=None,
    help="Processes extracting text while this one writes the index (0: none; default: one per "
    "spare core, at most 4, for a large build).",
)


@group.command("rebuild")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@_WORKERS
@pass_app
def rebuild_command(app: AppContext, as_json: bool, workers: int | None) -> None:
    """Clear the index and index the whole vault again."""
    authorize(app, "index-rebuild", ARCHIVIST)
    _run(app, as_json, rebuild=True, workers=workers)


@group.command("update")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@_WORKERS
@pass_app
def update_command(app: AppContext, as_json: bool, workers: int | None) -> None:
    """Index what the vault holds and the index does not (a capture run does this by itself)."""
    authorize(app, "index-update", ARCHIVIST)
    _run(app, as_json, rebuild=False, workers=workers)


@group.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_app
def stats_command(app: AppContext, as_json: bool) -> None:
    """Documents by kind, records and segments indexed, duplicate groups, size."""
    authorize(app, "index-stats", ARCHIVIST, WOO_OFFICER, AUDITOR)
    index = _open(app)
    try:
        stats = index.stats()
        completed = index.completed_at()
    finally:
        index.close()
    if as_json:
        print_json(
            {"index": _target(app), "completed_at": completed.isoformat() if completed else None, **stats}
        )
        return
    click.echo(f"Search index {_target(app)}")
    if completed is None:
        click.echo("  NOT COMPLETE: a build has not finished (Woo searches are refused until `index update`)")
    else:
        click.echo(
            f"  complete: the last pass over the whole vault finished {completed:%Y-%m-%d %H:%M:%S} UTC"
        )
    click.echo(f"  documents: {stats.get('documents', 0):,}")
    for key, value in sorted(stats.items()):
        if key.startswith("documents_"):
            click.echo(f"    {key.removeprefix('documents_'):<14} {value:>10,}")
    click.echo(f"  records indexed:  {stats.get('records', 0):,}")
    click.echo(f"  vault segments:   {stats.get('segments', 0):,}")
    click.echo(f"  duplicate groups: {stats.get('duplicate_groups', 0):,}")
    if "bytes" in stats:
        click.echo(f"  size:             {stats['bytes'] / 1e6:,.1f} MB")
