"""Extraction: mail headers and bodies, attachment text of common types, nested messages, chat
message versions, export items; what cannot be read becomes a note, never an exception."""

from __future__ import annotations

import hashlib
import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from capstone.index import extract
from capstone.index.extract import chat_documents, item_documents, mail_documents
from connectors.graph.entities import canonical_entity
from tests.index.helpers import (
    DOCX,
    PDF,
    XLSX,
    chat_message_json,
    chat_meta,
    chat_record,
    docx_bytes,
    mail_record,
    mime,
    pdf_bytes,
    xlsx_bytes,
)


def _docs(data: bytes, **kwargs: object) -> list[extract.IndexDocument]:
    record = mail_record("a" * 64, len(data), **kwargs)  # type: ignore[arg-type]
    return mail_documents(record, io.BytesIO(data))


def test_mail_headers_body_and_provenance() -> None:
    data = mime(
        subject="Fietsbrug Oosterwijk",
        body="De raad vraagt om een toelichting op de fietsbrug.",
        cc="Thijs Bos <Thijs.Bos@Gemeente-Test.nl>, griffier@gemeente-test.nl",
        bcc="geheim@gemeente-test.nl",
        message_id="<ABC.123@Mail.Example>",
    )
    [doc] = _docs(data, folder_path="Inbox/Projecten")
    assert doc.kind == "mail" and doc.doc_id == doc.record_id
    assert doc.subject == "Fietsbrug Oosterwijk"
    assert "toelichting op de fietsbrug" in doc.body
    assert doc.sender == "Ruud Jansen <ruud.jansen@gemeente-test.nl>"
    assert doc.to == ("Marieke van Dalen <burgemeester@gemeente-test.nl>",)
    assert doc.cc == ("Thijs Bos <thijs.bos@gemeente-test.nl>", "griffier@gemeente-test.nl")
    assert doc.bcc == ("geheim@gemeente-test.nl",)
    assert doc.message_id == "abc.123@mail.example"
    assert doc.duplicate_key == "abc.123@mail.example"
    assert doc.thread_id == "abc.123@mail.example"  # a thread's root
    assert doc.date == datetime(2026, 3, 3, 9, 15, tzinfo=UTC)
    assert doc.date is not None and doc.date.tzinfo is not None
    assert (doc.official, doc.designation_id) == ("Marieke van Dalen", "sf-mayor")
    assert (doc.account, doc.mailbox_kind, doc.folder_path) == (
        "burgemeester@gemeente-test.nl",
        "primary",
        "Inbox/Projecten",
    )
    assert doc.attachment_names == () and doc.notes == ()


def test_rfc2047_subject_and_names() -> None:
    data = (
        b"From: =?utf-8?q?Jos=C3=A9_M=C3=BCller?= <jose@example.nl>\r\n"
        b"To: =?iso-8859-1?q?Ren=E9e_de_Vries?= <renee@example.nl>\r\n"
        b"Subject: =?utf-8?b?Q2Fmw6ktb3ZlcmxlZw==?= over =?utf-8?q?idee=C3=ABn?=\r\n"
        b"Date: Wed, 04 Mar 2026 12:00:00 +0000\r\n"
        b"Message-ID: <x1@example.nl>\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nTekst.\r\n"
    )
    [doc] = _docs(data)
    assert doc.subject == "Café-overleg over ideeën"
    assert doc.sender == "José Müller <jose@example.nl>"
    assert doc.to == ("Renée de Vries <renee@example.nl>",)


def test_undeclared_8bit_header_is_read_as_utf8() -> None:
    data = "From: a@example.nl\r\nSubject: Coördinatie café\r\n\r\nTekst\r\n".encode()
    [doc] = _docs(data)
    assert doc.subject == "Coördinatie café"


def test_html_only_body_becomes_text() -> None:
    html = (
        "<html><head><style>p {color: red}</style><script>var geheim = 1;</script></head>"
        "<body><p>Eerste alinea over de <b>fietsbrug</b>.</p><p>Tweede&nbsp;alinea</p></body></html>"
    )
    [doc] = _docs(mime(body=None, html=html))
    assert "Eerste alinea over de fietsbrug." in doc.body
    assert "Tweede" in doc.body and "alinea" in doc.body
    assert "color" not in doc.body and "geheim" not in doc.body and "<p>" not in doc.body


def test_plain_text_is_preferred_over_html() -> None:
    [doc] = _docs(mime(body="Platte tekst", html="<p>HTML versie</p>"))
    assert doc.body == "Platte tekst"


def test_thread_from_references_then_in_reply_to() -> None:
    [reply] = _docs(mime(references="<Root@x> <Mid@x>", in_reply_to="<Mid@x>", message_id="<r@x>"))
    assert reply.thread_id == "root@x"
    [answer] = _docs(mime(in_reply_to="<Parent@x>", message_id="<a@x>"))
    assert answer.thread_id == "parent@x"
    [orphan] = _docs(
        mime(message_id=None, extra_headers={"Thread-Index": "AQHcAb2zqrvM3e7/ABEiM0RVZnd4iQ=="})
    )
    assert orphan.thread_id.startswith("thread-index:")
    assert orphan.duplicate_key == "sha256:" + "a" * 64


def test_attachments_pdf_docx_xlsx_text() -> None:
    pdf_data = pdf_bytes("Notulen: de kademuur wordt hersteld.")
    data = mime(
        subject="Stukken",
        attachments=[
            ("notulen.pdf", PDF, pdf_data),
            (
                "voorstel.docx",
                DOCX,
                docx_bytes(
                    ["Collegevoorstel parkeervergunning"], [["post", "bedrag"], ["fietsenstalling", "1200"]]
                ),
            ),
            ("begroting.xlsx", XLSX, xlsx_bytes([["post", "bedrag"], ["speeltuinrenovatie", 45000]])),
            ("lees mij.txt", "text/plain", b"Platte bijlage over de waterberging"),
            ("foto.png", "image/png", b"\x89PNG\r\n\x1a\nnot really"),
        ],
    )
    mail, *atts = _docs(data)
    assert mail.attachment_names == (
        "notulen.pdf",
        "voorstel.docx",
        "begroting.xlsx",
        "lees mij.txt",
        "foto.png",
    )
    assert [a.doc_id for a in atts] == [f"{mail.doc_id}:{n}" for n in range(1, 6)]
    assert all(a.kind == "attachment" and a.parent_id == mail.doc_id for a in atts)
    assert all(a.subject == "Stukken" and a.official == mail.official and a.date == mail.date for a in atts)
    pdf, docx_doc, xlsx, txt, png = atts
    assert "kademuur wordt hersteld" in pdf.body
    assert "Collegevoorstel parkeervergunning" in docx_doc.body and "fietsenstalling" in docx_doc.body
    assert "speeltuinrenovatie" in xlsx.body and "45000" in xlsx.body and "Begroting" in xlsx.body
    assert txt.body == "Platte bijlage over de waterberging"
    assert png.body == "" and png.notes == ()
    assert pdf.duplicate_key == "sha256:" + hashlib.sha256(pdf_data).hexdigest()
    assert pdf.filename == "notulen.pdf" and pdf.media_type == PDF
    assert all(a.notes == () for a in atts)


def test_octet_stream_attachment_typed_by_its_name() -> None:
    data = mime(
        attachments=[("rapport.pdf", "application/octet-stream", pdf_bytes("Rapport dijkversterking"))]
    )
    _, att = _docs(data)
    assert "dijkversterking" in att.body and att.media_type == PDF


def test_corrupt_and_encrypted_attachments_become_notes() -> None:
    data = mime(
        attachments=[
            ("kapot.docx", DOCX, b"PK\x03\x04 this is not a zip"),
            ("kapot.pdf", PDF, b"%PDF-1.7 garbage"),
            ("geheim.pdf", PDF, pdf_bytes("Vertrouwelijke inhoud", password="s3cret")),
            ("kapot.xlsx", XLSX, b"nonsense"),
            ("goed.txt", "text/plain", b"nog steeds leesbaar"),
        ]
    )
    mail, docx_doc, pdf, encrypted, xlsx, txt = _docs(data)
    assert mail.body  # the mail itself is unaffected
    assert any("unreadable DOCX" in n for n in docx_doc.notes)
    assert any("unreadable PDF" in n for n in pdf.notes)
    assert encrypted.notes == ("attachment text not extracted: encrypted PDF",)
    assert "Vertrouwelijke" not in encrypted.body
    assert any("unreadable XLSX" in n for n in xlsx.notes)
    assert txt.body == "nog steeds leesbaar" and txt.notes == ()


def test_nested_message_is_one_attachment_with_its_own_attachments_text() -> None:
    from email import message_from_bytes
    from email.policy import SMTP

    inner_bytes = mime(
        subject="Doorgestuurd: verslag",
        body="Binnenste tekst over de rotonde.",
        message_id="<inner@x>",
        attachments=[("bijlage.docx", DOCX, docx_bytes(["Binnenste bijlage: geluidsscherm"]))],
    )
    inner = message_from_bytes(inner_bytes, policy=SMTP)
    data = mime(subject="FW: verslag", body="Zie hieronder.", nested=[inner])  # type: ignore[list-item]
    mail, forwarded = _docs(data)
    assert mail.attachment_names == ("Doorgestuurd: verslag.eml",)
    assert forwarded.media_type == "message/rfc822"
    assert "Binnenste tekst over de rotonde." in forwarded.body
    assert "geluidsscherm" in forwarded.body
    assert "Subject: Doorgestuurd: verslag" in forwarded.body
    assert forwarded.duplicate_key.startswith("sha256:") and forwarded.size > 0


def test_huge_message_is_indexed_from_headers_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(extract, "MAX_PARSE_BYTES", 2048)
    data = mime(subject="Groot bericht", attachments=[("groot.txt", "text/plain", b"x " * 5000)])
    docs = _docs(data)
    assert len(docs) == 1
    [doc] = docs
    assert doc.subject == "Groot bericht" and doc.message_id == "msg-1@test.example"
    assert doc.body == "" and any("only its headers" in n for n in doc.notes)


def test_text_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(extract, "MAX_TEXT_CHARS", 100)
    [doc] = _docs(mime(body="woord " * 100))
    assert len(doc.body) == 100 and any("truncated" in n for n in doc.notes)


def test_unparsable_blob_still_gives_a_document() -> None:
    [doc] = _docs(b"\x00\x01\x02 not a message at all")
    assert doc.kind == "mail" and doc.doc_id and doc.account == "burgemeester@gemeente-test.nl"


def test_chat_version_document() -> None:
    chat_id = "19:abc@thread.v2"
    message = chat_message_json(chat_id, "1001", "<p>Zullen we de <b>kademuur</b> bespreken?</p>")
    data = json.dumps(message).encode()
    record = chat_record(message, "b" * 64, len(data))
    [doc] = chat_documents(record, data, chat_meta(chat_id))
    assert doc.kind == "chat-message" and doc.doc_id == record.record_id
    assert doc.body == "Zullen we de kademuur bespreken?"
    assert doc.duplicate_key == f"chat:{chat_id}:1001"
    assert doc.chat_id == chat_id and doc.folder_path == "Collegeoverleg" and doc.subject == "Collegeoverleg"
    assert doc.sender == "Marieke van Dalen <burgemeester@gemeente-test.nl>"
    assert doc.participants == (
        "Marieke van Dalen <burgemeester@gemeente-test.nl>",
        "Sanne Visser <griffier@gemeente-test.nl>",
    )
    assert doc.to == ("Sanne Visser <griffier@gemeente-test.nl>",)
    assert doc.mailbox_kind == "teams" and doc.account == "burgemeester@gemeente-test.nl"
    assert doc.date == datetime(2026, 3, 5, 8, 0, tzinfo=UTC)
    [no_meta] = chat_documents(record, data, None)
    assert no_meta.participants == () and any("participants unknown" in n for n in no_meta.notes)
    [broken] = chat_documents(record, b"{not json", chat_meta(chat_id))
    assert broken.duplicate_key == f"chat:{chat_id}:1001" and broken.notes


def test_export_item_is_indexed_from_source_metadata() -> None:
    record = mail_record(
        "c" * 64,
        900,
        kind="archive-export-item",
        media_type="application/vnd.ms-exchange.fullfidelity-export",
        mailbox_kind="archive",
        folder_path="Sent Items",
        internet_message_id="<Old@Archive>",
        item_type="IPM.Note",
        received="2020-04-19T17:34:06Z",
    )
    [doc] = item_documents(record)
    assert doc.kind == "item" and doc.duplicate_key == "old@archive" and doc.message_id == "old@archive"
    assert doc.mailbox_kind == "archive" and doc.folder_path == "Sent Items"
    assert doc.date == datetime(2020, 4, 19, 17, 34, 6, tzinfo=UTC)
    assert any("opaque export" in n and "IPM.Note" in n for n in doc.notes)


def _simulated_entities() -> dict[str, dict[str, Any]]:
    """One event, contact and task as the simulated tenant's Graph serves them."""
    from connectors.simulator.generator import build_tenant
    from connectors.simulator.graph.calendar import event_json, is_event
    from connectors.simulator.graph.contacts import contact_json, is_contact
    from connectors.simulator.graph.todo import is_task, task_json

    tenant = build_tenant(7, "small")
    mailbox = tenant.user("burgemeester@gemeente-demo.nl").mailbox
    assert mailbox is not None
    items = [i for folder in mailbox.all_folders() for i in folder.items.values()]
    task = next(i for i in items if is_task(i))
    tenant.edit_item(task, {"status": "completed"})
    return {
        "calendar-event": event_json(next(i for i in items if is_event(i)), True),
        "contact": contact_json(next(i for i in items if is_contact(i)), True),
        "task": task_json(task, True),
    }


def _entity_doc(kind: str, entity: dict[str, Any] | bytes) -> extract.IndexDocument:
    data = entity if isinstance(entity, bytes) else canonical_entity(entity)
    record = mail_record(
        hashlib.sha256(data).hexdigest(),
        len(data),
        kind=kind,
        media_type="application/json",
        folder_path="Calendar",
    )
    [doc] = extract.documents_for(record, io.BytesIO(data))
    return doc


def test_calendar_event_contact_and_task_json_are_searchable_documents() -> None:
    entities = _simulated_entities()
    event = entities["calendar-event"]
    doc = _entity_doc("calendar-event", event)
    assert doc.kind == "event" and doc.subject == event["subject"] and not doc.notes
    assert "<" not in doc.body and "Beste" in doc.body  # HTML body as text
    assert f"Locatie: {event['location']['displayName']}" in doc.body
    organizer = event["organizer"]["emailAddress"]
    assert doc.sender == f"{organizer['name']} <{organizer['address']}>"
    required = [a for a in event["attendees"] if a["type"] == "required"]
    assert doc.to == tuple(f"{a['emailAddress']['name']} <{a['emailAddress']['address']}>" for a in required)
    assert doc.date == datetime.fromisoformat(event["start"]["dateTime"]).replace(tzinfo=UTC)
    assert doc.duplicate_key == f"sha256:{doc.blob_sha256}" and doc.media_type == "application/json"

    contact = entities["contact"]
    doc = _entity_doc("contact", contact)
    assert doc.kind == "contact" and doc.subject == contact["displayName"]
    for value in (contact["companyName"], contact["jobTitle"], contact["businessPhones"][0]):
        assert value in doc.body
    assert contact["emailAddresses"][0]["address"] in doc.body

    task = entities["task"]
    doc = _entity_doc("task", task)
    assert doc.kind == "task" and doc.subject == task["title"] and "Status: voltooid" in doc.body
    if "dueDateTime" in task:
        assert doc.date == datetime.fromisoformat(task["dueDateTime"]["dateTime"]).replace(tzinfo=UTC)


def test_unreadable_item_json_is_a_note() -> None:
    doc = _entity_doc("task", b"{not json")
    assert doc.kind == "task" and doc.subject == "" and any("could not be read" in n for n in doc.notes)
