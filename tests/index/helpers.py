"""Builders for the index tests: MIME messages with real attachments, vault records, documents."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from typing import Any

from capstone.index.model import DocumentKind, IndexDocument
from vault.records import Record, canonical_json
from vault.vault import Vault

DESIGNATIONS = {
    "mayor": {
        "designation_id": "sf-mayor",
        "official": "Marieke van Dalen",
        "function": "Burgemeester",
        "decision_reference": "DT-2024-003",
    },
    "clerk": {
        "designation_id": "sf-clerk",
        "official": "Sanne Visser",
        "function": "Raadsgriffier",
        "decision_reference": "DT-2024-003",
    },
}
ACCOUNTS = {"mayor": "burgemeester@gemeente-test.nl", "clerk": "griffier@gemeente-test.nl"}


def pdf_bytes(text: str, *, password: str | None = None) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.multi_cell(0, 10, text)
    data = bytes(pdf.output())
    if password is None:
        return data
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=password, algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def docx_bytes(paragraphs: Sequence[str], table: Sequence[Sequence[str]] = ()) -> bytes:
    import docx

    document = docx.Document()
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def xlsx_bytes(rows: Sequence[Sequence[Any]], title: str = "Begroting") -> bytes:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = title
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def mime(
    *,
    subject: str = "Overleg",
    body: str | None = "Beste collega,\n\nTot morgen.",
    html: str | None = None,
    sender: str = "Ruud Jansen <ruud.jansen@gemeente-test.nl>",
    to: str = "Marieke van Dalen <burgemeester@gemeente-test.nl>",
    cc: str | None = None,
    bcc: str | None = None,
    date: str = "Tue, 03 Mar 2026 10:15:00 +0100",
    message_id: str | None = "<Msg-1@Test.Example>",
    references: str | None = None,
    in_reply_to: str | None = None,
    attachments: Sequence[tuple[str, str, bytes]] = (),
    nested: Sequence[EmailMessage] = (),
    extra_headers: dict[str, str] | None = None,
) -> bytes:
    message = EmailMessage(policy=SMTP)
    message["From"] = sender
    message["To"] = to
    if cc:
        message["Cc"] = cc
    if bcc:
        message["Bcc"] = bcc
    message["Subject"] = subject
    message["Date"] = date
    if message_id:
        message["Message-ID"] = message_id
    if references:
        message["References"] = references
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    for name, value in (extra_headers or {}).items():
        message[name] = value
    if body is not None:
        message.set_content(body)
        if html is not None:
            message.add_alternative(html, subtype="html")
    elif html is not None:
        message.set_content(html, subtype="html")
    for filename, media_type, data in attachments:
        maintype, subtype = media_type.split("/", 1)
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    for inner in nested:
        message.add_attachment(inner)
    return message.as_bytes()


def mail_record(
    blob_sha256: str,
    size: int,
    *,
    who: str = "mayor",
    item_id: str = "item-1",
    folder_path: str = "Inbox",
    received: str = "2026-03-03T09:15:00Z",
    internet_message_id: str | None = None,
    kind: str = "mail-message",
    media_type: str = "message/rfc822",
    mailbox_kind: str = "primary",
    item_type: str = "message",
) -> Record:
    account = ACCOUNTS[who]
    identity = {
        "system": "microsoft-graph",
        "mailbox": account,
        "mailbox_kind": mailbox_kind,
        "item_id": item_id,
    }
    return Record(
        kind=kind,
        source={
            **identity,
            "folder_path": folder_path,
            "folder_id": "folder-" + folder_path,
            "immutable_id": item_id,
            "received": received,
            "internet_message_id": internet_message_id,
            "item_type": item_type,
        },
        source_identity=identity,
        capture={"run_id": "run-1", "connector": "test", "captured_at": "2026-03-04T00:00:00+00:00"},
        designation=DESIGNATIONS[who],
        blob_sha256=blob_sha256,
        size=size,
        media_type=media_type,
    )


def chat_message_json(
    chat_id: str,
    message_id: str,
    html: str,
    *,
    user_id: str = "u-mayor",
    name: str = "Marieke van Dalen",
    created: str = "2026-03-05T08:00:00Z",
    edited: str | None = None,
    deleted: str | None = None,
) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.chatMessage",
        "id": message_id,
        "chatId": chat_id,
        "createdDateTime": created,
        "lastEditedDateTime": edited,
        "deletedDateTime": deleted,
        "messageType": "message",
        "body": {"contentType": "html", "content": html},
        "from": {"user": {"id": user_id, "displayName": name}},
        "attachments": [],
        "replyToId": None,
        "subject": None,
    }


def chat_meta(chat_id: str, topic: str = "Collegeoverleg") -> dict[str, Any]:
    return {
        "chat": {"id": chat_id, "topic": topic, "chatType": "group"},
        "members": [
            {
                "displayName": "Marieke van Dalen",
                "email": "burgemeester@gemeente-test.nl",
                "userId": "u-mayor",
            },
            {"displayName": "Sanne Visser", "email": "griffier@gemeente-test.nl", "userId": "u-clerk"},
        ],
    }


def chat_record(message: dict[str, Any], blob_sha256: str, size: int, *, who: str = "mayor") -> Record:
    version = (
        message.get("lastEditedDateTime") or message.get("deletedDateTime") or message["createdDateTime"]
    )
    identity = {
        "system": "microsoft-teams",
        "chat_id": message["chatId"],
        "message_id": message["id"],
        "version": version,
    }
    return Record(
        kind="chat-message-version",
        source={**identity, "created": message["createdDateTime"], "observed_for": ACCOUNTS[who]},
        source_identity=identity,
        capture={"run_id": "run-1", "connector": "test", "captured_at": "2026-03-06T00:00:00+00:00"},
        designation=DESIGNATIONS[who],
        blob_sha256=blob_sha256,
        size=size,
        media_type="application/json",
    )


def meta_record(meta: dict[str, Any], blob_sha256: str, size: int, *, who: str = "mayor") -> Record:
    identity = {"system": "microsoft-teams", "chat_id": meta["chat"]["id"]}
    return Record(
        kind="chat-metadata",
        source={**identity, "topic": meta["chat"]["topic"], "observed_for": ACCOUNTS[who]},
        source_identity=identity,
        capture={"run_id": "run-1", "connector": "test", "captured_at": "2026-03-06T00:00:00+00:00"},
        designation=DESIGNATIONS[who],
        blob_sha256=blob_sha256,
        size=size,
        media_type="application/json",
    )


class VaultWriter:
    """Puts blobs and records into a vault as a capture would (one segment per call)."""

    def __init__(self, vault: Vault) -> None:
        self.vault = vault
        self.runs = 0

    def mail(self, data: bytes, **kwargs: Any) -> Record:
        blob = self.vault.put_blob(data, media_type="message/rfc822")
        return mail_record(blob.sha256, blob.size, **kwargs)

    def chat(self, message: dict[str, Any], **kwargs: Any) -> Record:
        data = canonical_json(message)
        blob = self.vault.put_blob(data, media_type="application/json")
        return chat_record(message, blob.sha256, blob.size, **kwargs)

    def meta(self, meta: dict[str, Any], **kwargs: Any) -> Record:
        data = json.dumps(meta).encode()
        blob = self.vault.put_blob(data, media_type="application/json")
        return meta_record(meta, blob.sha256, blob.size, **kwargs)

    def write(self, records: Sequence[Record]) -> None:
        self.runs += 1
        refs = self.vault.put_records(list(records))
        self.vault.write_manifest(f"run-{self.runs}", refs)


def document(
    doc_id: str,
    *,
    kind: DocumentKind = "mail",
    body: str = "",
    subject: str = "",
    official: str = "Marieke van Dalen",
    designation_id: str = "sf-mayor",
    account: str = "burgemeester@gemeente-test.nl",
    folder_path: str = "Inbox",
    date: datetime | None = datetime(2026, 3, 3, 9, 0, tzinfo=UTC),
    sender: str = "Ruud Jansen <ruud.jansen@gemeente-test.nl>",
    to: Sequence[str] = ("Marieke van Dalen <burgemeester@gemeente-test.nl>",),
    cc: Sequence[str] = (),
    bcc: Sequence[str] = (),
    attachment_names: Sequence[str] = (),
    duplicate_key: str | None = None,
    parent_id: str = "",
    filename: str = "",
    participants: Sequence[str] = (),
    chat_id: str = "",
) -> IndexDocument:
    return IndexDocument(
        doc_id=doc_id,
        record_id=doc_id.split(":")[0],
        kind=kind,
        blob_sha256="0" * 64,
        duplicate_key=duplicate_key or f"key-{doc_id}",
        official=official,
        designation_id=designation_id,
        account=account,
        mailbox_kind="teams" if kind == "chat-message" else "primary",
        folder_path=folder_path,
        date=date,
        sender=sender,
        to=tuple(to),
        cc=tuple(cc),
        bcc=tuple(bcc),
        subject=subject,
        body=body,
        attachment_names=tuple(attachment_names),
        parent_id=parent_id,
        filename=filename,
        participants=tuple(participants),
        chat_id=chat_id,
    )
