"""CSV in and out: the designation list a management team (DT) decides on, the export, the publication.

Import columns (header row required; order free; UTF-8, with or without BOM; separated by ``,`` or
``;`` as spreadsheets save them; Dutch header names in brackets are accepted too):

====================  ========  ==============================================================
column                required  meaning
====================  ========  ==============================================================
name (naam)           yes       the official's name
personnel_number      no        personnel number (personeelsnummer)
mail (e-mailadres)    yes       primary SMTP address of the mailbox
aliases (aliassen)    no        further addresses of the same mailbox, separated by ``;``/space
entra_object_id       no        Entra ID object id (GUID) of the user, for Graph and Teams
upn                   no        user principal name, for Graph and Teams
exchange_endpoint     no        on-premises Exchange endpoint reference (instead of Exchange Online)
function (functie)    yes       function title, e.g. ``Burgemeester``
organisation_unit     yes       organisation unit (organisatieonderdeel)
category (categorie)  yes       college, ambtelijke-top, griffier, compliance-officer, ombudsman,
                                rekenkamer, overig (or the Dutch label, e.g. ``college van B&W``)
start_date            yes       first day of the designation, YYYY-MM-DD (or DD-MM-YYYY)
end_date              no        last day (inclusive); empty: open-ended
deciding_body         yes       body that decided, e.g. ``Directieteam Gemeente Demo``
decision_date         yes       date of the decision
decision_reference    yes       reference (kenmerk) of the decision
capture_mail          no        yes/no (ja/nee), default yes
capture_chats         no        yes/no, default yes: Teams chats
capture_history       no        yes/no, default yes: also mailbox content from before start_date
====================  ========  ==============================================================

Rows are numbered as a spreadsheet shows them: the header is row 1.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from capstone.registry.errors import FieldError, RowError, ValidationError
from capstone.registry.model import Account, CaptureScope, Category, Designation, DesignationDraft
from capstone.registry.validation import (
    parse_bool,
    parse_category,
    parse_date,
    parse_optional_date,
    split_list,
    validate_draft,
)
from capstone.tabular import csv_cell, csv_text

COLUMNS: tuple[str, ...] = (
    "name",
    "personnel_number",
    "mail",
    "aliases",
    "entra_object_id",
    "upn",
    "exchange_endpoint",
    "function",
    "organisation_unit",
    "category",
    "start_date",
    "end_date",
    "deciding_body",
    "decision_date",
    "decision_reference",
    "capture_mail",
    "capture_chats",
    "capture_history",
)
REQUIRED_COLUMNS: tuple[str, ...] = (
    "name",
    "mail",
    "function",
    "organisation_unit",
    "category",
    "start_date",
    "deciding_body",
    "decision_date",
    "decision_reference",
)
HEADER_ALIASES: dict[str, str] = {
    "naam": "name",
    "personeelsnummer": "personnel_number",
    "e-mailadres": "mail",
    "emailadres": "mail",
    "email": "mail",
    "e-mail": "mail",
    "primary_smtp": "mail",
    "aliassen": "aliases",
    "object_id": "entra_object_id",
    "functie": "function",
    "organisatieonderdeel": "organisation_unit",
    "afdeling": "organisation_unit",
    "categorie": "category",
    "startdatum": "start_date",
    "ingangsdatum": "start_date",
    "einddatum": "end_date",
    "besluitorgaan": "deciding_body",
    "besluitdatum": "decision_date",
    "besluitkenmerk": "decision_reference",
    "kenmerk": "decision_reference",
}
EXPORT_COLUMNS: tuple[str, ...] = (
    "designation_id",
    "status",
    *COLUMNS,
    "registered_by",
    "registered_at",
    "version",
)
PUBLIC_COLUMNS: tuple[str, ...] = (
    "name",
    "function",
    "category",
    "start_date",
    "end_date",
    "decision_reference",
)


@dataclass
class CsvRow:
    """One data row: its line number, the validated draft (None when invalid) and its errors."""

    line: int
    draft: DesignationDraft | None
    errors: list[RowError] = field(default_factory=list)


def _canonical_header(name: str) -> str:
    key = "_".join(name.strip().lower().replace("-", "_").split())
    if key in COLUMNS:
        return key
    return HEADER_ALIASES.get(name.strip().lower(), HEADER_ALIASES.get(key, key))


def _dialect(text: str) -> str:
    header = text.split("\n", 1)[0]
    counts = {sep: header.count(sep) for sep in (",", ";", "\t")}
    return max(counts, key=lambda sep: counts[sep]) if any(counts.values()) else ","


def read_csv(
    data: bytes, *, check_deliverability: bool = False, today: date | None = None
) -> tuple[list[CsvRow], list[RowError]]:
    """Parse and validate a designation list. Returns the rows and the file-level errors."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return [], [
            RowError(
                0,
                None,
                f"not UTF-8 text (byte {exc.start}); save the sheet as 'CSV UTF-8'",
                "csv-not-utf8",
                {"byte": exc.start},
            )
        ]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_dialect(text))
    try:
        header = next(reader)
    except StopIteration:
        return [], [RowError(0, None, "the file is empty", "csv-empty")]
    except csv.Error as exc:
        return [], [RowError(1, None, f"unreadable CSV: {exc}", "csv-unreadable")]
    columns = [_canonical_header(h) for h in header]
    file_errors: list[RowError] = []
    unknown = [h for h, c in zip(header, columns, strict=True) if c not in COLUMNS]
    if unknown:
        file_errors.append(
            RowError(
                1,
                None,
                f"unknown column(s) {', '.join(map(repr, unknown))}; known: {', '.join(COLUMNS)}",
                "csv-unknown-columns",
                {"columns": ", ".join(unknown), "known": ", ".join(COLUMNS)},
            )
        )
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        file_errors.append(
            RowError(
                1,
                None,
                f"missing required column(s): {', '.join(missing)}",
                "csv-missing-columns",
                {"columns": ", ".join(missing)},
            )
        )
    doubled = sorted({c for c in columns if columns.count(c) > 1})
    if doubled:
        file_errors.append(
            RowError(
                1,
                None,
                f"column(s) given twice: {', '.join(doubled)}",
                "csv-doubled-columns",
                {"columns": ", ".join(doubled)},
            )
        )
    if file_errors:
        return [], file_errors
    rows: list[CsvRow] = []
    line = reader.line_num
    try:
        for cells in reader:
            start, line = line + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) > len(columns):
                rows.append(
                    CsvRow(
                        start,
                        None,
                        [
                            RowError(
                                start,
                                None,
                                f"{len(cells)} cells, the header has {len(columns)}",
                                "csv-too-many-cells",
                                {"cells": len(cells), "header": len(columns)},
                            )
                        ],
                    )
                )
                continue
            values = dict(zip(columns, (csv_text(c) for c in cells), strict=False))  # our own exports
            rows.append(_parse_row(start, values, check_deliverability=check_deliverability, today=today))
    except csv.Error as exc:
        file_errors.append(RowError(line + 1, None, f"unreadable CSV: {exc}", "csv-unreadable"))
    return rows, file_errors


def draft_from_cells(
    values: dict[str, str], *, check_deliverability: bool = False, today: date | None = None
) -> DesignationDraft:
    """A validated draft from one row's cells (column name -> text), as in a CSV row or on the
    command line. Raises ValidationError naming every bad column."""
    errors: list[FieldError] = []

    def get(name: str) -> str:
        return (values.get(name) or "").strip()

    def attempt(action: Any, *args: Any) -> Any:
        try:
            return action(*args)
        except FieldError as error:
            errors.append(error)
            return None

    for required in ("start_date", "decision_date", "category"):
        if not get(required):
            errors.append(FieldError(required, "is required", code="required"))
    start = attempt(parse_date, get("start_date"), "start_date") if get("start_date") else None
    decision = attempt(parse_date, get("decision_date"), "decision_date") if get("decision_date") else None
    end = attempt(parse_optional_date, get("end_date"), "end_date")
    category = attempt(parse_category, get("category"), "category") if get("category") else None
    scope = CaptureScope(
        mail=attempt(parse_bool, get("capture_mail"), "capture_mail", True) is not False,
        chats=attempt(parse_bool, get("capture_chats"), "capture_chats", True) is not False,
        include_history=attempt(parse_bool, get("capture_history"), "capture_history", True) is not False,
    )
    draft = DesignationDraft(
        name=get("name"),
        personnel_number=get("personnel_number") or None,
        accounts=(
            Account(
                primary_smtp=get("mail"),
                aliases=tuple(split_list(get("aliases"))),
                entra_object_id=get("entra_object_id") or None,
                upn=get("upn") or None,
                exchange_endpoint=get("exchange_endpoint") or None,
            ),
        ),
        function=get("function"),
        organisation_unit=get("organisation_unit"),
        category=category or Category.OVERIG,
        start_date=start or date.min,  # missing: reported above; the other fields are still checked
        end_date=end,
        deciding_body=get("deciding_body"),
        decision_date=decision or date.min,
        decision_reference=get("decision_reference"),
        scope=scope,
    )
    try:
        validated = validate_draft(draft, check_deliverability=check_deliverability, today=today)
    except ValidationError as exc:
        known = {e.field for e in errors}
        errors.extend(e for e in exc.errors if e.field not in known)
    if errors:
        raise ValidationError(errors)
    return validated


def _parse_row(
    line: int, values: dict[str, str], *, check_deliverability: bool, today: date | None
) -> CsvRow:
    try:
        draft = draft_from_cells(values, check_deliverability=check_deliverability, today=today)
    except ValidationError as exc:
        return CsvRow(line, None, [RowError(line, e.field, e.message, e.code, e.params) for e in exc.errors])
    return CsvRow(line, draft)


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def draft_cells(draft: DesignationDraft, account: Account) -> dict[str, str]:
    return {
        "name": draft.name,
        "personnel_number": draft.personnel_number or "",
        "mail": account.primary_smtp,
        "aliases": ";".join(account.aliases),
        "entra_object_id": account.entra_object_id or "",
        "upn": account.upn or "",
        "exchange_endpoint": account.exchange_endpoint or "",
        "function": draft.function,
        "organisation_unit": draft.organisation_unit,
        "category": draft.category.value,
        "start_date": draft.start_date.isoformat(),
        "end_date": draft.end_date.isoformat() if draft.end_date else "",
        "deciding_body": draft.deciding_body,
        "decision_date": draft.decision_date.isoformat(),
        "decision_reference": draft.decision_reference,
        "capture_mail": _yes(draft.scope.mail),
        "capture_chats": _yes(draft.scope.chats),
        "capture_history": _yes(draft.scope.include_history),
    }


def _write(columns: Sequence[str], rows: Iterable[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: csv_cell(v) for k, v in row.items()} for row in rows)  # inert for spreadsheets
    return out.getvalue()


def export_csv(designations: Iterable[Designation], today: date) -> str:
    """The full export in the import's columns plus id, status and registration; a designation with
    several accounts takes one row per account (same designation_id)."""
    rows = []
    for d in designations:
        for account in d.accounts:
            rows.append(
                {
                    "designation_id": d.designation_id,
                    "status": d.status_on(today).value,
                    **draft_cells(d, account),
                    "registered_by": d.registered_by,
                    "registered_at": d.registered_at.isoformat(),
                    "version": str(d.version),
                }
            )
    return _write(EXPORT_COLUMNS, rows)


def export_json(designations: Iterable[Designation], today: date) -> list[dict[str, Any]]:
    return [{**d.to_json(), "status": d.status_on(today).value} for d in designations]


def public_entry(d: Designation, *, with_addresses: bool = False) -> dict[str, Any]:
    """One line of the publishable list: no internal ids, no addresses unless asked."""
    entry: dict[str, Any] = {
        "name": d.name,
        "function": d.function,
        "category": d.category.label,
        "start_date": d.start_date.isoformat(),
        "end_date": d.end_date.isoformat() if d.end_date else None,
        "decision_reference": d.decision_reference,
    }
    if with_addresses:
        entry["addresses"] = [a.primary_smtp for a in d.accounts]
    return entry


def publication_csv(entries: Sequence[dict[str, Any]], *, with_addresses: bool = False) -> str:
    columns = list(PUBLIC_COLUMNS) + (["addresses"] if with_addresses else [])
    rows = [
        {
            **{k: ("" if v is None else v) for k, v in entry.items() if k != "addresses"},
            **({"addresses": ";".join(entry.get("addresses", []))} if with_addresses else {}),
        }
        for entry in entries
    ]
    return _write(columns, rows)


def publication_json(entries: Sequence[dict[str, Any]]) -> str:
    return json.dumps(entries, indent=2, ensure_ascii=False)
