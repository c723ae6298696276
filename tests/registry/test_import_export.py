"""Bulk import of a designation list (all rows or none), export and the publishable list."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from importlib import resources

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from capstone.registry import Category, CsvImportError, DuplicateImportError, Registry
from capstone.registry.csvio import (
    COLUMNS,
    export_csv,
    export_json,
    public_entry,
    publication_csv,
    read_csv,
)
from tests.registry.conftest import make_draft

SAMPLE = resources.files("capstone.registry").joinpath("samples/sleutelfunctionarissen.csv").read_bytes()
SAMPLE_MAILBOXES = {
    "burgemeester@gemeente-demo.nl",
    "wethouder.financien@gemeente-demo.nl",
    "wethouder.ruimte@gemeente-demo.nl",
    "gemeentesecretaris@gemeente-demo.nl",
    "griffier@gemeente-demo.nl",
    "directeur.bedrijfsvoering@gemeente-demo.nl",
}
HEADER = ",".join(COLUMNS)


def _row(mail: str, *, name: str = "Iemand", start: str = "2024-01-01", end: str = "", **cells: str) -> str:
    values = {
        "name": name,
        "mail": mail,
        "function": "Wethouder",
        "organisation_unit": "Bestuur",
        "category": "college van B&W",
        "start_date": start,
        "end_date": end,
        "deciding_body": "Directieteam Gemeente Demo",
        "decision_date": "15-01-2024",
        "decision_reference": "DT-2024-003",
    }
    values.update(cells)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow([values.get(c, "") for c in COLUMNS])
    return buffer.getvalue()


def _csv(*rows: str) -> bytes:
    return ("\n".join([HEADER, *rows]) + "\n").encode()


def _events(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM registry_events")).scalar_one())


def test_the_sample_list_imports_whole(registry: Registry) -> None:
    result = registry.import_csv(SAMPLE, filename="/some/dir/sleutelfunctionarissen.csv", actor="dt")
    assert len(result.designations) == 6
    assert {d.accounts[0].primary_smtp for d in result.designations} == SAMPLE_MAILBOXES
    assert {d.category for d in result.designations} == {
        Category.COLLEGE,
        Category.AMBTELIJKE_TOP,
        Category.GRIFFIER,
    }
    event = registry.history(result.designations[0].designation_id)[0]
    assert event.payload["source"]["filename"] == "sleutelfunctionarissen.csv"  # no directory
    assert event.payload["source"]["row"] == 2
    bedrijfsvoering = next(
        d for d in result.designations if d.accounts[0].primary_smtp.startswith("directeur")
    )
    assert bedrijfsvoering.scope.include_history is False
    assert len(registry.state_at(date(2025, 2, 28))) == 5
    assert len(registry.state_at(date(2025, 3, 1))) == 6


def test_a_duplicate_import_is_refused_and_writes_nothing(registry: Registry, engine: Engine) -> None:
    registry.import_csv(SAMPLE, filename="dt.csv", actor="dt")
    before = _events(engine)
    with pytest.raises(DuplicateImportError, match=r"dt-kopie\.csv: this file was imported before \(dt\.csv"):
        registry.import_csv(SAMPLE, filename="dt-kopie.csv", actor="dt")
    # the same rows in a different file (one more empty line): each row reported as a duplicate
    with pytest.raises(CsvImportError) as caught:
        registry.import_csv(SAMPLE + b"\n", filename="dt2.csv", actor="dt")
    assert len(caught.value.errors) == 6
    assert all("duplicate: already registered as designation sf-" in e.message for e in caught.value.errors)
    assert [e.row for e in caught.value.errors] == [2, 3, 4, 5, 6, 7]
    assert _events(engine) == before


def test_one_bad_row_refuses_the_whole_file_naming_row_and_field(registry: Registry, engine: Engine) -> None:
    data = _csv(
        _row("wethouder.financien@gemeente-demo.nl"),
        _row("wethouder.ruimte@gemeente-demo", name="Fout Adres"),
        _row("griffier@gemeente-demo.nl", start="2025-01-01", end="2024-12-31", category="griffier"),
        _row("ombudsman@gemeente-demo.nl", category="burgemeester", decision_date="2024-13-01"),
    )
    with pytest.raises(CsvImportError) as caught:
        registry.import_csv(data, filename="dt.csv", actor="dt")
    found = {(e.row, e.field) for e in caught.value.errors}
    assert found == {(3, "mail"), (4, "end_date"), (5, "category"), (5, "decision_date")}
    message = str(caught.value)
    assert message.startswith("dt.csv: 3 of 4 rows refused; nothing was imported")
    assert "row 3, mail: 'wethouder.ruimte@gemeente-demo' is not a valid e-mail address" in message
    assert "row 4, end_date: 2024-12-31 lies before start_date 2025-01-01" in message
    assert _events(engine) == 0


def test_rows_overlapping_each_other_or_the_registry_are_refused(registry: Registry, engine: Engine) -> None:
    with pytest.raises(CsvImportError) as caught:
        registry.import_csv(
            _csv(
                _row("wethouder.ruimte@gemeente-demo.nl", end="2025-12-31"),
                _row(
                    "w.ruimte@gemeente-demo.nl",
                    aliases="Wethouder.Ruimte@gemeente-demo.nl",
                    start="2025-12-31",
                ),
            ),
            filename="a.csv",
            actor="dt",
        )
    [error] = caught.value.errors
    assert (error.row, error.field) == (3, "mail")
    assert "wethouder.ruimte@gemeente-demo.nl is also covered by row 2" in error.message

    existing = registry.designate(make_draft(), actor="a")
    with pytest.raises(CsvImportError) as caught:
        registry.import_csv(
            _csv(
                _row("wethouder.ruimte@gemeente-demo.nl"),
                _row("burgemeester@gemeente-demo.nl", start="2030-01-01"),
            ),
            filename="b.csv",
            actor="dt",
        )
    [error] = caught.value.errors
    assert (
        error.row == 3
        and existing.designation_id in error.message
        and "overlapping coverage" in error.message
    )
    assert _events(engine) == 1


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "the file is empty"),
        (HEADER.encode() + b"\n", "the file holds no rows"),
        (b"naam,e-mailadres\nA,a@gemeente-demo.nl\n", "missing required column(s): function"),
        (HEADER.encode() + b",kleur\n", "unknown column(s) 'kleur'"),
        (b"\xff\xfename\n", "not UTF-8 text"),
    ],
)
def test_unusable_files_are_refused(registry: Registry, data: bytes, fragment: str) -> None:
    with pytest.raises(CsvImportError, match="nothing was imported") as caught:
        registry.import_csv(data, filename="x.csv", actor="dt")
    assert fragment in str(caught.value)


def test_dutch_headers_and_semicolons_as_a_spreadsheet_saves_them() -> None:
    data = (
        "\ufeffNaam;E-mailadres;Functie;Organisatieonderdeel;Categorie;Startdatum;Besluitorgaan;Besluitdatum;Kenmerk\n"
        "Sanne Visser;Griffier@Gemeente-Demo.nl;Raadsgriffier;Griffie;Raadsgriffier;01-01-2024;DT;15-01-2024;DT-1\n"
    ).encode()
    rows, errors = read_csv(data)
    assert errors == []
    [row] = rows
    assert row.errors == [] and row.draft is not None
    assert row.draft.accounts[0].primary_smtp == "griffier@gemeente-demo.nl"
    assert row.draft.category is Category.GRIFFIER and row.draft.start_date == date(2024, 1, 1)


def test_export_round_trips_through_import(registry: Registry) -> None:
    imported = registry.import_csv(SAMPLE, filename="dt.csv", actor="dt").designations
    exported = export_csv(registry.designations(), date(2026, 2, 1))
    rows, errors = read_csv(_strip_export_columns(exported).encode())
    assert errors == [] and all(not r.errors for r in rows)
    assert {r.draft for r in rows} == {d.draft() for d in imported}  # every field survives
    document = export_json(registry.designations(), date(2026, 2, 1))
    assert {d["status"] for d in document} == {"active"}
    assert all(d["designation_id"].startswith("sf-") for d in document)


def _strip_export_columns(exported: str) -> str:
    reader = csv.DictReader(io.StringIO(exported))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(COLUMNS), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(reader)
    return out.getvalue()


def test_the_publication_has_no_ids_and_no_addresses_unless_asked(registry: Registry) -> None:
    registry.import_csv(SAMPLE, filename="dt.csv", actor="dt")
    entries = [public_entry(d) for d in registry.designations()]
    assert len(entries) == 6
    text = json.dumps(entries) + publication_csv(entries)
    assert "sf-" not in text and "@" not in text and "5b0c7a34" not in text
    assert set(entries[0]) == {"name", "function", "category", "start_date", "end_date", "decision_reference"}
    assert {e["category"] for e in entries} == {"Lid college van B&W", "Ambtelijke topfunctie", "Griffier"}
    with_addresses = [public_entry(d, with_addresses=True) for d in registry.designations()]
    assert {a for e in with_addresses for a in e["addresses"]} == SAMPLE_MAILBOXES
    assert "directeur.bedrijfsvoering@gemeente-demo.nl" in publication_csv(
        with_addresses, with_addresses=True
    )


def test_the_preview_reports_what_the_import_would_refuse_and_writes_nothing(
    registry: Registry, engine: Engine
) -> None:
    """``preview_csv`` (the web's import preview) names every error the import reports: a bad
    row, rows overlapping each other, a row overlapping the registry, and an empty file."""
    existing = registry.designate(make_draft(), actor="a")
    data = _csv(
        _row("burgemeester@gemeente-demo.nl", start="2030-01-01"),  # overlaps the existing designation
        _row("p.postma@", name="Piet"),  # not an address
        _row("griffier@gemeente-demo.nl", end="2025-12-31"),
        _row("griffier@gemeente-demo.nl", start="2025-06-01"),  # overlaps the row before
    )
    rows, errors = registry.preview_csv(data)
    assert len(rows) == 4
    with pytest.raises(CsvImportError) as caught:
        registry.import_csv(data, filename="p.csv", actor="dt")  # refused before the registry check
    said = {(e.row, e.field) for e in errors}
    assert {(e.row, e.field) for e in caught.value.errors} <= said
    assert (3, "mail") in said and (5, "mail") in said
    [clash] = [e for e in errors if e.row == 2]
    assert existing.designation_id in clash.message and "overlapping coverage" in clash.message
    assert _events(engine) == 1  # nothing written
    _, empty = registry.preview_csv(HEADER.encode() + b"\n")
    assert [e.code for e in empty] == ["csv-no-rows"]
