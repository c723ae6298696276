"""The Woo review against a captured tenant: assessments in the platform's vocabulary, refused bad
input that writes nothing, families whose members differ, copies that follow their original,
append-only history in the audit log, the collegiale toets that holds publication back."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from capstone.access import AccessDenied
from capstone.audit.log import AuditLog
from capstone.index.model import SearchQuery
from capstone.services import open_vault, state_engine
from capstone.settings import Settings
from capstone.woo.grounds import Judgement
from capstone.woo.pdf.redact import leaks
from capstone.woo.platform_reader import read_report
from capstone.woo.review import MarkInput, ReviewInputError
from capstone.woo.review_service import ApprovalRequiredError, WooReview
from capstone.woo.service import WooService
from connectors.simulator.server import run_simulator
from tests.access import admin_config
from tests.capture.conftest import SEED, CaptureWorld, register_sample_officials, simulator_settings
from tests.index.helpers import DOCX, PDF, docx_bytes, mime, pdf_bytes

pytestmark = pytest.mark.slow
MAYOR, ALDERMAN = "burgemeester@gemeente-demo.nl", "wethouder.ruimte@gemeente-demo.nl"
MAYOR_NAME, ALDERMAN_NAME = "Marieke van Dalen", "Fatima El Amrani"
WORD, SECRET_WORD = "zeewering", "kustpaal"
EMAIL, PHONE = "j.de.vries@adviesbureau-kust.nl", "06-12345678"
ROLES = {"anna": ["woo-officer"], "bert": ["woo-officer"], "otto": ["auditor"]}


def plant(world: CaptureWorld) -> None:
    """A mail about the ``zeewering`` with two attachments, in the mayor's and the alderman's
    mailboxes (exact copies), and a second mail only the mayor has."""
    data = mime(
        subject="Advies zeewering",
        body=f"Beste college,\n\nHet advies over de {WORD}. Vragen: {EMAIL} of {PHONE}.\n\nJan de Vries",
        sender=f"Marieke van Dalen <{MAYOR}>",
        to=f"Fatima El Amrani <{ALDERMAN}>",
        message_id="<Review-1@Gemeente-Demo.nl>",
        attachments=[
            ("advies.pdf", PDF, pdf_bytes(f"Advies over de {WORD}: ophogen.")),
            ("kosten.docx", DOCX, docx_bytes([f"Kosten van de {WORD}: vertrouwelijk."])),
        ],
    )
    for mailbox, folder in ((MAYOR, "Sent Items"), (ALDERMAN, "Inbox")):
        world.sim.mutate({"op": "add-message", "mailbox": mailbox, "folder": folder,
                          "mime": base64.b64encode(data).decode()})  # fmt: skip
    memo = mime(
        subject="Memo",
        body=f"Over de {SECRET_WORD} en de {WORD}: intern beraad.",
        sender=f"Marieke van Dalen <{MAYOR}>",
        to=f"Fatima El Amrani <{ALDERMAN}>",
        message_id="<Review-2@Gemeente-Demo.nl>",
    )
    world.sim.mutate({"op": "add-message", "mailbox": MAYOR, "folder": "Drafts",
                      "mime": base64.b64encode(memo).decode()})  # fmt: skip


@pytest.fixture(scope="module")
def captured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    home = tmp_path_factory.mktemp("review-home")
    with run_simulator(seed=SEED, profile="small") as sim:
        configured = simulator_settings(Settings(home=home), sim)
        open_vault(configured, create=True).close()
        register_sample_officials(configured)
        world = CaptureWorld(configured, sim)
        plant(world)
        runs = world.capture(source=None)
        assert runs and all(r.status == "complete" for r in runs)
        yield configured.model_copy(update={"roles": ROLES})


def as_user(settings: Settings, user: str) -> WooReview:
    return WooReview(WooService(settings.model_copy(update={"user": user})))


def open_case(settings: Settings, ref: str) -> tuple[WooReview, dict[str, Any]]:
    """A case with both officials in scope, bert assigned too; the planted documents by name."""
    anna = as_user(settings, "anna")
    anna.woo.open_case(ref=ref, received=date(2026, 11, 2), subject="Zeewering",
                       scope=anna.woo.resolve_scope(officials=[MAYOR_NAME, ALDERMAN_NAME]))  # fmt: skip
    anna.woo.assign(ref, "bert")
    hits = anna.woo.search(ref, SearchQuery(text=WORD, limit=50)).hits
    mails = sorted(
        (h for h in hits if h.kind == "mail" and h.title == "Advies zeewering"), key=lambda h: h.account
    )
    mayor_mail = next(h for h in mails if h.account == MAYOR)
    view = anna.woo.view(ref, mayor_mail.doc_id)
    docs = {
        "mail": mayor_mail.doc_id,
        "copy": next(h.doc_id for h in mails if h.account == ALDERMAN),
        "pdf": next(a.doc_id for a in view.attachments if a.filename == "advies.pdf"),
        "docx": next(a.doc_id for a in view.attachments if a.filename == "kosten.docx"),
        "memo": next(h.doc_id for h in hits if h.kind == "mail" and h.title == "Memo"),
    }
    return anna, docs


def rows(settings: Settings, table: str, ref: str) -> int:
    with state_engine(settings).connect() as conn:
        return int(
            conn.execute(text(f"SELECT count(*) FROM {table} WHERE ref = :r"), {"r": ref}).scalar() or 0
        )


def test_bad_input_is_refused_with_a_clear_message_and_nothing_written(captured: Settings) -> None:
    ref = "Z/2026/001234"
    anna, docs = open_case(captured, ref)
    refused = [
        (dict(doc_ids=[docs["memo"]], judgement="niet openbaar", grounds=["5.1.9"]), "unknown ground code '5.1.9'"),
        (dict(doc_ids=[docs["memo"]], judgement="niet openbaar"), "'niet openbaar' needs at least one ground"),
        (dict(doc_ids=[docs["mail"]], judgement="deels openbaar", grounds=["5.1.2e"]),
         "'deels openbaar' needs at least one redaction"),
        (dict(doc_ids=[docs["mail"]], judgement="deels openbaar"), "'deels openbaar' needs at least one redaction"),
        (dict(doc_ids=[docs["mail"]], judgement="gedeeltelijk"), "unknown judgement 'gedeeltelijk'"),
        (dict(doc_ids=[docs["mail"]], judgement="openbaar", grounds=["5.1.2e"]), "'openbaar' takes no ground"),
        (dict(doc_ids=[docs["mail"]], judgement="reeds openbaar"), "needs the link"),
        (dict(doc_ids=[docs["mail"]], judgement="reeds openbaar", link="javascript:alert(1)"), "not a valid link"),
        (dict(doc_ids=["no-such-doc"], judgement="openbaar"), "no document 'no-such-doc'"),
        (dict(doc_ids=[docs["mail"]], judgement="deels openbaar",
              marks=[MarkInput("text", "5.1.7x", text=EMAIL)]), "unknown ground code '5.1.7x'"),
    ]  # fmt: skip
    for kwargs, message in refused:
        with pytest.raises(ReviewInputError, match=re.escape(message)):
            anna.assess(ref, **kwargs)  # type: ignore[arg-type]
    assert rows(captured, "woo_assessments", ref) == 0 and rows(captured, "woo_redaction_marks", ref) == 0
    refusals = [e for e in AuditLog(state_engine(captured)).entries(case_ref=ref) if e.action == "assess"]
    assert len(refusals) == len(refused) and {e.outcome for e in refusals} == {"refused"}
    # an auditor assesses nothing; neither does an officer not assigned to the case
    with pytest.raises(AccessDenied):
        as_user(captured, "otto").assess(ref, [docs["memo"]], "openbaar")


def test_a_family_whose_members_differ_and_a_copy_that_follows(captured: Settings) -> None:
    ref = "2026-0147"
    anna, docs = open_case(captured, ref)
    first = anna.assess(ref, [docs["mail"]], "openbaar", family=True, toelichting="Advies")
    assert {a.doc_id for a in first.assessments} == {docs["mail"], docs["pdf"], docs["docx"]}
    anna.assess(ref, [docs["mail"]], "Deels openbaar",
                marks=[MarkInput("text", "5.1.2e", text=EMAIL), MarkInput("text", "5.1.2e", text=PHONE)])  # fmt: skip
    anna.assess(ref, [docs["docx"]], "niet openbaar", grounds=["5.1.2.i"], toelichting="Intern")
    anna.assess(ref, [docs["memo"]], "niet openbaar", grounds=["5.2"])

    effective = {e.doc_id: e for e in anna.assessments(ref)}
    assert effective[docs["mail"]].assessment.judgement is Judgement.PARTIAL_PUBLIC
    assert effective[docs["mail"]].assessment.grounds == ("5.1.2e",)  # the marks' ground
    assert effective[docs["pdf"]].assessment.judgement is Judgement.PUBLIC
    assert effective[docs["docx"]].assessment.grounds == ("5.1.2i",)
    copy = effective[docs["copy"]]  # the alderman's copy was never assessed: it follows the mayor's
    assert copy.follows == docs["mail"] and copy.assessment.judgement is Judgement.PARTIAL_PUBLIC
    followers = [e for e in effective.values() if e.follows and e.document.kind == "attachment"]
    assert {e.follows for e in followers} == {docs["pdf"], docs["docx"]}

    history = anna.history(ref, docs["mail"])  # append-only: both assessments kept, who and when
    assert [h.judgement for h in history] == [Judgement.PUBLIC, Judgement.PARTIAL_PUBLIC]
    assert {h.assessed_by for h in history} == {"anna"}
    marks = anna.marks(ref, docs["mail"])
    assert sorted(m.text or "" for m in marks) == sorted([EMAIL, PHONE]) and all(m.accepted for m in marks)

    # assessed apart, the copy no longer follows
    anna.assess(ref, [docs["copy"]], "niet openbaar", grounds=["dubbel"], toelichting="Kopie")
    assert next(e for e in anna.assessments(ref) if e.doc_id == docs["copy"]).follows is None

    with state_engine(captured).begin() as conn, pytest.raises(Exception, match="append-only"):
        conn.execute(text("UPDATE woo_assessments SET judgement = 'public'"))
    audit = [e for e in AuditLog(state_engine(captured)).entries(case_ref=ref) if e.action == "assess"]
    assert [e.outcome for e in audit] == ["allowed"] * 5 and audit[1].detail["marks"]
    assert EMAIL not in str(audit[1].detail)  # the audit names the marks, not their text


def test_the_collegiale_toets_holds_publication_back(captured: Settings, tmp_path: Path) -> None:
    ref = "WOO-2026-019"
    anna, docs = open_case(captured, ref)
    anna.assess(ref, [docs["memo"]], "niet openbaar", grounds=["5.2"])
    anna.require_approval(ref)
    out = tmp_path / "package"
    with pytest.raises(ApprovalRequiredError, match="requires a collegiale toets"):
        anna.publish(ref, out)
    assert not out.exists() and not list(tmp_path.iterdir())
    with pytest.raises(AccessDenied, match="a second officer approves"):
        anna.approve(ref)  # who assessed does not approve
    bert = as_user(captured, "bert")
    state = bert.approve(ref, note="akkoord")
    assert state.approved and state.approval is not None and state.approval.approver == "bert"
    anna.assess(ref, [docs["memo"]], "niet openbaar", grounds=["5.2", "5.1.2i"])  # a change after approval
    assert not anna.state(ref).approved
    with pytest.raises(ApprovalRequiredError, match="changed after bert's approval"):
        anna.publish(ref, out)
    assert not out.exists()
    actions = [(e.action, e.outcome) for e in AuditLog(state_engine(captured)).entries(case_ref=ref)]
    assert (
        ("publish", "refused") in actions
        and ("approve", "refused") in actions
        and ("approve", "allowed") in actions
    )


def cli(settings: Settings, user: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAPSTONE_")}
    env.update(
        CAPSTONE_HOME=str(settings.home), CAPSTONE_CONFIG=str(admin_config(settings.home, user, ROLES))
    )
    return subprocess.run([sys.executable, "-m", "capstone.cli.main", *args], env=env, capture_output=True,
                          text=True, timeout=600)  # fmt: skip


def test_from_search_to_a_package_the_platform_takes(captured: Settings, tmp_path: Path) -> None:
    """Assess a family partly public (two redactions in the mail, one attachment withheld) and a
    memo not public, approve, publish: exactly the expected PDFs, the redacted strings gone, a
    productierapport the platform's rules accept, the derived records in the vault, vault verify clean."""
    ref = "Z/2026/000777"
    anna, docs = open_case(captured, ref)
    anna.require_approval(ref)
    found = anna.assess_search(ref, SearchQuery(text=SECRET_WORD), "niet openbaar", grounds=["5.2"])
    assert [a.doc_id for a in found.assessments] == [docs["memo"]]
    anna.assess(ref, [docs["mail"]], "openbaar", family=True)
    anna.assess(ref, [docs["mail"]], "deels openbaar", toelichting="Persoonsgegevens gelakt",
                marks=[MarkInput("text", "5.1.2e", text=EMAIL), MarkInput("text", "5.1.2e", text=PHONE)])  # fmt: skip
    anna.assess(ref, [docs["docx"]], "niet openbaar", grounds=["5.1.2i"])
    out = tmp_path / "publicatie"
    refused = cli(captured, "anna", "woo", "publish", "--case", ref, "--out", str(out))
    assert refused.returncode == 2 and "collegiale toets" in refused.stderr and not out.exists()
    as_user(captured, "bert").approve(ref, note="gezien")

    published = cli(captured, "anna", "woo", "publish", "--case", ref, "--out", str(out), "--json")
    assert published.returncode == 0, published.stderr
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    ids = {d["doc_id"]: d["id"] for d in manifest["documents"]}
    assert set(ids) >= {docs["mail"], docs["pdf"], docs["docx"], docs["memo"], docs["copy"]}
    pdfs = sorted(p.name for p in (out / "documenten").iterdir())
    assert pdfs == sorted([f"{ids[docs['mail']]}.pdf", f"{ids[docs['pdf']]}.pdf"])  # nothing non-public
    zipped = [n for z in (out / "uploads").iterdir() for n in zipfile.ZipFile(z).namelist()]
    assert sorted(zipped) == pdfs and all(
        z.stat().st_size <= 4 * 1024**3 for z in (out / "uploads").iterdir()
    )

    mail_pdf = out / "documenten" / f"{ids[docs['mail']]}.pdf"
    shown = subprocess.run(
        ["pdftotext", str(mail_pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert WORD in shown and "5.1.2e" in shown  # the rest stays searchable; the boxes name their ground
    for secret in (EMAIL, PHONE):
        assert secret not in shown and secret.encode() not in mail_pdf.read_bytes()
    assert leaks(mail_pdf.read_bytes(), [EMAIL, PHONE]) == []
    assert EMAIL in anna.woo.view(ref, docs["mail"]).document.body  # the original is untouched

    check = read_report(out / "productierapport.xlsx")
    assert check.ok, check.problems
    by_id = {r["id"]: r for r in check.rows}
    mail_row, pdf_row, docx_row = (by_id[ids[docs[k]]] for k in ("mail", "pdf", "docx"))
    assert (mail_row["beoordeling"], mail_row["grounds"]) == ("deels openbaar", ["5.1.2e"])
    assert (pdf_row["beoordeling"], pdf_row["grounds"]) == ("openbaar", [])
    assert (docx_row["beoordeling"], docx_row["grounds"]) == ("niet openbaar", ["5.1.2i"])
    assert by_id[ids[docs["memo"]]]["grounds"] == ["5.2"]
    assert mail_row["family"] == pdf_row["family"] == docx_row["family"] == int(ids[docs["mail"]])
    assert mail_row["thread_id"] == pdf_row["thread_id"] == docx_row["thread_id"] is not None
    copy_row = by_id[ids[docs["copy"]]]
    assert copy_row["grounds"] == ["dubbel"] and copy_row["refers_to"] == [ids[docs["mail"]]]
    assert {r["matter"] for r in check.rows} == {"Z_2026_000777"}
    assert read_report(out / "productierapport.csv").ok

    vault = open_vault(captured)
    try:
        kinds = {vault.get_record(r).kind for d in manifest["documents"] for r in d["derived_records"]}  # type: ignore[union-attr]
        assert kinds == {"woo-rendition", "woo-redacted"}
    finally:
        vault.close()
    verified = cli(captured, "otto", "woo", "verify-export", str(out))
    assert verified.returncode == 0 and "ALL WELL" in verified.stdout, verified.stdout + verified.stderr
    assert cli(captured, "otto", "vault", "verify").returncode == 0

    # a package changed afterwards fails: a flipped byte, a non-public document slipped in
    (out / "documenten" / f"{ids[docs['docx']]}.pdf").write_bytes(mail_pdf.read_bytes())
    tampered = cli(captured, "otto", "woo", "verify-export", str(out))
    assert tampered.returncode == 1 and "not in the manifest" in tampered.stdout
    assert "no openbaar or deels openbaar row names it" in tampered.stdout
    actions = [(e.action, e.outcome) for e in AuditLog(state_engine(captured)).entries(case_ref=ref)]
    assert ("publish", "refused") in actions and ("publish", "allowed") in actions
