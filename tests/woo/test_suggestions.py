"""Redaction suggestions wired into the Woo review: a captured mail with an e-mail address, a phone
number and a BSN in its body gets proposed marks of those kinds (not for a key official's own
address or name), running it again proposes nothing twice, the CLI and the service agree, and an
accepted suggestion is burned out of the published PDF while a rejected one stays."""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from capstone.access import AccessDenied
from capstone.audit.log import AuditLog
from capstone.index.model import SearchQuery
from capstone.services import open_vault, state_engine
from capstone.settings import Settings
from capstone.woo.pdf.redact import leaks
from capstone.woo.review import ReviewInputError
from connectors.simulator.server import run_simulator
from tests.capture.conftest import SEED, CaptureWorld, register_sample_officials, simulator_settings
from tests.index.helpers import PDF, mime, pdf_bytes
from tests.woo.test_review import ALDERMAN, ALDERMAN_NAME, MAYOR, MAYOR_NAME, ROLES, as_user, cli, rows

pytestmark = pytest.mark.slow
WORD = "duinvoet"
EMAIL, PHONE, BSN = "j.de.vries@adviesbureau-kust.nl", "06-12345678", "111222333"
SENDER = "Jan de Vries"
REF = "Z/2026/004242"


@pytest.fixture(scope="module")
def captured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    home = tmp_path_factory.mktemp("suggest-home")
    with run_simulator(seed=SEED, profile="small") as sim:
        configured = simulator_settings(Settings(home=home), sim)
        open_vault(configured, create=True).close()
        register_sample_officials(configured)
        world = CaptureWorld(configured, sim)
        data = mime(
            subject="Advies duinvoet",
            body=(
                f"Beste burgemeester,\n\nOver de {WORD}: bel mij op {PHONE} of mail {EMAIL}.\n"
                f"Mijn BSN staat op het formulier: {BSN}.\nDe wethouder ({ALDERMAN}) kreeg een kopie.\n\n"
                f"Met vriendelijke groet,\n{SENDER}\n"
            ),
            sender=f"{SENDER} <{EMAIL}>",
            to=f"{MAYOR_NAME} <{MAYOR}>",
            cc=f"{ALDERMAN_NAME} <{ALDERMAN}>",
            message_id="<Suggest-1@Adviesbureau-Kust.nl>",
            attachments=[
                (
                    "formulier.pdf",
                    PDF,
                    pdf_bytes(f"Aanvraagformulier {WORD}. Aanvrager: {SENDER}, BSN {BSN}."),
                )
            ],
        )
        world.sim.mutate({"op": "add-message", "mailbox": MAYOR, "folder": "Inbox",
                          "mime": base64.b64encode(data).decode()})  # fmt: skip
        runs = world.capture()
        assert runs and all(r.status == "complete" for r in runs)
        yield configured.model_copy(update={"roles": ROLES})


@pytest.fixture(scope="module")
def doc_id(captured: Settings) -> str:
    """Case REF on the mayor (anna assigned); the planted mail's id."""
    anna = as_user(captured, "anna")
    anna.woo.open_case(ref=REF, received=date(2026, 11, 2), subject="Duinvoet",
                       scope=anna.woo.resolve_scope(officials=[MAYOR_NAME]))  # fmt: skip
    hits = anna.woo.search(REF, SearchQuery(text=WORD, limit=10)).hits
    [mail] = [h for h in hits if h.kind == "mail"]
    return mail.doc_id


def test_suggestions_are_proposed_once_accepted_ones_burned_out(
    captured: Settings, doc_id: str, tmp_path: Path
) -> None:
    anna = as_user(captured, "anna")

    first = cli(captured, "anna", "woo", "suggest", "--case", REF, doc_id, "--json")
    assert first.returncode == 0, first.stderr
    proposed = json.loads(first.stdout)
    by_text = {m["text"]: m for m in proposed}
    assert by_text[EMAIL]["origin"] == "suggestion:email" and by_text[EMAIL]["ground"] == "5.1.2e"
    assert by_text[PHONE]["origin"] == "suggestion:telefoon" and by_text[PHONE]["ground"] == "5.1.2e"
    assert by_text[BSN]["origin"] == "suggestion:bsn" and by_text[BSN]["ground"] == "5.1.1e"
    assert by_text[SENDER]["origin"] == "suggestion:naam"
    assert {m["status"] for m in proposed} == {"proposed"} and {m["doc_id"] for m in proposed} == {doc_id}
    everything = " ".join(m["text"] for m in proposed).casefold()
    for official in (MAYOR, ALDERMAN, MAYOR_NAME, ALDERMAN_NAME):  # key officials act in office
        assert official.casefold() not in everything

    # idempotent: the service run after the CLI's finds the same marks and writes nothing new
    marks_before = rows(captured, "woo_redaction_marks", REF)
    again = anna.suggest(REF, doc_id)
    assert [m.mark_id for m in again] == [m["mark_id"] for m in proposed]
    assert rows(captured, "woo_redaction_marks", REF) == marks_before == len(proposed)
    audit = [e for e in AuditLog(state_engine(captured)).entries(case_ref=REF) if e.action == "suggest"]
    assert [e.outcome for e in audit] == ["allowed", "allowed"]
    assert len(audit[0].detail["marks"]) == len(proposed) and audit[1].detail["marks"] == []
    assert EMAIL not in json.dumps(audit[0].detail)  # the audit names the marks, not their text
    with pytest.raises(AccessDenied):
        as_user(captured, "otto").suggest(REF, doc_id)  # an auditor does not read it for redaction
    assert [e.outcome for e in AuditLog(state_engine(captured)).entries(case_ref=REF)][-1] == "refused"

    # accept the e-mail address, phone and BSN; reject the name: it stays in the publication
    decided = {m.text: m for m in again}
    for secret in (EMAIL, PHONE, BSN):
        assert anna.decide(REF, decided[secret].mark_id, "accept").accepted
    anna.decide(REF, decided[SENDER].mark_id, "reject")
    after = {m.text: m.status for m in anna.suggest(REF, doc_id)}  # a decision is not undone
    assert [after[t] for t in (EMAIL, PHONE, BSN, SENDER)] == ["accepted"] * 3 + ["rejected"]
    assert rows(captured, "woo_redaction_marks", REF) == marks_before + 4
    result = anna.assess(REF, [doc_id], "deels openbaar", toelichting="Persoonsgegevens gelakt")
    assert result.assessments[0].grounds == ("5.1.1e", "5.1.2e")
    [form] = anna.woo.view(REF, doc_id).attachments
    anna.assess(REF, [form.doc_id], "niet openbaar", grounds=["5.1.1e"])  # the family is assessed whole

    out = tmp_path / "publicatie"
    report = anna.publish(REF, out)
    [pdf] = list((out / "documenten").iterdir())
    shown = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert WORD in shown and SENDER in " ".join(shown.split())
    for secret in (EMAIL, PHONE, BSN):
        assert secret not in shown
    assert leaks(pdf.read_bytes(), [EMAIL, PHONE, BSN]) == []
    assert report.pdfs == 1 and anna.verify_package(out).ok


def test_a_document_outside_the_case_gets_no_suggestions(captured: Settings, doc_id: str) -> None:
    anna = as_user(captured, "anna")
    ref = "2026-0999"
    anna.woo.open_case(ref=ref, received=date(2026, 11, 2), subject="Ander verzoek",
                       scope=anna.woo.resolve_scope(officials=[ALDERMAN_NAME]))  # fmt: skip
    with pytest.raises(AccessDenied, match="outside the scope"):
        anna.suggest(ref, doc_id)
    assert rows(captured, "woo_redaction_marks", ref) == 0


def test_an_attachment_gets_the_names_of_its_mail_and_a_document_without_pdf_is_refused(
    captured: Settings, doc_id: str
) -> None:
    anna = as_user(captured, "anna")
    [attachment] = [a for a in anna.woo.view(REF, doc_id).attachments if a.filename == "formulier.pdf"]
    found = {m.text: m for m in anna.suggest(REF, attachment.doc_id)}
    assert found[BSN].origin == "suggestion:bsn" and found[BSN].ground == "5.1.1e"
    assert found[SENDER].origin == "suggestion:naam"  # the name comes from the mail's headers and signature
    assert {m.doc_id for m in found.values()} == {attachment.doc_id}

    items = anna.woo.search(REF, SearchQuery(kinds=("item",), limit=1)).hits
    assert items, "the captured mailbox holds calendar/contacts/tasks export streams (kind item)"
    before = rows(captured, "woo_redaction_marks", REF)
    with pytest.raises(ReviewInputError, match="has no PDF to look at: geen rendition"):
        anna.suggest(REF, items[0].doc_id)
    assert rows(captured, "woo_redaction_marks", REF) == before
    last = list(AuditLog(state_engine(captured)).entries(case_ref=REF))[-1]
    assert (last.action, last.outcome) == ("suggest", "refused")
