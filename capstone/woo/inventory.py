"""The inventarislijst: one row per document, in the columns the Dutch government's Woo platform
(minvws/nl-rdo-woo-web, ``InventoryReaderFactory``) reads, plus where each document came from.

The platform matches headers loosely (``id``, ``document``, ``datum``, ``family``, ``thread id``,
``file type``, ``beoordeling``, ``beoordelingsgrond``, ``toelichting``, ``gerelateerd id``,
``zaaknummer``, ``matter``); Family and Thread ID are positive integers. Beoordeling and
beoordelingsgrond stay empty for the legal assessment, except "dubbel" for an exact duplicate.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from capstone.tabular import csv_row, xlsx_row

COLUMNS = (
    "ID",
    "Document",
    "Datum",
    "Family",
    "Thread ID",
    "Bestandsnaam",
    "File type",
    "Beoordeling",
    "Beoordelingsgrond",
    "Toelichting",
    "Gerelateerd ID",
    "Zaaknummer",
    "Matter",
    "Bron",
    "SHA-256",
)


@dataclass
class InventoryRow:
    id: int
    document: str
    datum: str
    family: int
    thread_id: int | None
    bestandsnaam: str
    file_type: str
    toelichting: str = ""
    gerelateerd_id: int | None = None
    beoordeling: str = ""
    sources: list[str] = field(default_factory=list)
    sha256: str = ""

    def values(self, case_ref: str) -> list[str]:
        return [
            str(self.id),
            self.document,
            self.datum,
            str(self.family),
            "" if self.thread_id is None else str(self.thread_id),
            self.bestandsnaam,
            self.file_type,
            self.beoordeling,
            "",
            self.toelichting,
            "" if self.gerelateerd_id is None else str(self.gerelateerd_id),
            case_ref,
            case_ref,
            "; ".join(self.sources),
            self.sha256,
        ]


def write_csv(path: Path, rows: list[InventoryRow], case_ref: str) -> None:
    with open(path, "w", newline="", encoding="utf-8-sig") as handle:  # BOM: Excel reads UTF-8
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow(csv_row(row.values(case_ref)))  # formula-looking text stays inert


def write_xlsx(path: Path, rows: list[InventoryRow], case_ref: str) -> None:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("inventarislijst")
    sheet.append(list(COLUMNS))
    for row in rows:
        values: list[object] = list(row.values(case_ref))
        values[0], values[3] = row.id, row.family  # numbers stay numbers for the platform
        if row.thread_id is not None:
            values[4] = row.thread_id
        if row.gerelateerd_id is not None:
            values[10] = row.gerelateerd_id
        sheet.append(xlsx_row(sheet, values))  # every text a string cell, never a formula
    book.save(path)
