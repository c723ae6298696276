"""``capstone registry``: the registry of key officials (sleutelfunctionarissen).

Every command first archives registry events the vault does not hold yet (after a crash or while
the vault was unreachable), so the vault's copy of the history heals itself.
"""

from __future__ import annotations

import dataclasses
import sys
import unicodedata
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy.exc import SQLAlchemyError

from capstone.access import AccessDenied
from capstone.cli.access import EXIT_DENIED, guard_for
from capstone.cli.context import AppContext, fail, pass_app, print_json
from capstone.cli.db import get_engine
from capstone.registry import (
    CaptureScope,
    Designation,
    Registry,
    RegistryError,
    RegistryEvent,
    settings_archive,
)
from capstone.registry.archive import events_in_vault
from capstone.registry.csvio import draft_from_cells, export_csv, export_json, public_entry, publication_csv
from capstone.registry.errors import FieldError, ValidationError
from capstone.registry.model import local_day
from capstone.registry.service import ArchiveStatus
from capstone.registry.validation import (
    clean_text,
    normalise_address,
    normalise_endpoint,
    normalise_object_id,
    normalise_upn,
    parse_category,
    parse_date,
    parse_optional_date,
)

T = TypeVar("T")


# -- plumbing --------------------------------------------------------------------------------------


def _report_archive(status: ArchiveStatus) -> None:
    if status.error:
        click.echo(
            f"capstone: warning: {status.pending} registry event(s) are recorded in the database but not yet "
            f"in the vault ({status.error}); the next registry command archives them",
            err=True,
        )


def open_registry_for(app: AppContext) -> Registry:
    """The registry of this invocation; archives pending events into the vault first."""
    registry = app._cache.get("registry")
    if isinstance(registry, Registry):
        return registry
    registry = Registry(get_engine(app), archive=settings_archive(app.settings), guard=guard_for(app))
    try:
        _report_archive(registry.archive_pending())
    except SQLAlchemyError as exc:
        fail(f"state database error: {exc}")
    app._cache["registry"] = registry
    return registry


def _run(action: Callable[[], T]) -> T:
    try:
        return action()
    except RegistryError as exc:
        fail(str(exc))
    except AccessDenied as exc:
        fail(f"refused: {exc}", code=EXIT_DENIED)
    except SQLAlchemyError as exc:
        fail(f"state database error: {exc}")


def _today() -> date:
    return local_day(datetime.now(UTC))


def _parse(action: Callable[..., T], *args: Any) -> T:
    try:
        return action(*args)
    except FieldError as exc:
        fail(str(exc))


def _moment(value: str | None, field: str) -> datetime | None:
    """``--as-of``: an ISO date-time (UTC when no offset is given) or a date (end of that day, NL)."""
    if value is None:
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day, datetime.max.time()).replace(tzinfo=local_tz())
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        fail(f"{field}: {value!r} is not a date-time (use YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][+01:00])")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def local_tz() -> Any:
    from capstone.registry.model import REGISTRY_TIMEZONE

    return REGISTRY_TIMEZONE


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A plain text table: columns padded to their widest cell."""
    widths = [_width(h) for h in headers]
    for row in rows:
        widths = [max(w, _width(c)) for w, c in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c + " " * (w - _width(c)) for c, w in zip(cells, widths, strict=True)).rstrip()

    click.echo(line(headers))
    click.echo(line(["-" * w for w in widths]))
    for row in rows:
        click.echo(line(row))


def _period(d: Designation) -> str:
    return f"{d.start_date.isoformat()} – {d.end_date.isoformat() if d.end_date else 'heden'}"


def _scope_text(scope: CaptureScope) -> str:
    parts = [p for p, on in (("mail", scope.mail), ("Teams-chats", scope.chats)) if on]
    history = "hele mailbox (ook van vóór de startdatum)" if scope.include_history else "vanaf de startdatum"
    return f"{' + '.join(parts)}; {history}"


def _write_output(text: str, output: str | None) -> None:
    if output is None or output == "-":
        click.echo(text, nl=not text.endswith("\n"))
        return
    Path(output).write_text(text, encoding="utf-8")
    click.echo(f"written to {output}", err=True)


# -- options shared by designate and correct ------------------------------------------------------

_TEXT_FIELDS = (
    ("name", "The official's name."),
    ("personnel_number", "Personnel number (optional)."),
    ("function", "Function title, e.g. Burgemeester."),
    ("organisation_unit", "Organisation unit."),
    ("category", "college, ambtelijke-top, griffier, compliance-officer, ombudsman, rekenkamer, overig."),
    ("start_date", "First day of the designation (YYYY-MM-DD)."),
    ("end_date", "Last day (inclusive); empty or 'open': open-ended."),
    ("deciding_body", "The body that decided (DT, college, SG...)."),
    ("decision_date", "Date of the decision."),
    ("decision_reference", "Reference (kenmerk) of the decision."),
    ("mail", "Primary SMTP address of the mailbox."),
    ("entra_object_id", "Entra ID object id (GUID), for Graph and Teams."),
    ("upn", "User principal name, for Graph and Teams."),
    ("exchange_endpoint", "On-premises Exchange endpoint reference."),
)


def designation_options(func: Callable[..., Any]) -> Callable[..., Any]:
    for name, help_text in reversed(_TEXT_FIELDS):
        func = click.option(f"--{name.replace('_', '-')}", name, default=None, help=help_text)(func)
    func = click.option(
        "--alias", "aliases", multiple=True, help="Further address of the mailbox (repeatable)."
    )(func)
    for flag, help_text in (
        ("mail", "Capture mail (default yes)."),
        ("chats", "Capture Teams chats (default yes)."),
        ("history", "Also capture mailbox content from before the start date (default yes)."),
    ):
        func = click.option(
            f"--capture-{flag}/--no-capture-{flag}", f"capture_{flag}", default=None, help=help_text
        )(func)
    return func


def _actor(app: AppContext) -> str:
    """Who makes a change: the CLI's identity (the OS user, or the administrator's configuration);
    there is no option to write another name into the history."""
    return guard_for(app).actor.name


def _json_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")(func)


def _yes(value: bool | None) -> str:
    return "" if value is None else ("yes" if value else "no")


# -- printing --------------------------------------------------------------------------------------


def print_designation(d: Designation) -> None:
    status = d.status_on(_today())
    rows: list[tuple[str, str]] = [
        ("Aanwijzing (id)", d.designation_id),
        ("Status", f"{status.label} ({status.value})"),
        ("Naam", d.name),
        ("Personeelsnummer", d.personnel_number or "-"),
        ("Functie", d.function),
        ("Organisatieonderdeel", d.organisation_unit),
        ("Categorie", f"{d.category.label} ({d.category.value})"),
        ("Periode", _period(d)),
        ("Besluit", f"{d.deciding_body}, {d.decision_date.isoformat()}, kenmerk {d.decision_reference}"),
        ("Vastlegging", _scope_text(d.scope)),
    ]
    for index, account in enumerate(d.accounts, start=1):
        label = "Account" if len(d.accounts) == 1 else f"Account {index}"
        rows.append((label, account.primary_smtp))
        if account.aliases:
            rows.append(("  aliassen", ", ".join(account.aliases)))
        if account.upn:
            rows.append(("  UPN", account.upn))
        if account.entra_object_id:
            rows.append(("  Entra object id", account.entra_object_id))
        if account.exchange_endpoint:
            rows.append(("  Exchange on-premises", account.exchange_endpoint))
    rows.append(("Geregistreerd", f"{d.registered_at.isoformat(timespec='seconds')} door {d.registered_by}"))
    rows.append(("Laatste wijziging", f"{d.updated_at.isoformat(timespec='seconds')} (versie {d.version})"))
    if d.withdrawn and d.withdrawn_at:
        rows.append(("Ingetrokken", f"{d.withdrawn_at.isoformat(timespec='seconds')}: {d.withdrawal_reason}"))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        click.echo(f"{key:<{width}}  {value}")


def print_designations(designations: Sequence[Designation], day: date) -> None:
    if not designations:
        click.echo("(no designations)")
        return
    print_table(
        ["ID", "Naam", "Functie", "Categorie", "Periode", "Status", "Account"],
        [
            [
                d.designation_id,
                d.name,
                d.function,
                d.category.value,
                _period(d),
                d.status_on(day).label,
                ", ".join(a.primary_smtp for a in d.accounts),
            ]
            for d in designations
        ],
    )


def _event_detail(event: RegistryEvent) -> str:
    payload = event.payload
    if event.event_type.value == "designated":
        source = payload.get("source") or {}
        if source.get("via") == "import":
            return f"import {source.get('filename')} row {source.get('row')}"
        return "registered"
    if event.event_type.value == "corrected":
        return "changed: " + ", ".join(payload.get("changed", []))
    if event.event_type.value == "ended":
        return f"ends {payload['end_date']} (was {payload.get('previous_end_date') or 'open-ended'})"
    return "withdrawn"


# -- commands --------------------------------------------------------------------------------------


@click.group(name="registry")
def group() -> None:
    """The registry of key officials (sleutelfunctionarissen): who is designated, which accounts are
    captured, for which period, on whose decision. History is append-only."""


@group.command("designate")
@designation_options
@click.option("--reason", help="Optional note on the registration.")
@_json_option
@pass_app
def designate_command(app: AppContext, /, reason: str | None, as_json: bool, **fields: Any) -> None:
    """Register a designation decision for one official and account."""
    cells = {k: v for k, v in fields.items() if k not in ("aliases",) and not k.startswith("capture_") and v}
    cells["aliases"] = ";".join(fields["aliases"])
    for flag in ("capture_mail", "capture_chats", "capture_history"):
        cells[flag] = _yes(fields[flag])
    registry = open_registry_for(app)
    try:
        draft = draft_from_cells(cells, today=_today())
    except ValidationError as exc:
        fail(str(exc))
    designation = _run(lambda: registry.designate(draft, actor=_actor(app), reason=reason))
    _report_archive(registry.last_archive)
    if as_json:
        print_json(designation.to_json())
        return
    click.echo(f"Registered designation {designation.designation_id}")
    print_designation(designation)


def _changes(
    registry: Registry, designation_id: str, fields: dict[str, Any], account_index: int
) -> dict[str, Any]:
    """Typed changes from the options given to ``correct``."""
    changes: dict[str, Any] = {}
    for name in ("name", "function", "organisation_unit", "deciding_body", "decision_reference"):
        if fields.get(name) is not None:
            changes[name] = _parse(clean_text, fields[name], name)
    if fields.get("personnel_number") is not None:
        changes["personnel_number"] = _parse(
            clean_text, fields["personnel_number"], "personnel_number", False
        )
    if fields.get("category") is not None:
        changes["category"] = _parse(parse_category, fields["category"], "category")
    for name in ("start_date", "decision_date"):
        if fields.get(name) is not None:
            changes[name] = _parse(parse_date, fields[name], name)
    if fields.get("end_date") is not None:
        changes["end_date"] = _parse(parse_optional_date, fields["end_date"], "end_date")
    account_fields = ("mail", "entra_object_id", "upn", "exchange_endpoint")
    clear_aliases = fields.get("clear_aliases", False)
    scope_flags = {k: fields.get(f"capture_{k}") for k in ("mail", "chats", "history")}
    if any(fields.get(n) is not None for n in account_fields) or fields["aliases"] or clear_aliases:
        current = _run(lambda: registry.get(designation_id))
        if not 1 <= account_index <= len(current.accounts):
            fail(f"account: designation {designation_id} has {len(current.accounts)} account(s)")
        account = current.accounts[account_index - 1]
        updates: dict[str, Any] = {}
        if fields.get("mail") is not None:
            updates["primary_smtp"] = _parse(normalise_address, fields["mail"], "mail")
        if fields.get("entra_object_id") is not None:
            value = fields["entra_object_id"]
            updates["entra_object_id"] = (
                _parse(normalise_object_id, value, "entra_object_id") if value else None
            )
        if fields.get("upn") is not None:
            updates["upn"] = _parse(normalise_upn, fields["upn"], "upn") if fields["upn"] else None
        if fields.get("exchange_endpoint") is not None:
            value = fields["exchange_endpoint"]
            updates["exchange_endpoint"] = (
                _parse(normalise_endpoint, value, "exchange_endpoint") if value else None
            )
        if fields["aliases"] or clear_aliases:
            updates["aliases"] = tuple(_parse(normalise_address, a, "aliases") for a in fields["aliases"])
        accounts = list(current.accounts)
        accounts[account_index - 1] = dataclasses.replace(account, **updates)
        changes["accounts"] = tuple(accounts)
    if any(v is not None for v in scope_flags.values()):
        current = _run(lambda: registry.get(designation_id))
        scope = current.scope
        changes["scope"] = CaptureScope(
            mail=scope.mail if scope_flags["mail"] is None else bool(scope_flags["mail"]),
            chats=scope.chats if scope_flags["chats"] is None else bool(scope_flags["chats"]),
            include_history=scope.include_history
            if scope_flags["history"] is None
            else bool(scope_flags["history"]),
        )
    return changes


@group.command("correct")
@click.argument("designation_id")
@designation_options
@click.option("--clear-aliases", is_flag=True, help="Remove all aliases (or give the new ones with --alias).")
@click.option(
    "--account", "account_index", type=int, default=1, show_default=True, help="Which account to change."
)
@click.option("--reason", required=True, help="Why the registration is corrected.")
@_json_option
@pass_app
def correct_command(
    app: AppContext,
    /,
    designation_id: str,
    account_index: int,
    reason: str,
    as_json: bool,
    **fields: Any,
) -> None:
    """Record a correction of a designation's registered fields (a new event; history is kept)."""
    registry = open_registry_for(app)
    changes = _changes(registry, designation_id, fields, account_index)
    if not changes:
        fail("nothing to correct: give at least one field option (e.g. --function, --end-date, --mail)")
    designation = _run(lambda: registry.correct(designation_id, actor=_actor(app), reason=reason, **changes))
    _report_archive(registry.last_archive)
    if as_json:
        print_json(designation.to_json())
        return
    click.echo(f"Corrected designation {designation_id} (version {designation.version})")
    print_designation(designation)


@group.command("end")
@click.argument("designation_id")
@click.option("--date", "end_date", required=True, help="Last day the designation applies (YYYY-MM-DD).")
@click.option("--reason", required=True, help="Why it ends (e.g. end of term, new function).")
@_json_option
@pass_app
def end_command(app: AppContext, designation_id: str, end_date: str, reason: str, as_json: bool) -> None:
    """Record that a designation ends on a date."""
    registry = open_registry_for(app)
    day = _parse(parse_date, end_date, "end_date")
    designation = _run(lambda: registry.end(designation_id, day, actor=_actor(app), reason=reason))
    _report_archive(registry.last_archive)
    if as_json:
        print_json(designation.to_json())
        return
    click.echo(f"Designation {designation_id} ends on {day.isoformat()} (version {designation.version})")


@group.command("withdraw")
@click.argument("designation_id")
@click.option("--reason", required=True, help="Why the designation was registered in error.")
@_json_option
@pass_app
def withdraw_command(app: AppContext, designation_id: str, reason: str, as_json: bool) -> None:
    """Withdraw a designation registered in error (it never applied; its history is kept)."""
    registry = open_registry_for(app)
    designation = _run(lambda: registry.withdraw(designation_id, actor=_actor(app), reason=reason))
    _report_archive(registry.last_archive)
    if as_json:
        print_json(designation.to_json())
        return
    click.echo(f"Designation {designation_id} withdrawn (version {designation.version})")


@group.command("list")
@click.option("--on", "on_date", help="Only who was designated on this day (YYYY-MM-DD).")
@click.option("--as-of", help="As the registry said at this moment (date-time, or date: end of that day).")
@click.option("--all", "include_withdrawn", is_flag=True, help="Include withdrawn designations.")
@_json_option
@pass_app
def list_command(
    app: AppContext, on_date: str | None, as_of: str | None, include_withdrawn: bool, as_json: bool
) -> None:
    """List designations; with --on, who was designated on that day (with --as-of: as then registered)."""
    registry = open_registry_for(app)
    moment = _moment(as_of, "as_of")
    if on_date is not None:
        day = _parse(parse_date, on_date, "on")
        designations = _run(lambda: registry.state_at(day, as_of=moment))
    else:
        day = _today()
        designations = _run(lambda: registry.designations(as_of=moment, include_withdrawn=include_withdrawn))
    if as_json:
        print_json(export_json(designations, day))
        return
    print_designations(designations, day)


@group.command("show")
@click.argument("designation_id")
@click.option("--as-of", help="As the registry said at this moment.")
@_json_option
@pass_app
def show_command(app: AppContext, designation_id: str, as_of: str | None, as_json: bool) -> None:
    """Show one designation with its accounts, decision and capture scope."""
    registry = open_registry_for(app)
    moment = _moment(as_of, "as_of")
    designation = _run(lambda: registry.get(designation_id, as_of=moment))
    if as_json:
        print_json(export_json([designation], _today())[0])
        return
    print_designation(designation)


@group.command("history")
@click.argument("designation_id")
@_json_option
@pass_app
def history_command(app: AppContext, designation_id: str, as_json: bool) -> None:
    """The designation's events: who recorded what, when and why."""
    registry = open_registry_for(app)
    events = _run(lambda: registry.history(designation_id))
    if as_json:
        print_json([e.to_document() for e in events])
        return
    print_table(
        ["Versie", "Gebeurtenis", "Vastgelegd (UTC)", "Door", "Reden", "Inhoud"],
        [
            [
                str(e.version),
                e.event_type.value,
                e.recorded_at.strftime("%Y-%m-%d %H:%M:%S"),
                e.actor,
                e.reason or "",
                _event_detail(e),
            ]
            for e in events
        ],
    )


@group.command("import")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@_json_option
@pass_app
def import_command(app: AppContext, file: str, as_json: bool) -> None:
    """Register every row of a CSV designation list: all rows or none (see docs/registry.md)."""
    try:
        data = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}")
    registry = open_registry_for(app)
    result = _run(lambda: registry.import_csv(data, filename=file, actor=_actor(app)))
    _report_archive(registry.last_archive)
    if as_json:
        print_json(
            {"import_id": result.import_id, "designations": export_json(result.designations, _today())}
        )
        return
    click.echo(f"Imported {len(result.designations)} designations from {file} (import {result.import_id})")
    print_designations(result.designations, _today())


@group.command("export")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option("--all", "include_withdrawn", is_flag=True, help="Include withdrawn designations.")
@click.option("--output", "-o", help="Write to this file instead of stdout.")
@pass_app
def export_command(app: AppContext, fmt: str, include_withdrawn: bool, output: str | None) -> None:
    """Export the registry (all fields, addresses included) as CSV or JSON."""
    registry = open_registry_for(app)
    designations = _run(lambda: registry.designations(include_withdrawn=include_withdrawn))
    if fmt == "csv":
        _write_output(export_csv(designations, _today()), output)
    else:
        import json

        _write_output(
            json.dumps(export_json(designations, _today()), indent=2, ensure_ascii=False) + "\n", output
        )


def print_publication(entries: Sequence[dict[str, Any]], *, with_addresses: bool, title: str) -> None:
    click.echo(title)
    click.echo("")
    headers = ["Naam", "Functie", "Categorie", "Periode", "Besluit (kenmerk)"]
    if with_addresses:
        headers.append("E-mailadres")
    rows = []
    for e in entries:
        row = [
            e["name"],
            e["function"],
            e["category"],
            f"{e['start_date']} – {e['end_date'] or 'heden'}",
            e["decision_reference"],
        ]
        if with_addresses:
            row.append(", ".join(e["addresses"]))
        rows.append(row)
    if rows:
        print_table(headers, rows)
    else:
        click.echo("(geen sleutelfunctionarissen)")


@group.command("publish")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "csv", "json"]), default="text", show_default=True
)
@click.option("--on", "on_date", help="Only those designated on this day (default: all, current and past).")
@click.option("--with-addresses", is_flag=True, help="Include the primary e-mail addresses.")
@click.option("--output", "-o", help="Write to this file instead of stdout.")
@pass_app
def publish_command(
    app: AppContext, fmt: str, on_date: str | None, with_addresses: bool, output: str | None
) -> None:
    """The publishable list of key officials: name, function, category, period, decision reference.
    No internal ids; no addresses unless --with-addresses."""
    registry = open_registry_for(app)
    if on_date is not None:
        day = _parse(parse_date, on_date, "on")
        designations = _run(lambda: registry.state_at(day))
        title = f"Register van sleutelfunctionarissen op {day.isoformat()}"
    else:
        designations = _run(lambda: registry.designations())
        title = f"Register van sleutelfunctionarissen (stand {_today().isoformat()})"
    entries = [public_entry(d, with_addresses=with_addresses) for d in designations]
    if fmt == "csv":
        _write_output(publication_csv(entries, with_addresses=with_addresses), output)
    elif fmt == "json":
        import json

        _write_output(json.dumps(entries, indent=2, ensure_ascii=False) + "\n", output)
    elif output:
        fail("--output needs --format csv or json")
    else:
        print_publication(entries, with_addresses=with_addresses, title=title)


@group.command("restore")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_app
def restore_command(app: AppContext, as_json: bool) -> None:
    """Rebuild the registry's history from the vault's registry-event records (after the loss of the
    database, or to fill in what it lacks). Events already present are left alone."""
    from capstone.services import open_vault
    from vault import VaultError

    registry = open_registry_for(app)
    try:
        vault = open_vault(app.settings)
        items = list(events_in_vault(vault))
    except (VaultError, ValueError, KeyError) as exc:
        fail(f"cannot read the registry events from the vault: {exc}")
    result = _run(lambda: registry.restore(items))
    if as_json:
        print_json(dataclasses.asdict(result))
        return
    click.echo(
        f"Restored {result.inserted} event(s) of {result.designations} designation(s) from the vault "
        f"({result.already_present} already present)"
    )
