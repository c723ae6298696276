"""Attachment extraction bounded in time and memory; over a limit: a note, once per blob."""

from __future__ import annotations

from pathlib import Path

import pytest

from capstone.index.sandbox import NOTE_PREFIX, ExtractionSandbox, RefusalLedger, SandboxLimits
from tests.index.helpers import docx_bytes, pdf_bytes
from tests.index.hostile import DOCX_TYPE, PDF_TYPE, XLSX_TYPE, heavy_pdf, inflating_docx, padded_xlsx

pytestmark = pytest.mark.slow


def test_hostile_documents_end_at_their_limit_with_a_note(tmp_path: Path) -> None:
    # Unbounded on this machine: the XLSX parses for ~20 s, the DOCX grows to ~1.5 GB, the PDF both.
    ledger = RefusalLedger(tmp_path / "refusals.sqlite3")
    by_time = ExtractionSandbox(SandboxLimits(seconds=2, memory_mb=2048), ledger)
    by_memory = ExtractionSandbox(SandboxLimits(seconds=60, memory_mb=384), ledger)
    try:
        notes: list[str] = []
        assert by_time.extract(padded_xlsx(), XLSX_TYPE, "begroting.xlsx", notes) == ""
        assert notes == [f"{NOTE_PREFIX}tijdslimiet van 2 s overschreden"]

        notes = []
        assert by_memory.extract(inflating_docx(), DOCX_TYPE, "nota.docx", notes) == ""
        assert notes == [f"{NOTE_PREFIX}geheugenlimiet van 384 MB overschreden"]

        notes = []
        assert by_time.extract(heavy_pdf(), PDF_TYPE, "rapport.pdf", notes) == ""
        assert notes == [f"{NOTE_PREFIX}tijdslimiet van 2 s overschreden"]
        assert by_time.kills == 2 and by_memory.kills == 1

        # The sandbox goes on with ordinary documents after a kill.
        notes = []
        text = by_memory.extract(docx_bytes(["Besluit over de sluis."]), DOCX_TYPE, "besluit.docx", notes)
        assert "Besluit over de sluis." in text and notes == []
        text = by_time.extract(pdf_bytes("Advies over de haven."), PDF_TYPE, "advies.pdf", notes)
        assert "Advies over de haven." in text and notes == []
    finally:
        by_time.close()
        by_memory.close()


def test_a_refused_blob_is_not_parsed_again_until_a_limit_is_raised(tmp_path: Path) -> None:
    data = padded_xlsx(rows=200)
    path = tmp_path / "refusals.sqlite3"
    first = ExtractionSandbox(SandboxLimits(seconds=1), RefusalLedger(path))
    notes: list[str] = []
    first.extract(data, XLSX_TYPE, "a.xlsx", notes)
    first.close()
    assert first.kills == 1 and notes[0].startswith(NOTE_PREFIX)
    [refusal] = RefusalLedger(path).all()
    assert refusal.reason == "tijdslimiet van 1 s overschreden" and refusal.limits.seconds == 1

    # Another process of the installation, the same bytes under another name: no parse, same note.
    again = ExtractionSandbox(SandboxLimits(seconds=1), RefusalLedger(path))
    notes = []
    assert again.extract(data, XLSX_TYPE, "kopie.xlsx", notes) == ""
    assert notes == [f"{NOTE_PREFIX}tijdslimiet van 1 s overschreden"]
    assert again.kills == 0 and again._child is None  # no process was even started

    # A higher limit makes it eligible again (and here it is enough).
    raised = ExtractionSandbox(SandboxLimits(seconds=120), RefusalLedger(path))
    notes = []
    try:
        assert "rij 200" in raised.extract(data, XLSX_TYPE, "a.xlsx", notes)
        assert notes == []
    finally:
        raised.close()


def test_the_sandbox_runs_capstones_code_whatever_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Started in a folder that holds a package named ``capstone`` of its own, the sandbox process
    still runs Capstone's extraction (``capstone.pychild``), not that folder's code."""
    (tmp_path / "capstone").mkdir()
    (tmp_path / "capstone" / "__init__.py").write_text('raise SystemExit("not the capstone package")\n')
    monkeypatch.chdir(tmp_path)
    sandbox = ExtractionSandbox(
        SandboxLimits(seconds=60, memory_mb=1024), RefusalLedger(tmp_path / "r.sqlite3")
    )
    try:
        notes: list[str] = []
        text = sandbox.extract(pdf_bytes("Advies over de haven."), PDF_TYPE, "advies.pdf", notes)
        assert "Advies over de haven." in text and notes == []
    finally:
        sandbox.close()
