"""``capstone vault``: create, inspect and verify the write-once vault."""

from __future__ import annotations

import sys
from typing import Any

import click

from capstone.access import ARCHIVIST, AUDITOR
from capstone.cli.access import authorize
from capstone.cli.context import AppContext, fail, pass_app, print_json
from capstone.services import open_vault
from vault import VaultError
from vault.verify import VerifyReport, verify_vault


@click.group(name="vault")
def group() -> None:
    """The write-once vault: blobs, provenance records and the manifest chain."""


@group.command("init")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_app
def init_command(app: AppContext, as_json: bool) -> None:
    """Create or validate the vault (bucket with Object Lock, or directory)."""
    authorize(app, "vault-init", ARCHIVIST)
    try:
        vault = open_vault(app.settings, create=True)
    except VaultError as exc:
        fail(str(exc))
    descriptor = vault.descriptor
    if as_json:
        print_json({"vault": vault.store.url, "worm": vault.worm, "descriptor": descriptor})
        return
    click.echo(f"Vault ready: {vault.store.url}")
    click.echo(f"  created:       {descriptor['created_at']}")
    click.echo(
        f"  write-once:    {'yes (server-enforced Object Lock, compliance mode)' if vault.worm else 'no'}"
    )
    caps = descriptor.get("capabilities", {})
    click.echo(f"  sha256 checks: {'server verifies' if caps.get('checksum_sha256') else 'client-side only'}")
    for note in vault.store.capabilities.notes:
        click.echo(f"  note: {note}")


def _human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"


@group.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_app
def stats_command(app: AppContext, as_json: bool) -> None:
    """Objects, bytes, records by kind and runs."""
    authorize(app, "vault-stats", ARCHIVIST, AUDITOR)
    try:
        vault = open_vault(app.settings)
        stats = vault.stats()
    except VaultError as exc:
        fail(str(exc))
    if as_json:
        print_json(stats)
        return
    print_stats(stats)


def print_stats(stats: dict[str, Any]) -> None:
    click.echo(f"Vault {stats['vault']}")
    click.echo(f"  write-once (WORM): {'yes' if stats['worm'] else 'NO - not WORM-certified'}")
    click.echo(f"  objects: {stats['objects']}  ({_human_bytes(stats['bytes'])})")
    for name, values in stats["by_prefix"].items():
        click.echo(f"    {name:<10} {values['objects']:>8}  {_human_bytes(values['bytes']):>10}")
    click.echo("  records by kind:")
    for kind, count in stats["records_by_kind"].items() or [("(none)", 0)]:
        click.echo(f"    {kind:<24} {count:>8}")
    click.echo("  runs (manifests) by kind:")
    for kind, count in stats["runs"].items() or [("(none)", 0)]:
        click.echo(f"    {kind:<24} {count:>8}")


def print_report(report: VerifyReport) -> None:
    click.echo(f"Verified vault {report.vault}")
    scope = f"a sample of {report.blobs_checked} of {report.blobs_total}" if report.sampled else "all"
    click.echo(f"  blobs re-hashed:    {scope} ({report.blobs_checked})")
    click.echo(f"  segments:           {report.segments} ({report.records} records)")
    click.echo(f"  manifests in chain: {report.manifests}")
    click.echo(f"  objects checked:    {report.checked}, ok: {report.ok}")
    click.echo(f"  corrupted:          {len(report.corrupted)}")
    for key in report.corrupted:
        click.echo(f"    {key}")
    click.echo(f"  missing:            {len(report.missing)}")
    for key in report.missing:
        click.echo(f"    {key}")
    click.echo(f"  chain breaks:       {len(report.chain_breaks)}")
    for brk in report.chain_breaks:
        click.echo(f"    #{brk['seq']} {brk['key']}: {brk['reason']}")
    click.echo(f"  records outside the chain: {len(report.unlisted)}")
    for entry in report.unlisted:
        click.echo(f"    {entry['record_id']} in {entry['segment']}: {entry['reason']}")
    if report.unreferenced_blobs:
        click.echo(f"  unreferenced blobs: {report.unreferenced_blobs} (stored, no record yet: harmless)")
    if report.second_versions:
        click.echo(
            f"  keys written twice: {len(report.second_versions)} (two writers raced; the oldest version counts)"
        )
        for entry in report.second_versions:
            click.echo(f"    {entry['key']}: {entry['versions']} versions")
    for run, count in report.in_progress.items():
        click.echo(f"  run in progress {run}: {count} records await its manifest")
    if report.records_after_snapshot:
        click.echo(
            f"  records written after the snapshot: {report.records_after_snapshot} (judged next time)"
        )
    click.echo("Result: " + ("ALL WELL" if report.all_well else "PROBLEMS FOUND"))


def _running_capture_runs(app: AppContext) -> set[str]:
    """Capture runs the state database holds open: a capture beside verify is still writing them.
    Without a readable state database none is known, and every unlisted record is reported."""
    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError

    from capstone.capture.tables import capture_runs
    from capstone.services import state_engine

    try:
        with state_engine(app.settings).connect() as conn:
            rows = conn.execute(select(capture_runs.c.run_id).where(capture_runs.c.status == "running"))
            return {str(row[0]) for row in rows}
    except (SQLAlchemyError, OSError):
        return set()


@group.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.option("--sample", type=click.IntRange(min=1), help="Re-hash only N randomly chosen blobs.")
@pass_app
def verify_command(app: AppContext, as_json: bool, sample: int | None) -> None:
    """Re-read objects, recompute SHA-256 and walk the manifest chain. Exit 0 only when all is well."""
    authorize(app, "vault-verify", ARCHIVIST, AUDITOR)
    try:
        vault = open_vault(app.settings)
    except VaultError as exc:
        fail(str(exc))
    progress: Any = None
    if sys.stderr.isatty() and not as_json:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        progress = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            transient=True,
        )

    def open_runs() -> set[str]:
        return _running_capture_runs(app)

    try:
        if progress is None:
            report = verify_vault(vault, sample=sample, runs_in_progress=open_runs)
        else:
            with progress:
                task = progress.add_task("verifying", total=None)

                def tick(done: int, total: int, key: str) -> None:
                    progress.update(task, completed=done, total=total)

                report = verify_vault(vault, sample=sample, progress=tick, runs_in_progress=open_runs)
    except VaultError as exc:
        fail(str(exc))
    if as_json:
        print_json(report.to_json())
    else:
        print_report(report)
    sys.exit(0 if report.all_well else 1)
