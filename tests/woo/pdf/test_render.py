"""PDF renditions of every document kind the Woo export knows (issue 19), checked with poppler's
pdftotext; conversions that fail come back as a failure with its reason."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from email.message import EmailMessage

import pymupdf
import pytest
from PIL import Image

from capstone.woo.pdf.render import (
    Rendition,
    render_attachment,
    render_chat,
    render_document,
    render_entity,
    render_mail,
    render_phone_chat,
)
from tests.index.helpers import (
    DOCX,
    XLSX,
    VaultWriter,
    chat_message_json,
    chat_meta,
    document,
    docx_bytes,
    mime,
    pdf_bytes,
    xlsx_bytes,
)
from tests.woo.pdf.helpers import flat, fonts, pdftotext
from vault import Vault


def text_of(rendition: Rendition) -> str:
    assert rendition.pdf is not None, rendition.failure
    assert rendition.failure is None and rendition.ok
    return flat(pdftotext(rendition.pdf))


def claims_pdfa2(pdf: bytes) -> bool:
    """The file says it is PDF/A-2 (XMP pdfaid) and meets what poppler can see of it: every font
    embedded, with a ToUnicode map (so its text can be found and redacted)."""
    with pymupdf.open(stream=pdf, filetype="pdf") as doc:
        xmp = (doc.get_xml_metadata() or "").replace(" ", "")
    table = fonts(pdf)
    embedded = bool(table) and all(f["emb"] == "yes" and f["uni"] == "yes" for f in table)
    return (
        ("<pdfaid:part>2</pdfaid:part>" in xmp or 'pdfaid:part="2"' in xmp)
        and "conformance" in xmp
        and embedded
    )


def png(colour: tuple[int, int, int] = (0, 90, 200)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (120, 80), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_mail_rendition_has_its_headers_body_and_attachment_list_as_pdfa() -> None:
    eml = mime(
        subject="Fietsbrug: planning",
        sender="Ruud Jansen <ruud.jansen@gemeente-test.nl>",
        to="Marieke van Dalen <burgemeester@gemeente-test.nl>",
        cc="Sanne Visser <griffier@gemeente-test.nl>",
        body="Beste Marieke,\n\nDe aanbesteding van de fietsbrug start in april.\n\nGroet, Ruud",
        attachments=[
            ("planning.pdf", "application/pdf", pdf_bytes("planning")),
            ("kaart.png", "image/png", png()),
        ],
    )
    rendition = render_mail(eml, sources=["Marieke van Dalen <burgemeester@gemeente-test.nl> Inbox"])
    text = text_of(rendition)
    for expected in (
        "Fietsbrug: planning",
        "Ruud Jansen <ruud.jansen@gemeente-test.nl>",
        "Marieke van Dalen <burgemeester@gemeente-test.nl>",
        "Sanne Visser <griffier@gemeente-test.nl>",
        "De aanbesteding van de fietsbrug start in april.",
        "Bijlagen: planning.pdf, kaart.png",
        "Inbox",
    ):
        assert expected in text, expected
    assert rendition.pdfa == "PDF/A-2B" and rendition.pdf is not None and claims_pdfa2(rendition.pdf)
    assert rendition.tool_versions["fpdf2"] and rendition.tool_versions["capstone"]


def test_an_html_mail_body_is_rendered_as_its_text_without_markup() -> None:
    eml = mime(
        subject="Agenda",
        body=None,
        html="<html><body><h2>Agenda college</h2><p>Punt 1: <b>fietsbrug</b></p><script>alert(1)</script>"
        "<table><tr><td>Begroting</td><td>€ 1,2 mln</td></tr></table></body></html>",
    )
    text = text_of(render_mail(eml))
    assert "Agenda college" in text and "Punt 1: fietsbrug" in text and "Begroting | € 1,2 mln" in text
    assert "alert" not in text and "<b>" not in text


def test_events_contacts_and_tasks_from_their_graph_json() -> None:
    event = {
        "subject": "Overleg fietsbrug",
        "start": {"dateTime": "2026-03-10T09:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2026-03-10T10:00:00.0000000", "timeZone": "UTC"},
        "location": {"displayName": "Stadhuis, kamer 2"},
        "organizer": {
            "emailAddress": {"name": "Marieke van Dalen", "address": "burgemeester@gemeente-test.nl"}
        },
        "attendees": [{"type": "required", "emailAddress": {"name": "Ruud Jansen", "address": "ruud@x.nl"}}],
        "body": {"contentType": "html", "content": "<p>Bespreken: planning</p>"},
    }
    text = text_of(render_entity("event", event))
    for expected in (
        "Agenda-afspraak: Overleg fietsbrug",
        "10-03-2026 10:00",
        "Stadhuis, kamer 2",
        "Ruud Jansen <ruud@x.nl>",
        "Bespreken: planning",
    ):
        assert expected in text, expected
    contact = {
        "displayName": "Piet Bakker",
        "companyName": "Bouwbedrijf BV",
        "mobilePhone": "06-98765432",
        "emailAddresses": [{"name": "Piet", "address": "piet@bouw.nl"}],
    }
    text = text_of(render_entity("contact", contact))
    assert "Contactpersoon: Piet Bakker" in text and "Bouwbedrijf BV" in text and "06-98765432" in text
    task = {
        "title": "Brief aan de raad",
        "status": "completed",
        "importance": "high",
        "body": {"contentType": "text", "content": "Concept klaar"},
    }
    text = text_of(render_entity("task", task))
    assert "Taak: Brief aan de raad" in text and "hoog" in text and "Concept klaar" in text
    failed = render_entity("meeting", {})
    assert failed.pdf is None and failed.failure and "onbekende soort" in failed.failure


def test_a_teams_chat_is_rendered_as_its_transcript(local_vault: Vault) -> None:
    writer = VaultWriter(local_vault)
    chat_id = "19:fietsbrug@thread.v2"
    first = chat_message_json(chat_id, "m1", "<p>Is de planning rond?</p>", created="2026-03-05T08:00:00Z")
    reply = chat_message_json(
        chat_id,
        "m2",
        "<p>Ja, start in april.</p>",
        user_id="u-clerk",
        name="Sanne Visser",
        created="2026-03-05T08:05:00Z",
    )
    writer.write(
        [writer.meta(chat_meta(chat_id, "Fietsbrug")), writer.chat(first), writer.chat(reply, who="clerk")]
    )
    text = text_of(render_chat(local_vault, chat_id))
    for expected in (
        "Teams-chat: Fietsbrug",
        "Is de planning rond?",
        "Ja, start in april.",
        "Sanne Visser",
        "Marieke van Dalen",
    ):
        assert expected in text, expected
    missing = render_chat(local_vault, "19:nowhere@thread.v2")
    assert missing.pdf is None and missing.failure and "niet in het archief" in missing.failure


def test_attachments_pdf_as_is_images_text_and_attached_mail() -> None:
    original = pdf_bytes("Begroting 2026")
    as_is = render_attachment(original, "begroting.pdf", "application/pdf")
    assert as_is.pdf == original and as_is.source == "as-is"

    image = render_attachment(png(), "foto.png", "image/png")
    assert image.pdf is not None and image.pdfa == "PDF/A-2B"
    with pymupdf.open(stream=image.pdf, filetype="pdf") as doc:
        assert len(doc[0].get_images()) == 1
    assert "foto.png" in text_of(image)

    assert "Regel een" in text_of(render_attachment(b"Regel een\nRegel twee", "notitie.txt", "text/plain"))
    html = render_attachment(b"<p>Zie <b>kaart</b></p><script>x()</script>", "pagina.html", "text/html")
    assert "Zie kaart" in text_of(html) and "x()" not in text_of(html)

    inner = EmailMessage()
    inner["From"] = "Ruud <ruud@x.nl>"
    inner["Subject"] = "Doorgestuurd"
    inner.set_content("Oorspronkelijke tekst")
    assert "Oorspronkelijke tekst" in text_of(
        render_attachment(inner.as_bytes(), "bericht.eml", "message/rfc822")
    )


def test_what_cannot_be_rendered_is_a_failure_with_its_reason() -> None:
    cases = {
        "geen conversie naar PDF": render_attachment(
            b"\x00\x01binary", "data.bin", "application/octet-stream"
        ),
        "afbeelding kon niet worden gelezen": render_attachment(b"not a png", "kapot.png", "image/png"),
        "wachtwoord": render_attachment(pdf_bytes("geheim", password="pw"), "geheim.pdf", "application/pdf"),
        "PDF kon niet worden gelezen": render_attachment(b"%PDF-1.4 garbage", "kapot.pdf", "application/pdf"),
        "leeg bestand": render_attachment(b"", "leeg.docx", DOCX),
    }
    for reason, rendition in cases.items():
        assert rendition.pdf is None and not rendition.ok, reason
        assert rendition.failure is not None and reason in rendition.failure, (reason, rendition.failure)


@pytest.mark.slow
def test_docx_and_xlsx_are_converted_by_libreoffice_to_pdfa2() -> None:
    word = render_attachment(
        docx_bytes(["Notitie fietsbrug", "Aanbesteding in april"], [["Post", "Bedrag"], ["Brug", "1200000"]]),
        "notitie.docx",
        DOCX,
    )
    text = text_of(word)
    assert "Notitie fietsbrug" in text and "Aanbesteding in april" in text and "1200000" in text
    assert (
        word.source == "libreoffice"
        and word.pdfa == "PDF/A-2B"
        and word.pdf is not None
        and claims_pdfa2(word.pdf)
    )
    assert word.tool_versions["libreoffice"].split(".")[0].isdigit()

    sheet = render_attachment(
        xlsx_bytes([["Post", "Bedrag"], ["Fietsbrug", 1250000]]), "begroting", XLSX
    )  # by media type
    text = text_of(sheet)
    assert "Fietsbrug" in text and "1250000" in text and sheet.pdf is not None and claims_pdfa2(sheet.pdf)


@pytest.mark.slow
def test_a_failing_libreoffice_conversion_is_reported_with_its_reason() -> None:
    broken = render_attachment(b"PK\x03\x04" + b"\x00" * 40 + b"geen echte zip", "kapot.docx", DOCX)
    assert broken.pdf is None and broken.failure is not None
    assert (
        "LibreOffice kon het bestand niet omzetten" in broken.failure
        and "could not be loaded" in broken.failure
    )
    slow = render_attachment(docx_bytes(["tekst"]), "traag.docx", DOCX, timeout=0.2)
    assert slow.pdf is None and slow.failure is not None and "time-out" in slow.failure


def test_render_document_dispatches_on_the_index_documents_kind(local_vault: Vault) -> None:
    writer = VaultWriter(local_vault)
    eml = mime(
        subject="Kaart",
        body="Zie bijlage",
        attachments=[("kaart.png", "image/png", png()), ("x.bin", "application/octet-stream", b"\x00")],
    )
    record = writer.mail(eml)
    event = {"subject": "Overleg", "start": {"dateTime": "2026-03-10T09:00:00", "timeZone": "UTC"}}
    event_blob = local_vault.put_blob(json.dumps(event).encode(), media_type="application/json")
    writer.write([record])

    mail = render_document(
        local_vault, replace(document(record.record_id, kind="mail"), blob_sha256=record.blob_sha256)
    )
    assert mail.failure is None and "Zie bijlage" in text_of(mail)
    image = render_document(local_vault, document(f"{record.record_id}:1", kind="attachment"))
    assert image.pdf is not None and image.source == "image"
    other = render_document(local_vault, document(f"{record.record_id}:2", kind="attachment"))
    assert other.failure is not None and "geen conversie" in other.failure
    absent = render_document(local_vault, document(f"{record.record_id}:9", kind="attachment"))
    assert absent.failure is not None and "bijlage 9 niet gevonden" in absent.failure
    entity = render_document(
        local_vault, replace(document(record.record_id, kind="event"), blob_sha256=event_blob.sha256)
    )
    assert "Overleg" in text_of(entity)
    item = render_document(local_vault, document(record.record_id, kind="item"))
    assert item.failure is not None and "Exchange-exportstroom" in item.failure


def test_an_imported_phone_chat_is_rendered_as_its_transcript(local_vault: Vault) -> None:
    from capstone.imports.index import phone_chat_key
    from capstone.imports.model import PHONE_KIND
    from vault import Record
    from vault.records import canonical_json

    records = []
    for ordinal, (sender, text) in enumerate(
        [("Marieke van Dalen", "Brug open?"), ("Ruud Jansen", "Vanaf maandag.")]
    ):
        identity = {"system": "whatsapp", "designation_id": "sf-mayor", "chat_id": "c-1", "ordinal": ordinal}
        document_json = {
            "system": "whatsapp",
            "chat_id": "c-1",
            "chat_title": "Fietsbrug",
            "sender": sender,
            "sent_at": f"2026-03-05T08:0{ordinal}:00+01:00",
            "text": text,
            "media": [],
        }
        blob = local_vault.put_blob(canonical_json(document_json), media_type="application/json")
        records.append(
            Record(
                kind=PHONE_KIND,
                source={**identity, "message_key": f"k{ordinal}", "chat_title": "Fietsbrug"},
                source_identity=identity,
                capture={"run_id": "phone-run", "device": "iPhone", "imported_at": "2026-03-06T00:00:00Z"},
                designation={"designation_id": "sf-mayor", "official": "Marieke van Dalen"},
                blob_sha256=blob.sha256,
                size=blob.size,
                media_type="application/json",
            )
        )
    local_vault.write_manifest("phone-run", local_vault.put_records(records))
    key = phone_chat_key(records[0].source)
    text = text_of(render_phone_chat(local_vault, key))
    for expected in ("Chat: Fietsbrug", "Brug open?", "Vanaf maandag.", "Ruud Jansen"):
        assert expected in text, expected
    missing = render_phone_chat(local_vault, "phone:x:whatsapp:none")
    assert missing.pdf is None and missing.failure is not None and "niet in het archief" in missing.failure
