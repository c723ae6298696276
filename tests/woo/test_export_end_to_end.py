"""A Woo case end to end against the simulated tenant, through the ``capstone`` CLI: plant words in a
mail body, a PDF and a DOCX attachment (the same message in two key officials' mailboxes), a Teams
chat message and the mayor's appointment; capture; search inside a case; export; verify the
export; catch a flipped byte."""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from capstone.settings import Settings
from tests.access import admin_config
from tests.capture.conftest import CaptureWorld
from tests.index.helpers import DOCX, PDF, docx_bytes, mime, pdf_bytes

MAYOR = "burgemeester@gemeente-demo.nl"
ALDERMAN = "wethouder.ruimte@gemeente-demo.nl"
BODY, IN_PDF, IN_DOCX, IN_CHAT, IN_EVENT = "kwelscherm", "zoutvang", "dijkpaal", "ganzenbord", "stuwdam"
ROLES = {"anna": ["woo-officer"], "otto": ["auditor"], "ali": ["archivist"]}


def capstone(settings: Settings, user: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAPSTONE_")}
    env.update(
        CAPSTONE_HOME=str(settings.home), CAPSTONE_CONFIG=str(admin_config(settings.home, user, ROLES))
    )
    return subprocess.run(
        [sys.executable, "-m", "capstone.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def plant(world: CaptureWorld) -> dict[str, Any]:
    data = mime(
        subject="Stukken waterveiligheid",
        body=f"Beste college,\n\nHierbij het advies over het {BODY} langs de haven.",
        sender=f"Marieke van Dalen <{MAYOR}>",
        to=f"Fatima El Amrani <{ALDERMAN}>",
        message_id="<Planted-1@Gemeente-Demo.nl>",
        attachments=[
            ("advies.pdf", PDF, pdf_bytes(f"Advies: de {IN_PDF} wordt vervangen.")),
            ("besluit.docx", DOCX, docx_bytes([f"Besluit over de {IN_DOCX} bij de sluis."])),
        ],
    )
    encoded = base64.b64encode(data).decode()
    for mailbox, folder in ((MAYOR, "Sent Items"), (ALDERMAN, "Inbox")):
        world.sim.mutate({"op": "add-message", "mailbox": mailbox, "folder": folder, "mime": encoded})
    chat: dict[str, Any] = next(c for c in world.sim.truth()["chats"] if MAYOR in c["members"])
    world.sim.mutate(
        {"op": "post-chat-message", "chat": chat["id"], "from": MAYOR, "content": f"Wie speelt {IN_CHAT}?"}
    )
    mayor = next(
        m for m in world.sim.truth()["mailboxes"] if m["address"] == MAYOR and m["kind"] == "primary"
    )
    event = next(i for i in mayor["items"] if (i.get("graph") or {}).get("type") == "event")
    world.sim.mutate(
        {
            "op": "edit-item",
            "item": event["immutableId"],
            "subject": f"Werkbezoek {IN_EVENT}",
            "location": "Haven",
        }
    )
    return {"mime": data, "chat": chat, "event": event}


def plant_related(world: CaptureWorld) -> bytes:
    """Resent with the same Message-ID but other bytes: related, not a duplicate (issue 15)."""
    related = mime(
        subject="Stukken waterveiligheid",
        body=f"Beste college,\n\nNogmaals het advies over het {BODY}, nu zonder bijlagen.",
        sender=f"Marieke van Dalen <{MAYOR}>",
        to=f"Fatima El Amrani <{ALDERMAN}>",
        message_id="<Planted-1@Gemeente-Demo.nl>",
        date="Wed, 04 Mar 2026 09:00:00 +0100",
    )
    world.sim.mutate(
        {
            "op": "add-message",
            "mailbox": ALDERMAN,
            "folder": "Inbox",
            "mime": base64.b64encode(related).decode(),
        }
    )
    return related


def test_a_woo_case_from_search_to_verified_export(world: CaptureWorld, tmp_path: Path) -> None:
    planted = plant(world)
    planted["related"] = plant_related(world)
    runs = world.capture(source=None)  # the capture run also updates the index
    assert runs and all(r.status == "complete" for r in runs)
    settings = world.settings

    # No search outside a case, none for an archivist; both refusals are audited.
    assert capstone(settings, "anna", "woo", "search", BODY).returncode == 3
    ok(capstone(settings, "anna", "woo", "case", "open", "--ref", "WOO-2026-014", "--received", "2026-11-02",
                "--subject", "Waterveiligheid haven", "--official", "Marieke van Dalen",
                "--official", "Fatima El Amrani"))  # fmt: skip
    refused = capstone(settings, "ali", "woo", "search", "--case", "WOO-2026-014", BODY)
    assert refused.returncode == 3 and "woo-officer" in refused.stderr

    found: dict[str, Any] = {}
    for word in (BODY, IN_PDF, IN_DOCX, IN_CHAT, IN_EVENT):
        found[word] = json.loads(
            ok(capstone(settings, "anna", "woo", "search", "--case", "WOO-2026-014", word, "--json"))
        )
    same, other = hashlib.sha256(planted["mime"]).hexdigest(), hashlib.sha256(planted["related"]).hexdigest()
    assert found[BODY]["total"] == 3 and {h["account"] for h in found[BODY]["hits"]} == {MAYOR, ALDERMAN}
    # Duplicates are exact: the two identical copies count each other, the resent one only itself.
    assert sorted((h["blob_sha256"], h["duplicates"]) for h in found[BODY]["hits"]) == sorted(
        [(same, 2), (same, 2), (other, 1)]
    )
    assert {h["title"] for h in found[IN_PDF]["hits"]} == {"advies.pdf"} and found[IN_PDF]["total"] == 2
    assert {h["title"] for h in found[IN_DOCX]["hits"]} == {"besluit.docx"} and found[IN_DOCX]["total"] == 2
    assert found[IN_CHAT]["total"] == 1 and found[IN_CHAT]["hits"][0]["kind"] == "chat-message"
    assert found[IN_EVENT]["total"] == 1 and found[IN_EVENT]["hits"][0]["kind"] == "event"

    # Reviewing a hit: the document with its attachments and its copy in the other mailbox.
    mayor_hit = next(h for h in found[BODY]["hits"] if h["account"] == MAYOR)
    view = ["woo", "view", "--case", "WOO-2026-014", mayor_hit["doc_id"]]
    shown = json.loads(ok(capstone(settings, "anna", *view, "--json")))
    assert BODY in shown["document"]["body"] and shown["document"]["subject"] == "Stukken waterveiligheid"
    assert {a["filename"] for a in shown["attachments"]} == {"advies.pdf", "besluit.docx"}
    assert [d["account"] for d in shown["duplicates"]] == [ALDERMAN]
    assert [(d["account"], d["blob_sha256"]) for d in shown["related"]] == [(ALDERMAN, other)]
    assert "Onderwerp:" in ok(capstone(settings, "anna", *view))
    assert capstone(settings, "otto", *view).returncode == 3  # an auditor reads no content
    missing = capstone(settings, "anna", "woo", "view", "--case", "WOO-2026-014", "no-such-document")
    assert missing.returncode == 2 and "no document" in missing.stderr

    out = tmp_path / "export"
    ok(capstone(settings, "anna", "woo", "export", "--case", "WOO-2026-014", "--out", str(out)))
    with open(out / "inventarislijst.csv", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    mails = [r for r in rows if r["File type"] == "email"]
    original = next(r for r in mails if r["Beoordeling"] == "" and r["SHA-256"] == same)
    resent = next(r for r in mails if r["Beoordeling"] == "" and r["SHA-256"] == other)
    duplicate = next(r for r in mails if r["Beoordeling"] == "dubbel")
    assert len(mails) == 3 and duplicate["Gerelateerd ID"] == original["ID"]
    assert MAYOR in original["Bron"] and ALDERMAN in original["Bron"]  # one document, every source
    # both originals exported, the later one pointing at the first through "Gerelateerd ID"
    assert original["ID"] == resent["Gerelateerd ID"] or resent["ID"] == original["Gerelateerd ID"]
    resent_eml = out / "documents" / f"{int(resent['ID']):05d}" / f"{int(resent['ID']):05d}.eml"
    assert resent_eml.read_bytes() == planted["related"]
    attachments = {
        r["Bestandsnaam"]: r for r in rows if r["Family"] == original["ID"] and r["ID"] != original["ID"]
    }
    assert set(attachments) == {"advies.pdf", "besluit.docx"}
    chats = [r for r in rows if r["File type"] == "chat"]
    assert len(chats) == 1 and len(rows) == 7
    # the appointment: its Graph JSON byte-exact from the vault, and a readable rendition
    [appointment] = [r for r in rows if r["File type"] == "afspraak"]
    assert (
        appointment["Toelichting"] == f"Agenda-afspraak: Werkbezoek {IN_EVENT}"
        and MAYOR in appointment["Bron"]
    )
    folder = out / "documents" / f"{int(appointment['ID']):05d}"
    original_json = (folder / appointment["Bestandsnaam"]).read_bytes()
    assert hashlib.sha256(original_json).hexdigest() == appointment["SHA-256"]
    assert json.loads(original_json)["id"] == planted["event"]["immutableId"]
    rendition = (folder / f"{int(appointment['ID']):05d}.html").read_text(encoding="utf-8")
    assert f"Werkbezoek {IN_EVENT}" in rendition and "<td>Haven</td>" in rendition
    eml = out / "documents" / f"{int(original['ID']):05d}" / f"{int(original['ID']):05d}.eml"
    assert eml.read_bytes() == planted["mime"]  # the original, byte-exact
    sheet = load_workbook(out / "inventarislijst.xlsx", read_only=True).active
    assert sheet is not None
    header, *values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert header[:4] == ["ID", "Document", "Datum", "Family"] and len(values) == 7

    assert "ALL WELL" in ok(capstone(settings, "anna", "woo", "verify-export", str(out)))
    data = bytearray(eml.read_bytes())
    data[len(data) // 2] ^= 0x01
    eml.write_bytes(bytes(data))
    broken = capstone(settings, "anna", "woo", "verify-export", str(out))
    assert broken.returncode == 1 and f"{eml.relative_to(out)}: altered" in broken.stdout

    # The online archive's items are opaque export streams: the officer is told how many were
    # searched by metadata only, and can list them (after the export, which takes every search).
    opaque = json.loads(ok(capstone(settings, "anna", "woo", "search", "--case", "WOO-2026-014", "",
                                    "--kind", "item", "--json")))  # fmt: skip
    assert opaque["total"] > 0 and {h["kind"] for h in opaque["hits"]} == {"item"}
    assert {found[w]["metadata_only"] for w in found} == {opaque["total"]}
    text = ok(capstone(settings, "anna", "woo", "search", "--case", "WOO-2026-014", BODY))
    assert f"Let op: {opaque['total']} item(s)" in text
    # The auditor sees every step, refusals included, and the chain is sealed and verifies.
    entries = json.loads(ok(capstone(settings, "otto", "audit", "show", "--json")))
    steps = [(e["actor"], e["action"], e["outcome"]) for e in entries]
    assert steps[:3] == [
        ("anna", "search", "refused"),
        ("anna", "case-open", "allowed"),
        ("ali", "search", "refused"),
    ]
    assert ("anna", "export", "allowed") in steps
    views = [e for e in entries if e["action"] == "view"]
    assert [(e["actor"], e["outcome"], e["detail"]["found"] if e["outcome"] == "allowed" else None)
            for e in views] == [("anna", "allowed", True), ("anna", "allowed", True), ("otto", "refused", None),
                                ("anna", "allowed", False)]  # fmt: skip
    assert (
        views[0]["detail"]["record_id"] == mayor_hit["record_id"] and views[0]["case_ref"] == "WOO-2026-014"
    )
    export_entry = next(e for e in entries if e["action"] == "export")
    assert len(export_entry["detail"]["exported"]) == 7 and export_entry["detail"]["searches"] == 5
    assert "ALL WELL" in ok(capstone(settings, "otto", "audit", "verify"))
