"""Real-world mail end to end: the edge-case corpus (``tests/mail/corpus``, one file per class) and
messages sharing one Message-ID across two mailboxes are imported into the simulated tenant
(``--import``), captured byte-exact, found by a word, opened with ``woo view`` and exported, each as
its original with a rendition or a recorded rendition error; ``verify-export`` passes; an export that
fails leaves nothing behind and is audited; no command prints a traceback."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from capstone.index.model import SearchQuery
from capstone.registry.service import Registry
from capstone.services import state_engine
from capstone.settings import Settings
from capstone.woo import export as export_module
from capstone.woo.export import ExportError
from capstone.woo.service import WooService
from connectors.simulator.server import run_simulator
from tests.access import admin_config
from tests.capture.conftest import SEED, CaptureWorld, register_sample_officials, simulator_settings
from tests.mail.corpus_cases import CASES, CORPUS, SHARED_ID

GRIFFIER = "griffier@gemeente-demo.nl"
MAYOR = "burgemeester@gemeente-demo.nl"
ROLES = {"anna": ["woo-officer"], "otto": ["auditor"]}
CASE = "WOO-2026-015"
THROUGH_THE_CLI = {"bounce_group_address.eml", "charset_unknown_8bit.eml", "oversized_to_header.eml"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CaptureWorld]:
    home = tmp_path_factory.mktemp("real-world-mail")
    settings = Settings(home=home)
    mayor_copies = home / "mayor-copies"
    mayor_copies.mkdir()
    for name in ("copy_1.eml", "copy_3.eml"):  # copy_1 byte-identical in both mailboxes
        shutil.copy(SHARED_ID / name, mayor_copies / name)
    cpython = home / "cpython-eml"  # CPython's own email test messages, as .eml files
    cpython.mkdir()
    for path in _cpython_messages():
        (cpython / f"{path.stem}.eml").write_bytes(path.read_bytes())
    imports = (
        (str(CORPUS), GRIFFIER, "Inbox/Corpus"),  # rglob: also shared_id/copy_1, 2 and 3
        (str(mayor_copies), MAYOR, "Inbox/Gedeeld"),
        (str(cpython), GRIFFIER, "Inbox/CPython"),
    )
    with run_simulator(seed=SEED, profile="small", imports=imports) as sim:
        configured = simulator_settings(settings, sim).model_copy(update={"user": "anna", "roles": ROLES})
        world = CaptureWorld(configured, sim)
        world.vault_init().close()
        register_sample_officials(configured)
        results = world.capture(source=None)
        assert results and all(r.status == "complete" for r in results), [
            (r.source, r.status) for r in results
        ]
        woo = WooService(configured)
        everyone = sorted({d.name for d in Registry(state_engine(configured)).designations()})
        woo.open_case(
            ref=CASE,
            received=date(2026, 11, 20),
            subject="Echte post",
            scope=woo.resolve_scope(officials=everyone),
        )
        yield world


def capstone(world: CaptureWorld, user: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAPSTONE_")}
    env.update(
        CAPSTONE_HOME=str(world.settings.home),
        CAPSTONE_CONFIG=str(admin_config(world.settings.home, user, ROLES)),
    )
    result = subprocess.run(
        [sys.executable, "-m", "capstone.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def _cpython_messages() -> list[Path]:
    source = Path(sysconfig.get_paths()["stdlib"]) / "test" / "test_email" / "data"
    messages = sorted(source.glob("msg_*.txt"))
    if len(messages) < 40:
        pytest.fail(f"CPython's email test messages are not installed at {source}")
    return messages


def _corpus_files() -> list[Path]:
    return sorted(p for p in CORPUS.rglob("*.eml"))


def _rows(out: Path) -> list[dict[str, str]]:
    with open(out / "inventarislijst.csv", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle, delimiter=";"))


def _corpus_query() -> SearchQuery:
    return SearchQuery(text="", accounts=(GRIFFIER, MAYOR), limit=500)


def test_every_class_is_captured_byte_exact_found_and_viewed(world: CaptureWorld) -> None:
    vault = world.vault()
    try:
        captured = {
            vault.read_blob(r.blob_sha256)
            for r in vault.iter_records("mail-message")
            if r.source["folder_path"] in ("Inbox/Corpus", "Inbox/Gedeeld") and r.blob_sha256
        }
    finally:
        vault.close()
    assert captured == {p.read_bytes() for p in _corpus_files()}
    vault = world.vault()
    try:
        cpython = {
            vault.read_blob(r.blob_sha256)
            for r in vault.iter_records("mail-message")
            if r.source["folder_path"] == "Inbox/CPython" and r.blob_sha256
        }
    finally:
        vault.close()
    assert cpython == {p.read_bytes() for p in _cpython_messages()}
    woo = WooService(world.settings)
    for case in CASES:
        assert case.word is not None
        result = woo.search(CASE, SearchQuery(text=case.word, limit=50))
        mails = {h.parent_id or h.doc_id for h in result.hits if h.account == GRIFFIER}
        assert len(mails) == 1, (case.file, [h.title for h in result.hits])
        mail_id = mails.pop()
        opened = woo.view(CASE, mail_id)  # what `woo view` shows
        assert len(opened.attachments) == case.attachments, case.file
        if case.subject:
            assert opened.document.subject == case.subject
        if case.file in THROUGH_THE_CLI:
            shown = capstone(world, "anna", "woo", "view", "--case", CASE, mail_id, "--json")
            assert shown.returncode == 0, shown.stderr
            assert json.loads(shown.stdout)["document"]["subject"] == opened.document.subject
    # one Message-ID, three different messages (copy_1 also byte-identical in the mayor's mailbox)
    shared = woo.search(CASE, SearchQuery(text="bouwblok", limit=10)).hits
    assert len(shared) == 5  # the corpus import holds all three, the mayor's folder copy_1 and copy_3
    first = next(h for h in shared if h.title == "Bouwblok variant 1" and h.account == GRIFFIER)
    view = woo.view(CASE, first.doc_id)
    assert [d.account for d in view.duplicates] == [MAYOR]
    assert sorted(d.subject for d in view.related) == [f"Bouwblok variant {n}" for n in (2, 3, 3)]
    unreadable = woo.search(CASE, SearchQuery(text="kademuur", limit=5)).hits[0]
    assert any("kon niet worden gedecodeerd" in n for n in woo.view(CASE, unreadable.doc_id).document.notes)


def test_export_holds_every_original_related_and_duplicate(world: CaptureWorld, tmp_path: Path) -> None:
    out = tmp_path / "export"
    done = capstone(world, "anna", "woo", "export", "--case", CASE, "--out", str(out),
                    "--query", "", "--account", GRIFFIER, "--account", MAYOR)  # fmt: skip
    assert done.returncode == 0, done.stderr
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    originals = {f["sha256"] for f in manifest["files"] if f["role"] == "original"}
    import hashlib

    assert {hashlib.sha256(p.read_bytes()).hexdigest() for p in _corpus_files()} <= originals
    assert {hashlib.sha256(p.read_bytes()).hexdigest() for p in _cpython_messages()} <= originals
    # every original has a rendition or a recorded rendition error
    for entry in (f for f in manifest["files"] if f["role"] == "original" and f["path"].endswith(".eml")):
        renditions = [
            f
            for f in manifest["files"]
            if f["role"] == "rendition" and f["document_id"] == entry["document_id"]
        ]
        assert renditions or entry["rendition_error"], entry["path"]
    # attachments carry the index's document ids
    index_ids = {f["record_ids"][0] for f in manifest["files"] if f["role"] == "attachment"}
    woo = WooService(world.settings)
    for doc_id in index_ids:
        assert woo.view(CASE, doc_id).document.kind == "attachment"
    rows = _rows(out)
    shared = [r for r in rows if "bouwblok" in r["Toelichting"].lower()]
    first = next(r for r in rows if r["Toelichting"].startswith("Bouwblok variant 1"))
    related = [r for r in rows if r["Toelichting"].startswith(("Bouwblok variant 2", "Bouwblok variant 3"))]
    duplicates = [r for r in rows if r["Beoordeling"] == "dubbel" and r["Gerelateerd ID"] == first["ID"]]
    assert len(related) == 2 and all(r["Gerelateerd ID"] == first["ID"] for r in related), shared
    assert len(duplicates) == 1 and duplicates[0]["SHA-256"] == first["SHA-256"]
    names = {r["Bestandsnaam"] for r in rows}
    assert {"_CON", "_NUL.txt", "_com1.pdf"} <= names
    assert any(n.startswith("会議録") and n.endswith(".docx") for n in names)
    assert any(n.startswith("verslag-") and n.endswith(".pdf") for n in names)
    checked = capstone(world, "otto", "woo", "verify-export", str(out))
    assert checked.returncode == 0, checked.stdout
    # a row whose SHA-256 matches no exported file is caught
    text = (out / "inventarislijst.csv").read_text(encoding="utf-8-sig")
    (out / "inventarislijst.csv").write_text(text.replace(first["SHA-256"], "0" * 64), encoding="utf-8-sig")
    report = woo.verify_export(out)
    assert not report.ok and any("matches no exported file" in p for p in report.problems)


def test_a_failing_rendition_keeps_the_original(
    world: CaptureWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = export_module.render_mail

    def fragile(structure: Any, subject: str, sources: list[str]) -> str:
        if "kademuur" in subject:
            raise ValueError("deliberately unreadable part")
        return real(structure, subject, sources)

    monkeypatch.setattr(export_module, "render_mail", fragile)
    out = tmp_path / "export"
    report = WooService(world.settings).export(CASE, out, _corpus_query())
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    broken = [f for f in manifest["files"] if f.get("rendition_error")]
    assert len(broken) == 1 and "deliberately unreadable part" in broken[0]["rendition_error"]
    originals = {f["sha256"] for f in manifest["files"] if f["role"] == "original"}
    import hashlib

    assert {hashlib.sha256(p.read_bytes()).hexdigest() for p in _corpus_files()} <= originals
    row = next(r for r in _rows(out) if "kademuur" in r["Toelichting"] and r["File type"] == "email")
    assert "rendition mislukt" in row["Toelichting"]
    assert report.documents >= len(_corpus_files())
    assert WooService(world.settings).verify_export(out).ok


def test_a_failed_export_leaves_nothing_and_is_audited(
    world: CaptureWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = export_module._Exporter._original
    calls: list[str] = []

    def failing(self: Any, doc: Any, sha256: str, extension: str) -> Any:
        calls.append(doc.record_id)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real(self, doc, sha256, extension)

    monkeypatch.setattr(export_module._Exporter, "_original", failing)
    out = tmp_path / "export"
    woo = WooService(world.settings)
    with pytest.raises(ExportError) as caught:
        woo.export(CASE, out, _corpus_query())
    message = str(caught.value)
    assert "\n" not in message and "No space left" in message
    assert f"{calls[2]} (document WOO-2026-015-" in message  # names the document that failed
    assert not out.exists() and list(tmp_path.iterdir()) == []
    audit = WooService(world.settings.model_copy(update={"user": "otto"})).audit_entries(CASE)
    failed = [e for e in audit if e["action"] == "export" and e["outcome"] == "failed"]
    assert len(failed) == 1 and "No space left" in failed[0]["detail"]["error"]
