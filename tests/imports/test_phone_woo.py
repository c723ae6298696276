"""Imported phone chats in a Woo case: searchable with ``--kind phone-chat`` (Dutch stemming, chat
and sender filters), readable with ``woo view``, exported with the versions' JSON, the media and an
HTML transcript in order, which ``woo verify-export`` checks against the vault."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

from tests.imports.conftest import SAMPLES, World, zip_folder

CASE = "WOO-2026-031"


def _import(world: World, *files: Path) -> None:
    result = world.run("ali", "import", "phone", "--official", "P-1001", "--device", "iPhone dienst", "--json",
                       *map(str, files))  # fmt: skip
    assert result.exit_code == 0, result.output


def _search(world: World, *args: str) -> dict[str, Any]:
    result = world.run("anna", "woo", "search", "--case", CASE, "--json", *args)
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout))


def test_phone_chats_searched_viewed_and_exported_with_transcript(world: World, tmp_path: Path) -> None:
    archive = zip_folder(
        SAMPLES / "whatsapp-android-nl", tmp_path / "WhatsApp Chat met Projectgroep Fietsbrug.zip"
    )
    _import(world, archive, SAMPLES / "sms-backup.xml")
    opened = world.run(
        "anna",
        "woo",
        "case",
        "open",
        "--ref",
        CASE,
        "--received",
        "2026-11-02",
        "--subject",
        "Fietsbrug",
        "--designation",
        world.designation_id,
    )
    assert opened.exit_code == 0, opened.output

    found = _search(world, "aanbesteding", "--kind", "phone-chat")
    assert found["total"] == 1
    [hit] = found["hits"]
    assert hit["kind"] == "phone-chat" and hit["folder_path"] == "WhatsApp/Projectgroep Fietsbrug"
    assert _search(world, "parkeergarage", "--kind", "phone-chat")["total"] == 2  # an SMS and the MMS
    assert _search(world, "parkeergarage", "--kind", "mail")["total"] == 0
    assert _search(world, "akkoord", "--kind", "phone-chat", "--sender", "Marieke van Dalen")["total"] == 2
    assert _search(world, "fietsbrug", "--kind", "phone-chat", "--folder", "SMS")["total"] == 0

    view = world.run("anna", "woo", "view", "--case", CASE, hit["doc_id"])
    assert view.exit_code == 0, view.output
    assert "Marieke van Dalen" in view.output and "De aanbesteding van de fietsbrug" in view.output
    assert "Sanne de Wit" in view.output  # a participant

    out = tmp_path / "export"
    exported = world.run("anna", "woo", "export", "--case", CASE, "--out", str(out), "--json")
    assert exported.exit_code == 0, exported.output
    transcripts = sorted(out.rglob("*.html"))
    whatsapp = next(p for p in transcripts if "Projectgroep Fietsbrug" in p.read_text(encoding="utf-8"))
    page = whatsapp.read_text(encoding="utf-8")
    senders = re.findall(r"<strong>([^<]+)</strong>", page)
    assert senders == [
        "systeembericht", "systeembericht", "Marieke van Dalen", "Pieter Bakker", "Pieter Bakker",
        "Marieke van Dalen", "Marieke van Dalen", "Pieter Bakker", "Sanne de Wit", "Sanne de Wit", "Sanne de Wit",
    ]  # fmt: skip
    assert "data:image/png;base64," in page and "verwijderd" in page and "media weggelaten" in page
    assert page.index("aanbesteding") < page.index("kwelscherm")
    media = sorted(p.name for p in whatsapp.parent.joinpath("media").iterdir())
    assert media == ["DOC-20260113-WA0002.pdf", "IMG-20260112-WA0001.png"]
    assert (whatsapp.parent / "media" / "IMG-20260112-WA0001.png").read_bytes() == (
        SAMPLES / "whatsapp-android-nl" / "IMG-20260112-WA0001.png"
    ).read_bytes()
    inventory = (out / "inventarislijst.csv").read_text(encoding="utf-8")
    assert "WhatsApp-chat Projectgroep Fietsbrug" in inventory and "SMS-chat Gerrit Smit" in inventory

    verified = world.run("anna", "woo", "verify-export", str(out))
    assert verified.exit_code == 0, verified.output
    shutil.copyfile(whatsapp, tmp_path / "copy.html")
    whatsapp.write_text(page.replace("Akkoord.", "Niet akkoord."), encoding="utf-8")
    assert world.run("anna", "woo", "verify-export", str(out)).exit_code == 1
