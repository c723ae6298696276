"""``capstone import phone`` end to end on a real vault: the original stored first, each message a
record with provenance, a manifest and a reconciliation; overlapping exports add only what is new, a
changed message becomes a version; damaged files write nothing; roles are checked and audited."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from capstone.services import open_vault
from capstone.settings import Settings
from tests.imports.conftest import SAMPLES, World, zip_folder
from vault import Vault


def vault_of(world: World) -> Vault:
    return open_vault(Settings(home=world.home))


def records(world: World, kind: str) -> list[Any]:
    vault = vault_of(world)
    try:
        return list(vault.iter_records(kind))
    finally:
        vault.close()


def manifests(world: World) -> list[dict[str, Any]]:
    vault = vault_of(world)
    try:
        return [vault.read_manifest(key) for _, key in vault.catalog.iter_manifest_keys()]
    finally:
        vault.close()


def imported(world: World, *args: str, user: str = "ali", code: int = 0) -> list[dict[str, Any]]:
    result = world.run(user, "import", "phone", "--official", "P-1001", "--device", "iPhone dienst 06-1",
                       "--no-index", "--json", *args)  # fmt: skip
    assert result.exit_code == code, result.output
    return list(json.loads(result.stdout)["imports"]) if code in (0, 1) else []


def test_whatsapp_zip_import_original_records_provenance_manifest(world: World, tmp_path: Path) -> None:
    archive = zip_folder(
        SAMPLES / "whatsapp-android-nl", tmp_path / "WhatsApp Chat met Projectgroep Fietsbrug.zip"
    )
    [report] = imported(world, str(archive))
    assert report["complete"] and report["new"] == 11 and report["known"] == report["changed"] == 0
    rec = report["reconciliation"]
    assert rec["source_messages"] == rec["parsed"] == rec["held"] == 11
    assert rec["media_referenced"] == rec["media_stored"] == 2 and rec["media_missing"] == []

    sha = hashlib.sha256(archive.read_bytes()).hexdigest()
    assert report["source_sha256"] == [sha]
    vault = vault_of(world)
    try:
        [source] = list(vault.iter_records("import-source"))
        assert (
            source.blob_sha256 == sha and vault.read_blob(sha) == archive.read_bytes()
        )  # stored as received
        messages = list(vault.iter_records("phone-chat-message"))
        assert len(messages) == 11
        photo = next(r for r in messages if r.source["sent_at"] == "2026-01-12T09:04:00+01:00")
        document = json.loads(vault.read_blob(photo.blob_sha256 or ""))
        [media] = document["media"]
        image = (SAMPLES / "whatsapp-android-nl" / "IMG-20260112-WA0001.png").read_bytes()
        assert (
            media["sha256"] == hashlib.sha256(image).hexdigest() and vault.read_blob(media["sha256"]) == image
        )
        assert document["sender"] == "Pieter Bakker" and document["chat_title"] == "Projectgroep Fietsbrug"
        assert photo.designation is not None and photo.designation["designation_id"] == world.designation_id
        assert photo.capture["device"] == "iPhone dienst 06-1" and photo.capture["imported_by"] == "ali"
        assert photo.capture["source_file"]["files"][0]["sha256"] == sha
        assert photo.source["participants"] == ["Marieke van Dalen", "Pieter Bakker", "Sanne de Wit"]
        assert len(list(vault.iter_records("phone-chat-media"))) == 2
    finally:
        vault.close()
    [manifest] = [m for m in manifests(world) if m["kind"] == "phone-import-run"]
    assert manifest["run_id"] == report["run_id"] and manifest["record_count"] == 11 + 2 + 1
    assert manifest["summary"]["reconciliation"]["complete"] is True
    assert manifest["summary"]["source_sha256"] == [sha]

    # Imported again: every message known, nothing new written.
    [again] = imported(world, str(archive))
    assert again["known"] == 11 and again["new"] == again["changed"] == 0 and again["complete"]
    assert len(records(world, "phone-chat-message")) == 11

    entries = json.loads(world.run("otto", "audit", "show", "--json").stdout)
    allowed = [e for e in entries if e["action"] == "import-phone" and e["outcome"] == "allowed"]
    assert len(allowed) == 2 and allowed[0]["detail"]["sha256"] == [sha] and allowed[0]["actor"] == "ali"


def test_overlapping_export_adds_only_new_and_changed_becomes_version(world: World, tmp_path: Path) -> None:
    full = SAMPLES / "whatsapp-android-nl" / "WhatsApp Chat met Projectgroep Fietsbrug.txt"
    lines = full.read_text(encoding="utf-8").splitlines(keepends=True)
    first = tmp_path / "jan" / full.name  # January's export: the first 7 messages, without media
    first.parent.mkdir()
    first.write_text("".join(lines[:11]), encoding="utf-8")
    [one] = imported(world, str(first))
    assert one["new"] == 7 and one["reconciliation"]["media_missing"] == ["IMG-20260112-WA0001.png"]

    second = tmp_path / "feb"
    shutil.copytree(SAMPLES / "whatsapp-android-nl", second)  # February's: everything, with media
    [two] = imported(world, str(second))
    # the photo message now has its image: a new version; 6 unchanged; 4 later messages are new
    assert (two["known"], two["changed"], two["new"]) == (6, 1, 4)
    held = records(world, "phone-chat-message")
    assert len(held) == 12
    keys = [r.source["message_key"] for r in held]
    assert len(set(keys)) == 11  # one message, two versions
    akkoord = [r for r in held if r.source["sent_at"] == "2026-01-12T09:05:00+01:00"]
    assert sorted(r.source["ordinal"] for r in akkoord) == [0, 1]  # identical messages both kept


def test_sms_backup_and_signal_import(world: World) -> None:
    [sms] = imported(world, str(SAMPLES / "sms-backup.xml"))
    assert sms["complete"] and sms["new"] == 5 and sms["reconciliation"]["declared"] == 5
    assert sms["reconciliation"]["media_stored"] == 1
    [signal] = imported(world, str(SAMPLES / "signal-export"))
    assert signal["complete"] and signal["new"] == 3 and signal["reconciliation"]["media_stored"] == 1
    # a folder is stored file by file as received
    assert len(signal["source_sha256"]) == 3
    systems = sorted({r.source["system"] for r in records(world, "phone-chat-message")})
    assert systems == ["signal", "sms"]


def test_declared_count_mismatch_is_a_difference(world: World, tmp_path: Path) -> None:
    xml = (SAMPLES / "sms-backup.xml").read_text(encoding="utf-8").replace('count="5"', 'count="6"')
    odd = tmp_path / "sms-odd.xml"
    odd.write_text(xml, encoding="utf-8")
    [report] = imported(world, str(odd), code=1)
    assert not report["complete"] and report["reconciliation"]["declared"] == 6


def test_damaged_files_are_refused_with_nothing_written(world: World, tmp_path: Path) -> None:
    archive = zip_folder(SAMPLES / "whatsapp-ios-en", tmp_path / "good.zip")
    truncated = tmp_path / "WhatsApp Chat - X.zip"
    truncated.write_bytes(archive.read_bytes()[:-40])
    xml = (SAMPLES / "sms-backup.xml").read_text(encoding="utf-8")
    broken = tmp_path / "sms-broken.xml"
    broken.write_text(xml.replace("</smses>", ""), encoding="utf-8")
    vault = vault_of(world)
    before = vault.stats()["objects"]
    vault.close()
    for bad in (truncated, broken, tmp_path / "missing.zip"):
        result = world.run(
            "ali", "import", "phone", "--official", "P-1001", "--device", "x", "--no-index", str(bad)
        )
        assert result.exit_code == 2
        assert "refused, nothing written" in result.output and len(result.output.strip().splitlines()) == 1
    vault = vault_of(world)
    assert vault.stats()["objects"] == before
    vault.close()


def test_only_the_archivist_imports_and_bad_arguments_are_clear(world: World) -> None:
    sample = str(SAMPLES / "sms-backup.xml")
    result = world.run("anna", "import", "phone", "--official", "P-1001", "--device", "x", sample)
    assert result.exit_code == 3 and "role archivist" in result.output
    assert records(world, "phone-chat-message") == []
    unknown = world.run("ali", "import", "phone", "--official", "Nobody", "--device", "x", sample)
    assert unknown.exit_code == 2 and "no designated official" in unknown.output
    zone = world.run(
        "ali", "import", "phone", "--official", "P-1001", "--device", "x", "--timezone", "Mars/Base", sample
    )
    assert zone.exit_code == 2 and "unknown time zone" in zone.output
    entries = json.loads(world.run("otto", "audit", "show", "--json").stdout)
    assert any(
        e["action"] == "import-phone" and e["outcome"] == "refused" and e["actor"] == "anna" for e in entries
    )


def test_capture_status_warns_when_phone_chats_were_not_imported_for_31_days(world: World) -> None:
    from datetime import UTC, datetime, timedelta

    from capstone.imports.freshness import stale_phone_imports
    from capstone.services import state_engine

    def warnings() -> list[dict[str, Any]]:
        status = world.run("otto", "capture", "status", "--json")
        assert status.exit_code == 0, status.output
        return [w for w in json.loads(status.stdout)["warnings"] if w.get("kind") == "phone-import"]

    [never] = warnings()
    assert never["designation_id"] == world.designation_id and "never been imported" in never["message"]
    imported(world, str(SAMPLES / "sms-backup.xml"))
    assert warnings() == []
    settings = Settings(home=world.home)
    vault, engine = open_vault(settings), state_engine(settings)
    try:
        later = datetime.now(UTC) + timedelta(days=32)
        [stale] = stale_phone_imports(vault, engine, timedelta(days=31), later)
        assert "were last imported 32" in stale["message"] and stale["official"] == "Marieke van Dalen"
        assert stale_phone_imports(vault, engine, timedelta(days=40), later) == []
    finally:
        vault.close()
