"""An imported phone chat marked privé goes through the same exclusion mechanism as captured mail
(issue 21 via issue 22): marked by the official, confirmed by an archivist, gone from Woo search and
export at once; a later, overlapping export of the chat joins the exclusion (the import counts it);
after the window the retention run deletes the messages, their media and the export file that held
only this chat, with an exclusion record for each, and ``vault verify`` accounts for every one.
The SMS backup of the same phone, with other chats in it, is kept whole."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from capstone.imports.index import phone_chat_key
from capstone.services import open_vault
from capstone.settings import Settings
from tests.imports.conftest import SAMPLES, World, zip_folder
from vault.layout import blob_key
from vault.removals import EXCLUSION_KIND

CASE = "WOO-2026-032"
WINDOW = 20  # seconds: marking and confirming happen well inside it
CHAT_TXT = "WhatsApp Chat met Projectgroep Fietsbrug.txt"


def _json(world: World, user: str, *args: str) -> Any:
    result = world.run(user, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _import(world: World, *files: Path) -> list[dict[str, Any]]:
    doc = _json(
        world, "ali", "import", "phone", "--official", "P-1001", "--device", "iPhone dienst", *map(str, files)
    )
    return list(doc["imports"])


def _search(world: World, word: str) -> int:
    return int(_json(world, "anna", "woo", "search", "--case", CASE, word, "--kind", "phone-chat")["total"])


def test_an_excluded_phone_chat_is_handled_like_excluded_mail(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAPSTONE_EXCLUSION_WINDOW", f"{WINDOW}s")
    monkeypatch.setenv("CAPSTONE_EXCLUSION_MARGIN", "2s")
    folder = tmp_path / "chat"
    shutil.copytree(SAMPLES / "whatsapp-android-nl", folder)
    [whatsapp, sms] = _import(world, zip_folder(folder, tmp_path / "WhatsApp Chat met Projectgroep Fietsbrug.zip"),
                              SAMPLES / "sms-backup.xml")  # fmt: skip
    assert whatsapp["excluded"] == 0 and sms["excluded"] == 0
    opened = world.run("anna", "woo", "case", "open", "--ref", CASE, "--received", "2026-11-02",
                       "--subject", "Fietsbrug", "--designation", world.designation_id)  # fmt: skip
    assert opened.exit_code == 0, opened.output
    assert _search(world, "aanbesteding") == 1 and _search(world, "parkeergarage") == 2

    vault = open_vault(Settings(home=world.home))
    try:
        messages = [r for r in vault.iter_records("phone-chat-message") if r.source["system"] == "whatsapp"]
        sources = {r.record_id: r for r in vault.iter_records("import-source")}
        media = [r for r in vault.iter_records("phone-chat-media") if r.source["system"] == "whatsapp"]
    finally:
        vault.close()
    [chat] = {phone_chat_key(r.source) for r in messages}
    [zip_source] = [rid for rid, r in sources.items() if r.source["system"] == "whatsapp"]

    mark = _json(world, "olga", "exclusion", "mark", "--scope", "chat", "--value", chat,
                 "--category", "prive", "--reason", "familie-app, verkeerd geïmporteerd")  # fmt: skip
    named = set(mark["record_ids"])
    assert {r.record_id for r in messages} | {r.record_id for r in media} | {zip_source} == named
    assert not named & {rid for rid, r in sources.items() if r.source["system"] == "sms"}  # other chats in it
    assert _search(world, "aanbesteding") == 1  # marked is not yet excluded
    _json(world, "ali", "exclusion", "confirm", mark["exclusion_id"])
    assert _search(world, "aanbesteding") == 0 and _search(world, "parkeergarage") == 2

    out = tmp_path / "export"
    _json(world, "anna", "woo", "export", "--case", CASE, "--out", str(out))
    pages = [p.read_text(encoding="utf-8") for p in out.rglob("*.html")]
    assert pages and not any("Projectgroep Fietsbrug" in page for page in pages)
    assert any("Gerrit Smit" in page for page in pages)
    assert world.run("anna", "woo", "verify-export", str(out)).exit_code == 0

    # The next month's export of the same chat: one new message, which joins the exclusion.
    txt = folder / CHAT_TXT
    txt.write_text(txt.read_text(encoding="utf-8") + "14-01-2026 08:00 - Pieter Bakker: Verjaardagstaart morgen.\n",
                   encoding="utf-8")  # fmt: skip
    [again] = _import(
        world, zip_folder(folder, tmp_path / "WhatsApp Chat met Projectgroep Fietsbrug (2).zip")
    )
    assert again["new"] == 1 and again["excluded"] == again["new"] + again["known"] + again["changed"]
    assert _search(world, "verjaardagstaart") == 0
    [listed] = [
        e for e in _json(world, "otto", "exclusion", "list") if e["exclusion_id"] == mark["exclusion_id"]
    ]
    assert named < set(listed["record_ids"])  # the new message, its run's export file

    time.sleep(WINDOW + 4)  # every provisional lock of the chat has lapsed
    report = _json(world, "ali", "retention", "run")
    assert report["missing"] == [] and report["excluded_deleted"] >= len(named)
    vault = open_vault(Settings(home=world.home))
    try:
        removals = {r.extra["sha256"]: r for r in vault.iter_records(EXCLUSION_KIND)}
        gone = {r.blob_sha256 for r in messages} | {sources[zip_source].blob_sha256}
        assert gone <= set(removals)
        assert all(vault.store.head(blob_key(str(sha))) is None for sha in gone)
        kept = [r for rid, r in sources.items() if r.source["system"] == "sms"]
        assert kept and all(vault.store.head(blob_key(str(r.blob_sha256))) is not None for r in kept)
        assert all("text" not in json.dumps(r.extra) for r in removals.values())  # never the content
    finally:
        vault.close()
    assert _search(world, "parkeergarage") == 2
    verify = world.run("ali", "vault", "verify", "--json")
    assert verify.exit_code == 0, verify.output
