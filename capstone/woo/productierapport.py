"""The productierapport (inventarislijst) of a publication package, in the columns and values the Woo
platform's inventory reader takes.

From minvws/nl-rdo-woo-web (commit 00828238): ``src/Service/Inventory/Reader/InventoryReaderFactory.php``
maps the header names (lower-cased, trimmed, leading digits dropped) ``id``, ``document``,
``beoordeling``, ``beoordelingsgrond`` (the four required columns), ``datum``, ``family``,
``thread id``, ``file type``, ``toelichting``, ``gerelateerd id``, ``publieke link``, ``zaaknummer``
and ``matter``; ``InventoryReader.php`` checks each row (see :mod:`capstone.woo.platform_reader`).
``src/Service/FileReader/CsvReader.php`` reads CSV with PHP's ``fgetcsv`` defaults - comma-separated,
``"``-quoted, no byte order mark (one would become part of the first header) - and
``ExcelCsvReaderFactory.php`` reads the first sheet of an XLSX (through ``xlsx2csv``).

Example::

    write_report(directory, rows)          # productierapport.xlsx and productierapport.csv
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from capstone.tabular import csv_row, xlsx_row

COLUMNS = (
    "ID",
    "Document",
    "Beoordeling",
    "Beoordelingsgrond",
    "Datum",
    "Family",
    "Thread ID",
    "File type",
    "Toelichting",
    "Gerelateerd ID",
    "Publieke link",
    "Zaaknummer",
    "Matter",
)
XLSX_NAME = "productierapport.xlsx"
CSV_NAME = "productierapport.csv"


@dataclass(frozen=True)
class ReportRow:
    id: str
    document: str
    beoordeling: str
    beoordelingsgrond: str
    datum: str
    family: int
    thread_id: int | None
    file_type: str
    toelichting: str
    gerelateerd_id: str
    publieke_link: str
    zaaknummer: str
    matter: str

    def texts(self) -> list[str]:
        return [
            self.id, self.document, self.beoordeling, self.beoordelingsgrond, self.datum, str(self.family),
            "" if self.thread_id is None else str(self.thread_id), self.file_type, self.toelichting,
            self.gerelateerd_id, self.publieke_link, self.zaaknummer, self.matter,
        ]  # fmt: skip


def write_csv(path: Path, rows: list[ReportRow]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:  # no BOM: fgetcsv would keep it
        writer = csv.writer(handle)  # comma, "-quoted: PHP's fgetcsv defaults
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow(csv_row(row.texts()))


def write_xlsx(path: Path, rows: list[ReportRow]) -> None:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("productierapport")  # the first and only sheet
    sheet.append(list(COLUMNS))
    for row in rows:
        values: list[object] = list(row.texts())
        values[5] = row.family  # numbers stay numbers (getOptionalInt)
        values[6] = row.thread_id if row.thread_id is not None else ""
        sheet.append(xlsx_row(sheet, values))
    book.save(path)


def write_report(directory: Path, rows: list[ReportRow]) -> tuple[Path, Path]:
    xlsx, csv_path = directory / XLSX_NAME, directory / CSV_NAME
    write_xlsx(xlsx, rows)
    write_csv(csv_path, rows)
    return xlsx, csv_path
