"""The productierapport reader written from the Woo platform's rules (minvws/nl-rdo-woo-web): a good
report passes, and every broken rule is refused with its own message; the judgement and ground
vocabulary; case references as case systems write them."""

from __future__ import annotations

import csv
import re
from dataclasses import replace
from pathlib import Path

import pytest

from capstone.woo.cases import CaseError, ref_slug, ref_zaaknummer, validate_ref
from capstone.woo.grounds import GroundError, Judgement, grounds_cell, parse_grounds
from capstone.woo.platform_reader import read_report
from capstone.woo.productierapport import COLUMNS, ReportRow, write_csv, write_report, write_xlsx

REF = "Z/2026/001234"


def good_rows() -> list[ReportRow]:
    base = ReportRow(
        id="1", document="1.pdf", beoordeling="deels openbaar", beoordelingsgrond="5.1.2e", datum="2026-03-02",
        family=1, thread_id=1, file_type="email", toelichting="", gerelateerd_id="", publieke_link="",
        zaaknummer=ref_zaaknummer(REF), matter=ref_slug(REF),
    )  # fmt: skip
    return [
        base,
        replace(base, id="2", document="2.pdf", beoordeling="openbaar", beoordelingsgrond="", file_type="pdf"),
        replace(base, id="3", document="3", beoordeling="niet openbaar", beoordelingsgrond="5.1.2e; 5.1.2i",
                file_type="doc"),
        replace(base, id="4", document="4", beoordeling="niet openbaar", beoordelingsgrond="dubbel", family=4,
                thread_id=1, gerelateerd_id="1"),
        replace(base, id="5", document="5", beoordeling="reeds openbaar", beoordelingsgrond="", family=5,
                thread_id=None, file_type="note", publieke_link="https://open.minvws.nl/dossier/x"),
    ]  # fmt: skip


@pytest.mark.parametrize("name", ["productierapport.xlsx", "productierapport.csv"])
def test_a_good_report_passes_in_both_formats(tmp_path: Path, name: str) -> None:
    write_report(tmp_path, good_rows())
    check = read_report(tmp_path / name)
    assert check.ok, check.problems
    assert [r["id"] for r in check.rows] == ["1", "2", "3", "4", "5"]
    assert check.rows[2]["grounds"] == ["5.1.2e", "5.1.2i"] and check.rows[0]["matter"] == "Z_2026_001234"


BROKEN: list[tuple[str, int, dict[str, object], str]] = [
    ("unknown judgement", 1, {"beoordeling": "gedeeltelijk"}, "is not one of"),
    ("unknown ground", 2, {"beoordelingsgrond": "5.1.9z"}, "unknown ground code"),
    ("niet openbaar without a ground", 2, {"beoordelingsgrond": ""}, "without a Beoordelingsgrond"),
    ("deels openbaar without a ground", 0, {"beoordelingsgrond": ""}, "without a Beoordelingsgrond"),
    ("openbaar with a ground", 1, {"beoordelingsgrond": "5.1.2e"}, "'openbaar' with a Beoordelingsgrond"),
    ("duplicate ID", 1, {"id": "1", "family": 1}, "already in row"),
    ("invalid ID", 1, {"id": "2/a"}, "invalid document ID"),
    ("empty ID", 1, {"id": ""}, "no document ID"),
    ("family without head", 2, {"family": 99}, "no row with ID 99 heads it"),
    ("family with two threads", 1, {"thread_id": 7}, "different Thread IDs"),
    ("family zero", 2, {"family": 0}, "not a positive integer"),
    ("dubbel without related id", 3, {"gerelateerd_id": ""}, "'dubbel' without the Gerelateerd ID"),
    ("related id of no row", 3, {"gerelateerd_id": "42"}, "names no row"),
    ("reeds openbaar without link", 4, {"publieke_link": ""}, "without a Publieke link"),
    ("bad link", 4, {"publieke_link": "open.minvws.nl/x"}, "invalid link"),
    ("zaaknummer with a slash", 0, {"zaaknummer": REF}, "Zaaknummer"),
    ("matter with a slash", 4, {"matter": REF}, "Matter"),
    ("no matter", 4, {"matter": ""}, "neither a Matter"),
    ("bad date", 0, {"datum": "2 maart"}, "not a date"),
    ("long toelichting", 0, {"toelichting": "x" * 1001}, "longer than 1000"),
    ("long document name", 0, {"document": "d" * 501}, "longer than 500 bytes"),
]


@pytest.mark.parametrize(("case", "row", "change", "message"), BROKEN, ids=[b[0] for b in BROKEN])
@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_each_broken_rule_is_refused(
    tmp_path: Path, case: str, row: int, change: dict[str, object], message: str, fmt: str
) -> None:
    rows = good_rows()
    rows[row] = replace(rows[row], **change)  # type: ignore[arg-type]
    path = tmp_path / f"productierapport.{fmt}"
    (write_xlsx if fmt == "xlsx" else write_csv)(path, rows)
    check = read_report(path)
    assert not check.ok, f"{case} passed"
    assert any(message in p for p in check.problems), check.problems


def test_a_missing_required_column_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "productierapport.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([c for c in COLUMNS if c != "Beoordelingsgrond"])
        writer.writerow(["1", "1.pdf", "openbaar", "2026-03-02", "1", "1", "email", "", "", "", "Z-1", "Z_1"])
    check = read_report(path)
    assert check.problems == ["missing required column(s): beoordelingsgrond"]


def test_a_semicolon_csv_with_byte_order_mark_is_what_the_platform_cannot_read(tmp_path: Path) -> None:
    """The export's inventarislijst.csv style (``;``, BOM) would lose its columns on the platform."""
    path = tmp_path / "productierapport.csv"
    with open(path, "w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(COLUMNS)
        writer.writerow(good_rows()[1].texts())
    check = read_report(path)
    assert any("byte order mark" in p for p in check.problems)
    assert any(p.startswith("missing required column") for p in check.problems)


def test_headers_are_matched_as_the_platform_does(tmp_path: Path) -> None:
    """Lower-cased, trimmed, leading digits dropped, aliases (``Openbaarmaking``, ``grond``)."""
    path = tmp_path / "productierapport.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([" 1 ID ", "Omschrijving", "OPENBAARMAKING", "grond", "Matter"])
        writer.writerow(["10", "10.pdf", "Niet openbaar", "5.1.2.e", "Z_1"])
    check = read_report(path)
    assert check.ok, check.problems
    assert check.rows[0]["beoordeling"] == "niet openbaar" and check.rows[0]["grounds"] == ["5.1.2e"]


def test_judgements_and_grounds_in_the_platforms_vocabulary() -> None:
    assert Judgement.parse(" Deels Openbaar ") is Judgement.PARTIAL_PUBLIC
    assert Judgement.parse("partial_public") is Judgement.PARTIAL_PUBLIC
    assert [j.label for j in Judgement] == ["openbaar", "deels openbaar", "reeds openbaar", "niet openbaar"]
    assert [j.published for j in Judgement] == [True, True, False, False]
    with pytest.raises(GroundError, match="unknown judgement"):
        Judgement.parse("dubbel")
    assert parse_grounds(["5.1.2.e", "5.1.1d; 5.2", "5.1.2e"]) == ("5.1.1d", "5.1.2e", "5.2")
    assert grounds_cell(["5.4", "5.1.5", "dubbel"]) == "5.1.5; 5.4; dubbel"
    with pytest.raises(GroundError, match=re.escape("unknown ground code '5.1.3a'")):
        parse_grounds(["5.1.3a"])
    with pytest.raises(GroundError, match="Wob ground"):
        parse_grounds(["10.2e"])


def test_case_references_as_case_systems_write_them() -> None:
    assert validate_ref("z/2026/001234") == "Z/2026/001234"
    assert validate_ref("Z_2026_001234") == "Z/2026/001234"  # its slug names the same case
    assert validate_ref("2026-0147") == "2026-0147" and validate_ref("WOO-2026-014") == "WOO-2026-014"
    assert ref_slug("Z/2026/001234") == "Z_2026_001234" and ref_zaaknummer("Z/2026/001234") == "Z-2026-001234"
    for bad in ("../etc", "Z//1", "/Z1", "Z1/", "a b", "", "x" * 65, "Z\\1", "Z:1"):
        with pytest.raises(CaseError, match="invalid case reference"):
            validate_ref(bad)
