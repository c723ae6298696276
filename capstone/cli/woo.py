"""``capstone woo``: Woo cases, case-bound search, export with inventarislijst, export verification."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from capstone.access import AccessDenied
from capstone.cli.context import AppContext, fail, pass_app, print_json
from capstone.index.analysis import QuerySyntaxError
from capstone.index.model import DocumentKind, SearchQuery
from capstone.woo.cases import CaseError, UnknownCaseError, WooCase
from vault import VaultError

if TYPE_CHECKING:
    from capstone.woo.service import DocumentView

T = TypeVar("T")


def woo_service(app: AppContext) -> Any:
    from capstone.woo.service import WooService

    try:
        return WooService(app.settings)
    except ValueError as exc:
        fail(str(exc))


def _run(action: Callable[[], T]) -> T:
    """Refusals and bad input become a clear error and exit code 2 (refusals are already audited)."""
    try:
        return action()
    except (AccessDenied, UnknownCaseError) as exc:  # no such case: a refusal like the others
        fail(f"refused: {exc}", code=3)
    except (CaseError, QuerySyntaxError, FileExistsError, ValueError) as exc:
        fail(str(exc))
    except VaultError as exc:  # e.g. a segment missing from the vault: integrity, exit 1
        fail(str(exc), code=1)


def _print_case(case: WooCase) -> None:
    click.echo(f"{case.ref}  [{case.status}]  {case.subject}")
    click.echo(f"  ontvangen {case.received}   besluit uiterlijk {case.decision_due}   "
               f"verdaagd uiterlijk {case.extended_due}   zienswijze vragen uiterlijk {case.zienswijze_by}")  # fmt: skip
    click.echo(f"  behandelaars: {', '.join(case.officers)}")


@click.group("woo")
def group() -> None:
    """Woo-verzoeken: cases, search inside a case, export with inventarislijst."""


@group.group("case")
def case_group() -> None:
    """Open, list, show, assign and close Woo cases."""


def _scope_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--official / --designation (repeatable) and --from / --to: a case's scope."""
    for option in reversed(
        [
            click.option("--official", "officials", multiple=True, help="Official in scope (name in the registry)."),
            click.option("--designation", "designations", multiple=True, help="Designation id in scope."),
            click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), default=None,
                         help="First day of the period in scope."),
            click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), default=None,
                         help="Last day of the period in scope (inclusive)."),
        ]
    ):  # fmt: skip
        command = option(command)
    return command


def _day(value: Any) -> Any:
    return value.date() if value is not None else None


@case_group.command("open")
@click.option("--ref", required=True, help="Case reference, e.g. WOO-2026-014.")
@click.option(
    "--received", required=True, type=click.DateTime(["%Y-%m-%d"]), help="Date the request came in."
)
@click.option("--subject", required=True, help="What the request is about.")
@click.option("--requester", default=None, help="Who asked (optional).")
@_scope_options
@click.option("--json", "as_json", is_flag=True)
@pass_app
def case_open(
    app: AppContext,
    ref: str,
    received: Any,
    subject: str,
    requester: str | None,
    officials: tuple[str, ...],
    designations: tuple[str, ...],
    date_from: Any,
    date_to: Any,
    as_json: bool,
) -> None:
    """Open a case with its scope (at least one --official or --designation, optionally a period);
    you are assigned to it. Deadlines: 4 weeks, +2 weeks extension."""
    if not officials and not designations:
        fail("a case is opened with its scope: name at least one --official or --designation")
    woo = woo_service(app)
    scope = _run(
        lambda: woo.resolve_scope(
            officials=officials, designations=designations, date_from=_day(date_from), date_to=_day(date_to)
        )
    )
    case = _run(
        lambda: woo.open_case(
            ref=ref, received=received.date(), subject=subject, requester=requester, scope=scope
        )
    )
    if as_json:
        print_json(case.to_json() | {"scope": scope.to_json()})
    else:
        _print_case(case)
        click.echo(f"  scope: {scope.describe()}")


@case_group.command("widen")
@click.option("--case", "ref", required=True)
@_scope_options
@click.option("--reason", required=True, help="Why the scope is widened (kept in the audit log).")
@pass_app
def case_widen(
    app: AppContext,
    ref: str,
    officials: tuple[str, ...],
    designations: tuple[str, ...],
    date_from: Any,
    date_to: Any,
    reason: str,
) -> None:
    """Widen a case's scope: add officials/designations, move --from earlier or --to later (or set
    the first scope of a case opened without one). Audited with the scope before and after."""
    woo = woo_service(app)
    current = _run(lambda: woo.case_scope(ref))
    added = _run(
        lambda: woo.resolve_scope(
            officials=officials or (current.officials if current else ()),
            designations=designations,
            date_from=_day(date_from),
            date_to=_day(date_to),
        )
    )
    if current is not None:
        from capstone.woo.scope import CaseScope

        new_from = _day(date_from) if date_from is not None else current.date_from
        new_to = _day(date_to) if date_to is not None else current.date_to
        added = CaseScope(
            officials=tuple(dict.fromkeys(current.officials + added.officials)),
            designations=tuple(dict.fromkeys(current.designations + added.designations)),
            date_from=new_from,
            date_to=new_to,
        )
    scope = _run(lambda: woo.widen_case(ref, added, reason=reason))
    click.echo(f"{ref}: scope widened to {scope.describe()}")


@case_group.command("list")
@click.option("--status", type=click.Choice(["open", "closed"]), default=None)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def case_list(app: AppContext, status: str | None, as_json: bool) -> None:
    """Every case with its deadlines."""
    woo = woo_service(app)
    cases = _run(lambda: woo.list_cases(status))
    if as_json:
        print_json([c.to_json() for c in cases])
        return
    if not cases:
        click.echo("no Woo cases")
    for case in cases:
        _print_case(case)


@case_group.command("show")
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def case_show(app: AppContext, ref: str, as_json: bool) -> None:
    """One case."""
    woo = woo_service(app)
    case = _run(lambda: woo.case(ref))
    scope = _run(lambda: woo.case_scope(ref))
    if as_json:
        print_json(case.to_json() | {"scope": scope.to_json() if scope else None})
        return
    _print_case(case)
    click.echo(f"  scope: {scope.describe() if scope else 'none recorded (set it with woo case widen)'}")


@case_group.command("assign")
@click.option("--case", "ref", required=True)
@click.option("--officer", required=True, help="User name of the Woo officer to add.")
@pass_app
def case_assign(app: AppContext, ref: str, officer: str) -> None:
    """Assign another Woo officer to a case you are assigned to."""
    woo = woo_service(app)
    _print_case(_run(lambda: woo.assign(ref, officer)))


@case_group.command("close")
@click.argument("ref")
@pass_app
def case_close(app: AppContext, ref: str) -> None:
    """Close a case: no more searches or exports in it."""
    woo = woo_service(app)
    _print_case(_run(lambda: woo.close_case(ref)))


def _query(text: str, official: tuple[str, ...], account: tuple[str, ...], date_from: Any, date_to: Any,
           folder: str | None, sender: str | None, recipient: str | None, has_attachment: bool | None,
           kind: tuple[str, ...], limit: int) -> SearchQuery:  # fmt: skip
    kinds: tuple[DocumentKind, ...] = tuple(kind)  # type: ignore[arg-type]
    return SearchQuery(
        text=text, officials=official, accounts=account,
        date_from=date_from.date() if date_from else None, date_to=date_to.date() if date_to else None,
        folder=folder, sender=sender, recipient=recipient, has_attachment=has_attachment, kinds=kinds, limit=limit,
    )  # fmt: skip


def _filters(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--official", multiple=True, help="Key official (name or designation id); repeatable."),
        click.option("--account", multiple=True, help="Source mailbox / Teams account; repeatable."),
        click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), help="From this day."),
        click.option(
            "--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), help="Up to and including this day."
        ),
        click.option("--folder", help="Folder path prefix, e.g. Inbox/Projecten."),
        click.option("--sender", help="Sender: an address (matched exactly) or a name (its words in order)."),
        click.option(
            "--recipient",
            help="Recipient (to, cc, bcc, chat participant): an address or a name, as --sender.",
        ),
        click.option("--has-attachment/--no-attachment", default=None),
        click.option(
            "--kind",
            multiple=True,
            type=click.Choice(
                ["mail", "attachment", "chat-message", "event", "contact", "task", "item", "phone-chat"]
            ),
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@group.command("search")
@click.option("--case", "ref", default=None, help="The open Woo case this search belongs to (required).")
@click.argument("text")
@_filters
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 500))
@click.option("--json", "as_json", is_flag=True)
@pass_app
def search(app: AppContext, /, ref: str | None, text: str, limit: int, as_json: bool, **filters: Any) -> None:
    """Search the archive inside a Woo case: Dutch-aware ("gemeenten" finds "gemeente"), with
    "exact phrases", OR, -exclusion and prefix*."""
    woo = woo_service(app)
    query = _query(text, limit=limit, **filters)
    result = _run(lambda: woo.search(ref, query))
    if as_json:
        print_json(
            {
                "case": ref,
                "total": result.total,
                "metadata_only": result.metadata_only,
                "hits": [h.__dict__ for h in result.hits],
            }
        )
        return
    click.echo(
        f"{result.total} treffer(s) in {ref}"
        + (f"; de eerste {len(result.hits)}" if result.total > len(result.hits) else "")
    )
    if result.metadata_only:
        click.echo(
            f"Let op: {result.metadata_only} item(s) binnen deze filters zijn alleen op metadata doorzocht "
            "(inhoud in een gesloten exportformaat, zoals het online archief): "
            f'bekijk ze met --kind item en zonder zoekterm ("")'
        )
    for hit in result.hits:
        day = hit.date.date().isoformat() if hit.date else "----------"
        dup = f"  [{hit.duplicates}x: {hit.duplicate_key[:40]}]" if hit.duplicates > 1 else ""
        click.echo(f"{day}  {hit.kind:<12} {hit.official or '-'} <{hit.account}> {hit.folder_path}{dup}")
        click.echo(f"            {hit.title}")
        click.echo(f"            {hit.snippet}")


@group.command("view")
@click.option("--case", "ref", default=None, help="The open Woo case (required).")
@click.argument("doc_id")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def view(app: AppContext, /, ref: str | None, doc_id: str, as_json: bool) -> None:
    """Read one document of a search's hits (DOC_ID from `woo search --json`): headers, text,
    attachments and the other mailboxes holding the same mail. Audited like a search."""
    woo = woo_service(app)
    shown = _run(lambda: woo.view(ref, doc_id))
    if as_json:
        print_json(shown.to_json())
        return
    print_view(shown)


def print_view(shown: DocumentView, *, body_chars: int | None = None) -> None:
    d = shown.document
    lines = [
        ("Soort", d.kind),
        ("Datum", d.date.isoformat() if d.date else "-"),
        ("Sleutelfunctionaris", d.official or "-"),
        ("Bron", f"{d.account} ({d.mailbox_kind}) / {d.folder_path}"),
        ("Van", d.sender),
        ("Aan", "; ".join(d.to)),
        ("Cc", "; ".join(d.cc)),
        ("Bcc", "; ".join(d.bcc)),
        ("Onderwerp", d.subject or d.filename),
        ("Deelnemers", "; ".join(d.participants)),
        ("Vault-record", f"{d.record_id}  sha256:{d.blob_sha256 or '-'}"),
    ]
    for label, value in lines:
        if value:
            click.echo(f"{label + ':':<21}{value}")
    for attachment in shown.attachments:
        click.echo(f"{'Bijlage:':<21}{attachment.filename}  ({attachment.media_type}, {attachment.size} bytes)"
                   f"  {attachment.doc_id}")  # fmt: skip
    for copy in shown.duplicates:
        click.echo(f"{'Ook in:':<21}{copy.account} / {copy.folder_path}  {copy.doc_id}")
    for other in shown.related:  # same Message-ID, other bytes: a document of its own
        click.echo(f"{'Gerelateerd:':<21}{other.account} / {other.folder_path}  {other.doc_id}")
    for note in d.notes:
        click.echo(f"{'Let op:':<21}{note}")
    click.echo("")
    body = d.body if body_chars is None or len(d.body) <= body_chars else d.body[:body_chars] + " [...]"
    click.echo(body)


@group.command("export")
@click.option("--case", "ref", default=None, help="The open Woo case (required).")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="A new, empty directory.")
@click.option(
    "--query", "text", default=None, help="Export this search; default: every search made in the case."
)
@_filters
@click.option("--json", "as_json", is_flag=True)
@pass_app
def export(
    app: AppContext, /, ref: str | None, out: Path, text: str | None, as_json: bool, **filters: Any
) -> None:
    """Export the case's documents: originals (EML, chat JSON), attachments, HTML renditions,
    inventarislijst.csv/.xlsx and a manifest with every file's SHA-256."""
    woo = woo_service(app)
    query = _query(text, limit=500, **filters) if text is not None else None
    progress: Callable[[int], None] | None = None
    if sys.stderr.isatty() and not as_json:

        def progress(n: int) -> None:
            click.echo(f"\r{n} document(s) exported", nl=False, err=True)

    report = _run(lambda: woo.export(ref, out, query, on_document=progress))
    if progress is not None:
        click.echo("", err=True)
    if as_json:
        print_json(report.to_json())
        return
    for folder in report.stale_removed:
        click.echo(f"removed the partial folder of an export that was killed: {folder}")
    click.echo(
        f"{report.documents} document(s), {report.duplicates} dubbel, {len(report.files)} file(s) in {out}"
    )
    click.echo(f"inventarislijst: {out / 'inventarislijst.xlsx'} (and .csv)")
    click.echo(f"check it any time: capstone woo verify-export {out}")


@group.command("verify-export")
@click.argument("directory", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--json", "as_json", is_flag=True)
@pass_app
def verify_export_cmd(app: AppContext, directory: Path, as_json: bool) -> None:
    """Check an export or a publication package against its manifest and the vault (a package also
    against the Woo platform's rules for its productierapport); exit 1 when anything differs."""
    from capstone.woo.package import is_package

    if is_package(directory):
        from capstone.cli.woo_review import verify_package_cli

        verify_package_cli(app, directory, as_json)
        return
    woo = woo_service(app)
    check = _run(lambda: woo.verify_export(directory))
    if as_json:
        print_json(check.to_json())
    else:
        for problem in check.problems:
            click.echo(f"PROBLEM: {problem}")
        click.echo(
            f"{check.files} file(s) checked: "
            + ("ALL WELL" if check.ok else f"{len(check.problems)} problem(s)")
        )
    if not check.ok:
        sys.exit(1)
