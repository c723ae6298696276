"""The phone export parsers on their own: WhatsApp (Android and iOS, Dutch and English, 12- and
24-hour clocks, multi-line, system lines, media markers, deletions), SMS Backup & Restore (SMS and
MMS with parts) and signal-export output; damaged input is refused."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from capstone.imports.detect import open_phone_export
from capstone.imports.model import ImportRefused, PhoneMessage
from capstone.imports.signal import SignalExport
from capstone.imports.sms import SmsBackupExport
from capstone.imports.whatsapp import WhatsAppExport, chat_title_from_name
from tests.imports.conftest import SAMPLES, zip_folder

AMS = ZoneInfo("Europe/Amsterdam")


def read(path: Path, **kwargs: str) -> list[PhoneMessage]:
    export = open_phone_export(path, timezone="Europe/Amsterdam", **kwargs)
    try:
        summary = export.validate()
        messages = list(export.messages())
        assert summary.messages == len(messages)
        return messages
    finally:
        export.close()


def test_whatsapp_android_dutch_folder() -> None:
    messages = read(SAMPLES / "whatsapp-android-nl")
    assert len(messages) == 11
    assert {m.chat_title for m in messages} == {"Projectgroep Fietsbrug"}
    system = [m for m in messages if m.system_message]
    assert len(system) == 2 and all(m.sender == "" for m in system)
    multi = messages[3]
    assert multi.sender == "Pieter Bakker"
    assert multi.text.splitlines() == [
        "Top. Ik heb de planning aangepast:", "- week 4: gunning", "- week 9: start bouw", "Graag akkoord voor vrijdag.",
    ]  # fmt: skip
    assert multi.sent_at == datetime(2026, 1, 12, 9, 3, tzinfo=AMS)
    photo = messages[4]
    assert photo.media == ("IMG-20260112-WA0001.png",) and photo.text == "Foto van de locatie bij de haven"
    assert messages[7].media == ("DOC-20260113-WA0002.pdf",) and messages[7].text == ""
    assert messages[8].media_omitted and not messages[8].media
    assert messages[9].deleted and messages[9].sender == "Sanne de Wit"
    assert messages[5].text == messages[6].text == "Akkoord."  # identical: kept twice


def test_whatsapp_ios_english_zip_and_title_from_zip_name(tmp_path: Path) -> None:
    archive = zip_folder(SAMPLES / "whatsapp-ios-en", tmp_path / "WhatsApp Chat - Wethouder Jansen.zip")
    messages = read(archive)
    assert {m.chat_title for m in messages} == {"Wethouder Jansen"}
    assert messages[0].system_message and messages[0].text.startswith("Messages and calls")
    assert messages[1].media == ("00000012-PHOTO-2026-01-15-09-15-42.png",) and messages[1].text == ""
    assert messages[1].sent_at == datetime(2026, 1, 15, 9, 15, 42, tzinfo=AMS)
    assert messages[3].text == "Not yet, the council votes on\nthe 28th. I will send the memo."
    assert messages[4].media_omitted and messages[5].deleted
    assert not any(m.system_message for m in messages[1:])
    export = WhatsAppExport(archive, timezone="Europe/Amsterdam")
    export.validate()
    stream = export.open_media("00000012-PHOTO-2026-01-15-09-15-42.png")
    assert stream is not None and stream.read(4) == b"\x89PNG"
    export.close()


def test_whatsapp_us_twelve_hour_clock_is_month_first(tmp_path: Path) -> None:
    chat = tmp_path / "WhatsApp Chat with Ops.txt"
    chat.write_text(
        "1/13/26, 9:05\u202fPM - Ann Lee: evening\n"
        "1/14/26, 12:10 AM - Ann Lee: after midnight\n"
        "[1/14/26, 12:30:15 PM] Bo Chan: noon\n"
        '1/14/26, 12:31 PM - Ann Lee changed the subject from "Ops" to: "Ops 2"\n',
        encoding="utf-8",
    )
    messages = read(chat)
    assert messages[3].system_message and messages[3].sender == "" and messages[3].text.endswith('"Ops 2"')
    chat.write_text(
        "1/13/26, 9:05\u202fPM - Ann Lee: evening\n"
        "1/14/26, 12:10 AM - Ann Lee: after midnight\n"
        "[1/14/26, 12:30:15 PM] Bo Chan: noon\n",
        encoding="utf-8",
    )
    messages = read(chat)
    assert [m.sent_at for m in messages] == [
        datetime(2026, 1, 13, 21, 5, tzinfo=AMS),
        datetime(2026, 1, 14, 0, 10, tzinfo=AMS),
        datetime(2026, 1, 14, 12, 30, 15, tzinfo=AMS),
    ]
    assert chat_title_from_name(chat.name) == "Ops"


def test_whatsapp_ambiguous_dates_follow_an_unambiguous_line(tmp_path: Path) -> None:
    chat = tmp_path / "chat.txt"
    chat.write_text("02/03/2026, 10:00 - A: x\n25/03/2026, 10:00 - A: y\n", encoding="utf-8")
    assert read(chat)[0].sent_at.month == 3  # day first, decided by the 25th


def test_sms_backup_with_mms_parts() -> None:
    messages = read(SAMPLES / "sms-backup.xml", own_name="Marieke van Dalen")
    assert len(messages) == 5
    first, reply, third, mms, group = messages
    assert first.chat_id == reply.chat_id == mms.chat_id == "+31612345678"  # spaces normalised: one thread
    assert first.sender == "Gerrit Smit" and reply.sender == "Marieke van Dalen"
    assert reply.details["direction"] == "out"
    assert third.text == "Prima & dank!\nTot morgen."
    assert first.sent_at.utcoffset() is not None and first.sent_at.isoformat() == "2026-01-12T11:00:00+01:00"
    assert mms.text == "Schets van de ingang van de parkeergarage"
    assert [m.name for m in mms.inline_media] == ["parkeergarage.png"]
    assert mms.inline_media[0].data.startswith(b"\x89PNG") and mms.inline_media[0].media_type == "image/png"
    assert group.chat_id == "+31611112222~+31612345678" and group.sender == "+31611112222"
    export = SmsBackupExport(SAMPLES / "sms-backup.xml")
    assert export.validate().declared == 5


def test_signal_export_folder() -> None:
    messages = read(SAMPLES / "signal-export")
    assert [m.sender for m in messages] == ["Marieke van Dalen", "Kees Mulder", "Kees Mulder"]
    assert messages[0].chat_title == "Begrotingsoverleg"
    assert messages[0].media == ("Begrotingsoverleg/media/2026-02-03T10-12-00.000_00_begroting.png",)
    assert messages[1].details["reactions"] == [["Marieke van Dalen", "👍"]]
    assert messages[2].deleted
    export = SignalExport(SAMPLES / "signal-export", timezone="Europe/Amsterdam")
    stream = export.open_media(messages[0].media[0])
    assert stream is not None and stream.read(4) == b"\x89PNG"
    assert export.open_media("../../etc/passwd") is None


def test_damaged_inputs_are_refused(tmp_path: Path) -> None:
    archive = zip_folder(SAMPLES / "whatsapp-android-nl", tmp_path / "good.zip")
    truncated = tmp_path / "WhatsApp Chat met X.zip"
    truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(ImportRefused, match="damaged zip"):
        read(truncated)
    flipped = bytearray(archive.read_bytes())
    flipped[60] ^= 0xFF  # inside the first member's compressed data: its CRC fails
    corrupt = tmp_path / "corrupt.zip"
    corrupt.write_bytes(bytes(flipped))
    with pytest.raises(ImportRefused):
        read(corrupt)
    xml = (SAMPLES / "sms-backup.xml").read_text(encoding="utf-8")
    broken = tmp_path / "broken.xml"
    broken.write_text(xml[: len(xml) - 200], encoding="utf-8")
    with pytest.raises(ImportRefused, match="damaged XML"):
        read(broken)
    other = tmp_path / "notes.txt"
    other.write_text("boodschappen: melk\n", encoding="utf-8")
    with pytest.raises(ImportRefused):
        read(other)


def test_signal_export_zipped_and_whatsapp_chat_name_override(tmp_path: Path) -> None:
    import zipfile

    archive = tmp_path / "signal.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for file in sorted((SAMPLES / "signal-export").rglob("*")):
            if file.is_file():
                zipped.write(file, file.relative_to(SAMPLES / "signal-export").as_posix())
    messages = read(archive)
    assert [m.chat_title for m in messages] == ["Begrotingsoverleg"] * 3
    export = SignalExport(archive, timezone="Europe/Amsterdam")
    stream = export.open_media(messages[0].media[0])
    assert stream is not None and stream.read(4) == b"\x89PNG"
    export.close()
    renamed = read(SAMPLES / "whatsapp-ios-en", chat_title="Wethouder Jansen (dienst)")
    assert {m.chat_id for m in renamed} == {"Wethouder Jansen (dienst)"}
