"""``capstone audit``: read, seal and verify the hash-chained audit log (role auditor)."""

from __future__ import annotations

import sys
from datetime import datetime

import click

from capstone.access import AccessDenied
from capstone.cli.context import AppContext, fail, pass_app, print_json
from vault import VaultError


@click.group("audit")
def group() -> None:
    """The append-only audit log of every search, view and export."""


def _service(app: AppContext):  # type: ignore[no-untyped-def]
    from capstone.woo.service import WooService

    try:
        return WooService(app.settings)
    except ValueError as exc:
        fail(str(exc))


@group.command("show")
@click.option("--case", "ref", default=None, help="Only this Woo case.")
@click.option("--user", default=None, help="Only this user's entries.")
@click.option(
    "--from", "since", type=click.DateTime(["%Y-%m-%d"]), default=None, help="On or after this day (UTC)."
)
@click.option(
    "--to", "until", type=click.DateTime(["%Y-%m-%d"]), default=None, help="On or before this day (UTC)."
)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def show(
    app: AppContext,
    ref: str | None,
    user: str | None,
    since: datetime | None,
    until: datetime | None,
    as_json: bool,
) -> None:
    """The entries, oldest first."""
    try:
        entries = _service(app).audit_entries(
            ref, actor=user, since=since.date() if since else None, until=until.date() if until else None
        )
    except AccessDenied as exc:
        fail(f"refused: {exc}", code=3)
    except ValueError as exc:
        fail(str(exc))
    if as_json:
        print_json(entries)
        return
    for e in entries:
        click.echo(f"{e['seq']:>6} {e['at'][:19]} {e['actor']:<12} {e['role'] or '-':<12} {e['action']:<14} "
                   f"{e['case_ref'] or '-':<14} {e['outcome']}")  # fmt: skip


@group.command("seal")
@pass_app
def seal(app: AppContext) -> None:
    """Seal the entries since the last seal into the write-once vault."""
    service = _service(app)
    try:
        through = service.audit_seal()
    except AccessDenied as exc:
        fail(f"refused: {exc}", code=3)
    except VaultError as exc:
        fail(str(exc), code=1)
    click.echo(f"sealed through entry {through}" if through else "nothing new to seal")
    tsa = service.audit.timestamper
    if through:
        click.echo(
            f"timestamp requested from {tsa.url}" if tsa else
            "no trusted timestamp: no timestamp authority is configured (CAPSTONE_TSA_URL)"
        )  # fmt: skip


@group.command("verify")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def verify(app: AppContext, as_json: bool) -> None:
    """Recompute the chain and compare it with the seals in the vault; exit 1 on any difference."""
    try:
        report = _service(app).audit_verify()
    except AccessDenied as exc:
        fail(f"refused: {exc}", code=3)
    except VaultError as exc:
        fail(str(exc), code=1)
    if as_json:
        print_json(report.to_json())
    else:
        for problem in report.problems:
            click.echo(f"PROBLEM: {problem}")
        for note in report.notes:
            click.echo(f"NOTE: {note}")
        click.echo(f"{report.entries} entries, {report.seals} seal(s) through entry {report.sealed_through} "
                   f"({report.timestamped} with a verified timestamp), head anchored in the vault at entry "
                   f"{report.anchored_through}: "
                   + ("ALL WELL" if report.ok else f"first bad entry {report.first_bad_seq}"))  # fmt: skip
    if not report.ok:
        sys.exit(1)
