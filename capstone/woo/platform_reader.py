"""A reader of a productierapport written from the Woo platform's own rules, so a package is checked
before it is uploaded (``capstone woo verify-export``) and tests can prove a broken one is refused.

The rules, from minvws/nl-rdo-woo-web (commit 00828238):

* ``src/Service/FileReader/HeaderMappingTrait.php`` - headers matched lower-cased and trimmed, leading
  digits dropped; ``InventoryReaderFactory.php`` - required: ``id``, ``document``, ``beoordeling``,
  ``beoordelingsgrond`` (with their aliases); the other columns optional;
* ``src/Service/FileReader/CsvReader.php`` - CSV by ``fgetcsv`` (comma, no byte order mark); empty
  rows skipped; ``ExcelCsvReaderFactory.php`` - the first sheet of an XLSX;
* ``src/Service/Inventory/Reader/InventoryReader.php`` - per row: the document ID (``DocumentId``:
  ``[a-zA-Z0-9.-]``, 1-170 characters), the file name at most 500 bytes, Family and Thread ID
  integers of at least 1, the toelichting at most 1000 characters, links valid URLs of at most 2048
  characters separated by ``|``, inquiry numbers (``Inquiry::INQUIRY_NUMBER_REGEX``
  ``[a-z0-9-.;() ]``, 1-255) separated by ``,`` or ``;``, a matter (``DocumentMatter``:
  ``[a-zA-Z0-9-._~]``, 1-255) or a publication context but not both columns, dates as ``Y-m-d``,
  ``d-m-Y``, ``Y/m/d``, ``d/m/Y``;
* ``src/Service/Inventory/InventoryChangeset.php`` - a document number (publication context or
  matter, and ID; compared case-insensitively) only once;
* ``Judgement.php`` and ``Citation.php`` - the judgements and ground codes (:mod:`capstone.woo.grounds`).

Stricter than the platform where the platform would silently do the wrong thing: a judgement it
does not know (it would read "niet openbaar"), a ground code it does not know (it would show no
classification), *niet openbaar* or *deels openbaar* without a ground, *openbaar* with one,
*reeds openbaar* without a link, a ``dubbel`` or Gerelateerd ID that names no row, and a family
that is inconsistent (its Family is no row's ID, or its members differ in Thread ID or matter).

Example::

    check = read_report(Path("productierapport.xlsx"))
    check.ok, check.problems, check.rows[0]["beoordeling"]
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from capstone.tabular import csv_text
from capstone.woo.grounds import DUBBEL, LABELS, WOB_GROUNDS, WOO_GROUNDS, normalise_ground

# InventoryReaderFactory's ColumnMapping: name -> (required, header names)
MAPPING: dict[str, tuple[bool, tuple[str, ...]]] = {
    "date": (False, ("date", "datum", "datum (utc)")),
    "document": (True, ("document", "document id", "documentnr", "document nr", "documentnr.", "document nr.",
                        "nr.", "omschrijving", "name")),
    "family": (False, ("family", "familie", "family id")),
    "sourcetype": (False, ("file type", "filetype")),
    "ground": (True, ("beoordelingsgrond", "grond", "tagmulti006", "beoordelingsgrond (; gescheiden)",
                      "code entries")),
    "id": (True, ("id",)),
    "judgement": (True, ("beoordeling", "openbaarmaking")),
    "threadid": (False, ("thread id", "email thread id", "email thread")),
    "inquiry_number": (False, ("zaaknr", "casenr", "zaak", "case", "zaaknummer")),
    "suspended": (False, ("opgeschort", "suspended", "tag015")),
    "link": (False, ("publiekelinktag", "publieke link", "publiekelink", "publicatielink", "publicatie link",
                     "publiekelink ( | gescheiden)")),
    "remark": (False, ("toelichting", "opmerking")),
    "matter": (False, ("matter", "matter / marjoleinnummer")),
    "publication_context": (False, ("publicatiecontext", "publicationcontext", "publication context",
                                    "publication_context")),
    "refers_to": (False, ("gerelateerd id",)),
}  # fmt: skip
DOCUMENT_ID = re.compile(r"^[a-zA-Z0-9.\-]*$")
MATTER = re.compile(r"^[a-zA-Z0-9\-._~]*$")
INQUIRY_NUMBER = re.compile(r"^[a-z0-9\-.;() ]+$", re.IGNORECASE)
MAX_FILENAME, MAX_REMARK, MAX_LINK = 500, 1000, 2048
_DATE_FORMATS = ("%Y-%m-%d", "%d-%m-%Y", "%Y/%m/%d", "%d/%m/%Y", "%d/%m/%Y %H:%M")
KNOWN_GROUNDS = frozenset(WOO_GROUNDS) | WOB_GROUNDS


@dataclass
class ReportCheck:
    path: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "ok": self.ok, "rows": len(self.rows), "problems": self.problems}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.strftime("%Y-%m-%d")
    return str(value)


def _table(path: Path, check: ReportCheck) -> list[list[str]]:
    if path.suffix.lower() == ".csv":
        data = path.read_bytes()
        if data.startswith(b"\xef\xbb\xbf"):
            check.problems.append(
                f"{path.name}: starts with a UTF-8 byte order mark, which the platform's CSV reader keeps as "
                "part of the first header"
            )
            data = data[3:]
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            check.problems.append(f"{path.name}: not UTF-8")
            return []
        return [[csv_text(c) for c in row] for row in csv.reader(io.StringIO(text, newline=""))]
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = book.worksheets[0]  # xlsx2csv converts the first sheet
        return [[_cell(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    finally:
        book.close()


def _headers(header: list[str], check: ReportCheck) -> dict[str, int]:
    found: dict[str, int] = {}
    for column, name in enumerate(header):
        text = name.strip().lower().lstrip("0123456789").strip()
        if not text:
            continue
        for key, (_, names) in MAPPING.items():
            if key not in found and text in names:
                found[key] = column
    missing = [key for key, (required, _) in MAPPING.items() if required and key not in found]
    if missing:
        check.problems.append(f"missing required column(s): {', '.join(MAPPING[k][1][0] for k in missing)}")
    return found


def _split(value: str, separators: str) -> list[str]:
    parts = re.split("|".join(re.escape(s) for s in separators), value.strip()) if value.strip() else []
    return [p.strip() for p in parts if p.strip()]


def _positive(value: str) -> int | None:
    text = value.strip()
    if not text:
        return None
    try:
        number = int(float(text)) if re.fullmatch(r"-?\d+(\.0+)?", text) else 0
    except ValueError:
        number = 0
    return number  # intval(): anything not a number is 0, which the reader refuses


def _row(index: int, values: dict[str, str], check: ReportCheck) -> dict[str, Any]:
    where = f"row {index}"
    problems = check.problems
    doc_id = values.get("id", "")
    if not doc_id:
        problems.append(f"{where}: no document ID")
    elif not DOCUMENT_ID.match(doc_id) or not 1 <= len(doc_id) <= 170:
        problems.append(
            f"{where}: invalid document ID {doc_id!r} (letters, digits, . and -; 1-170 characters)"
        )
    document = values.get("document", "")
    if not document:
        problems.append(f"{where}: no Document (file name)")
    if len(document.encode("utf-8")) > MAX_FILENAME:
        problems.append(f"{where}: Document longer than {MAX_FILENAME} bytes")
    label = values.get("judgement", "").strip().lower()
    if label not in LABELS:
        problems.append(
            f"{where}: Beoordeling {values.get('judgement', '')!r} is not one of {', '.join(LABELS)} "
            "(the platform would read it as 'niet openbaar')"
        )
    grounds = [normalise_ground(g) for g in _split(values.get("ground", ""), ";")]
    for ground in grounds:
        if ground not in KNOWN_GROUNDS:
            problems.append(f"{where}: unknown ground code {ground!r}")
    if label in ("niet openbaar", "deels openbaar") and not grounds:
        problems.append(f"{where}: '{label}' without a Beoordelingsgrond")
    if label == "openbaar" and grounds:
        problems.append(f"{where}: 'openbaar' with a Beoordelingsgrond ({'; '.join(grounds)})")
    when = values.get("date", "").strip()
    if when and not any(_parses(when, f) for f in _DATE_FORMATS):
        problems.append(f"{where}: Datum {when!r} is not a date the platform reads (e.g. 2026-03-01)")
    family, thread = _positive(values.get("family", "")), _positive(values.get("threadid", ""))
    if family is not None and family < 1:
        problems.append(f"{where}: Family {values.get('family')!r} is not a positive integer")
    if thread is not None and thread < 1:
        problems.append(f"{where}: Thread ID {values.get('threadid')!r} is not a positive integer")
    remark = values.get("remark", "")
    if len(remark) > MAX_REMARK:
        problems.append(f"{where}: Toelichting longer than {MAX_REMARK} characters")
    links = _split(values.get("link", ""), "|")
    for link in links:
        parts = urlsplit(link)
        if len(link) > MAX_LINK or parts.scheme not in ("http", "https") or not parts.netloc or " " in link:
            problems.append(f"{where}: invalid link {link[:80]!r}")
    if label == "reeds openbaar" and not links:
        problems.append(f"{where}: 'reeds openbaar' without a Publieke link")
    for number in _split(values.get("inquiry_number", ""), ",;"):
        if not INQUIRY_NUMBER.match(number) or len(number) > 255:
            problems.append(f"{where}: Zaaknummer {number!r} is not valid on the platform (no '/')")
    matter, context = values.get("matter", "").strip(), values.get("publication_context", "").strip()
    if matter and context:
        problems.append(f"{where}: both a Matter and a Publicatiecontext")
    elif not matter and not context:
        problems.append(f"{where}: neither a Matter nor a Publicatiecontext")
    elif matter and (not MATTER.match(matter) or len(matter) > 255):
        problems.append(f"{where}: Matter {matter!r} is not valid on the platform")
    return {
        "row": index, "id": doc_id, "document": document, "beoordeling": label, "grounds": grounds,
        "datum": when, "family": family, "thread_id": thread, "file_type": values.get("sourcetype", ""),
        "toelichting": remark, "refers_to": _split(values.get("refers_to", ""), ";"), "links": links,
        "matter": matter or context,
    }  # fmt: skip


def _parses(value: str, pattern: str) -> bool:
    try:
        datetime.strptime(value, pattern)
    except ValueError:
        return False
    return True


def _across(check: ReportCheck) -> None:
    """The rules between rows: unique document numbers, references and families that hold."""
    problems, rows = check.problems, check.rows
    seen: dict[str, int] = {}
    for row in rows:
        number = f"{row['matter']}-{row['id']}".lower()
        if number in seen:
            problems.append(
                f"row {row['row']}: document {row['id']!r} already in row {seen[number]} (IDs are unique)"
            )
        seen.setdefault(number, row["row"])
    by_id = {row["id"].lower(): row for row in rows}
    for row in rows:
        for ref in row["refers_to"]:
            if ref.lower() not in by_id:
                problems.append(f"row {row['row']}: Gerelateerd ID {ref!r} names no row")
        if DUBBEL in row["grounds"] and not row["refers_to"]:
            problems.append(
                f"row {row['row']}: 'dubbel' without the Gerelateerd ID of the document it duplicates"
            )
    families: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        if row["family"] is not None and row["family"] >= 1:
            families.setdefault(row["family"], []).append(row)
    for family, members in families.items():
        head = by_id.get(str(family))
        where = f"family {family} (rows {', '.join(str(m['row']) for m in members)})"
        if head is None or head["family"] != family:
            problems.append(f"{where}: no row with ID {family} heads it")
        if len({m["thread_id"] for m in members}) > 1:
            problems.append(f"{where}: its members have different Thread IDs")
        if len({m["matter"] for m in members}) > 1:
            problems.append(f"{where}: its members have different matters")


def read_report(path: Path) -> ReportCheck:
    """Every row of a productierapport (XLSX or CSV) and every rule it breaks."""
    check = ReportCheck(str(path))
    try:
        table = _table(path, check)
    except Exception as exc:  # an unreadable file is a finding, not a crash
        check.problems.append(f"{path.name}: cannot be read ({type(exc).__name__}: {str(exc)[:200]})")
        return check
    if not table:
        check.problems.append(f"{path.name}: empty")
        return check
    columns = _headers(table[0], check)
    if check.problems and any(p.startswith("missing required") for p in check.problems):
        return check
    for number, raw in enumerate(table[1:], start=2):
        if not any(c.strip() for c in raw):
            continue  # the platform skips empty rows
        values = {key: (raw[column] if column < len(raw) else "").strip() for key, column in columns.items()}
        check.rows.append(_row(number, values, check))
    if not check.rows:
        check.problems.append(f"{path.name}: no documents")
    _across(check)
    return check
