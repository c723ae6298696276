"""From vault records to :class:`IndexDocument` s: mail (MIME), attachments, chat message versions,
calendar events, contacts and To Do tasks (Graph JSON), and the items whose content is an opaque
export.

Nothing here raises on bad content: whatever cannot be read (an encrypted PDF, a corrupt DOCX, a
message too large to parse whole, a broken header) becomes a ``notes`` entry on the document, so one
odd item never stops the index. Memory stays bounded: a message above :data:`MAX_PARSE_BYTES` is
indexed from its header block only, and extracted text is capped at :data:`MAX_TEXT_CHARS` per
document.

Example::

    with vault.open_blob(record.blob_sha256) as stream:
        docs = mail_documents(record, stream)   # the mail, then one document per attachment
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import warnings
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import Message
from email.utils import parsedate_to_datetime
from typing import Any, BinaryIO

from capstone.index import sandbox
from capstone.index.model import DocumentKind, IndexDocument
from capstone.mime.decode import Address, decode_bytes, header_text, parse_addresses
from capstone.mime.walker import UNDECODABLE, Attachment, TextPart, Walk, content_type, walk
from capstone.mime.walker import parse as parse_mime
from capstone.mime.walker import parse_headers as parse_mime_headers
from connectors.graph.entities import parse_time
from vault.records import Record

MAX_PARSE_BYTES = 64 * 1024 * 1024  # above this a message is indexed from its headers only
MAX_HEADER_BYTES = 1024 * 1024
MAX_TEXT_CHARS = 1_000_000  # extracted text kept per document
MAX_NESTING = 3  # message/rfc822 inside message/rfc822 ...

MAIL_KINDS = ("mail-message",)
ITEM_KINDS = ("archive-export-item", "mailbox-export-item")  # opaque: metadata only
ENTITY_KINDS: dict[str, DocumentKind] = {"calendar-event": "event", "contact": "contact", "task": "task"}
CHAT_KINDS = ("chat-message-version",)
PHONE_KINDS = ("phone-chat-message",)  # imported phone chats (capstone/imports/)
INDEXED_KINDS = MAIL_KINDS + ITEM_KINDS + tuple(ENTITY_KINDS) + CHAT_KINDS + PHONE_KINDS
READ_KINDS = (
    MAIL_KINDS + tuple(ENTITY_KINDS) + CHAT_KINDS + PHONE_KINDS
)  # whose blob is read, not only the record
TASK_STATUS = {
    "notStarted": "niet begonnen",
    "inProgress": "bezig",
    "completed": "voltooid",
    "waitingOnOthers": "wacht op anderen",
    "deferred": "uitgesteld",
}

_ID = re.compile(r"<([^<>\s]+)>")
_SPACES = re.compile(r"[ \t\r\f\v]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")


# -- shared helpers ----------------------------------------------------------------------------------


def decode_header_value(value: Any) -> str:
    """A header as text: RFC 2047 encoded words decoded, raw 8-bit bytes read as UTF-8 (a byte that
    is not UTF-8 read on its own), folded lines joined (see :mod:`capstone.mime.decode`)."""
    return header_text(value)


def _decode_text(data: bytes, charset: str | None) -> str:
    return decode_bytes(data, charset).text


def normalise_message_id(value: str | None) -> str:
    """``<ABC@host>`` -> ``abc@host``; empty when there is none."""
    if not value:
        return ""
    text = str(value).strip()
    match = _ID.search(text)
    if match:
        text = match.group(1)
    return text.strip("<> \t\r\n").lower()


def _message_ids(value: str | None) -> list[str]:
    if not value:
        return []
    found = [m.lower() for m in _ID.findall(str(value))]
    if found:
        return found
    return [part.lower() for part in str(value).split() if part.strip("<>")]


def _parse_iso(value: Any) -> datetime | None:
    if not value or not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _cap(text: str, notes: list[str], what: str) -> str:
    if len(text) > MAX_TEXT_CHARS:
        notes.append(f"{what} text truncated to {MAX_TEXT_CHARS:,} characters (of {len(text):,})")
        return text[:MAX_TEXT_CHARS]
    return text


def _tidy(text: str) -> str:
    lines = [_SPACES.sub(" ", line).strip() for line in text.replace("\r\n", "\n").split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def _common(record: Record) -> dict[str, Any]:
    designation = record.designation or {}
    source = record.source or {}
    return {
        "record_id": record.record_id,
        "blob_sha256": record.blob_sha256,
        "official": str(designation.get("official") or ""),
        "designation_id": str(designation.get("designation_id") or ""),
        "account": str(source.get("mailbox") or source.get("observed_for") or ""),
        "mailbox_kind": str(source.get("mailbox_kind") or ""),
        "folder_path": str(source.get("folder_path") or ""),
    }


def html_to_text(html: str | bytes) -> str:
    """Readable text of an HTML body (scripts and styles dropped, blocks on their own lines)."""
    from lxml import etree
    from lxml import html as lxml_html

    if not html or not html.strip():
        return ""
    try:
        root = lxml_html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        try:
            root = lxml_html.fragment_fromstring(html, create_parent="div")
        except (etree.ParserError, ValueError):
            return ""
    etree.strip_elements(root, "script", "style", "head", "title", etree.Comment, with_tail=False)
    for element in root.iter("br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table"):
        element.tail = "\n" + (element.tail or "")
    for cell in root.iter("td", "th"):
        cell.tail = " " + (cell.tail or "")
    return _tidy(root.text_content())


# -- attachment text -----------------------------------------------------------------------------------

_PDF = ("application/pdf", "application/x-pdf")
_DOCX = ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",)
_XLSX = ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",)
_EXTENSIONS = {
    ".pdf": "application/pdf",
    ".docx": _DOCX[0],
    ".xlsx": _XLSX[0],
    ".txt": "text/plain",
    ".csv": "text/csv",
    ".htm": "text/html",
    ".html": "text/html",
    ".eml": "message/rfc822",
    ".md": "text/markdown",
    ".xml": "text/xml",
    ".json": "application/json",
}


def _effective_type(media_type: str, filename: str) -> str:
    media_type = (media_type or "application/octet-stream").lower()
    if media_type in ("application/octet-stream", "application/x-msdownload", "binary/octet-stream"):
        lowered = filename.lower()
        for ext, guess in _EXTENSIONS.items():
            if lowered.endswith(ext):
                return guess
    return media_type


def _pdf_text(data: bytes, notes: list[str]) -> str:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        try:
            if not reader.decrypt(""):
                notes.append("attachment text not extracted: encrypted PDF")
                return ""
        except Exception:
            notes.append("attachment text not extracted: encrypted PDF")
            return ""
    parts: list[str] = []
    size = 0
    for page in reader.pages:
        text = page.extract_text() or ""
        parts.append(text)
        size += len(text)
        if size > MAX_TEXT_CHARS:
            break
    return "\n".join(parts)


def _docx_text(data: bytes, notes: list[str]) -> str:
    """Paragraph and table text of a DOCX, read with zip + lxml (streams; no python-docx model)."""
    from lxml import etree

    ns = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = [
            n
            for n in archive.namelist()
            if re.fullmatch(r"word/(document|header\d*|footer\d*|footnotes|endnotes)\.xml", n)
        ]
        if "word/document.xml" not in names:
            raise ValueError("no word/document.xml in the package")
        names.sort(key=lambda n: n != "word/document.xml")
        out: list[str] = []
        size = 0
        for name in names:
            with archive.open(name) as handle:
                for _, element in etree.iterparse(handle, events=("end",), tag=f"{ns}p"):
                    text = "".join(t.text or "" for t in element.iter(f"{ns}t", f"{ns}tab"))
                    element.clear()
                    if text:
                        out.append(text)
                        size += len(text)
                    if size > MAX_TEXT_CHARS:
                        return "\n".join(out)
        return "\n".join(out)


def _xlsx_text(data: bytes, notes: list[str]) -> str:
    import openpyxl

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # openpyxl warns about harmless oddities of the producer
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        out: list[str] = []
        size = 0
        for sheet in workbook.worksheets:
            out.append(str(sheet.title))
            for row in sheet.iter_rows(values_only=True):
                cells = [str(v) for v in row if v is not None and str(v).strip()]
                if cells:
                    line = " ".join(cells)
                    out.append(line)
                    size += len(line)
                if size > MAX_TEXT_CHARS:
                    return "\n".join(out)
        return "\n".join(out)
    finally:
        workbook.close()


def attachment_text(data: bytes, media_type: str, filename: str, notes: list[str]) -> str:
    """Text of an attachment of a common type (PDF, DOCX, XLSX, text/*); a note when it has none."""
    kind = _effective_type(media_type, filename)
    extractor: Callable[[bytes, list[str]], str] | None = None
    label = kind
    if kind in _PDF:
        extractor, label = _pdf_text, "PDF"
    elif kind in _DOCX:
        extractor, label = _docx_text, "DOCX"
    elif kind in _XLSX:
        extractor, label = _xlsx_text, "XLSX"
    elif kind == "text/html":
        return html_to_text(data)
    elif kind.startswith("text/") or kind in ("application/json", "application/xml"):
        return _decode_text(data, None)
    if extractor is None:
        return ""  # images, archives, unknown binaries: the name is indexed, there is no text
    try:
        return extractor(data, notes)
    except Exception as exc:
        notes.append(f"attachment text not extracted: unreadable {label} ({type(exc).__name__})")
        return ""


# -- mail --------------------------------------------------------------------------------------------
# Read through the one MIME walker (capstone.mime.walker), which ``woo export`` uses too: attachment
# number N here is document ``<record_id>:N`` there.


def _header(message: Message, name: str, notes: list[str]) -> str:
    try:
        return decode_header_value(message.get(name))
    except Exception:
        notes.append(f"header {name} could not be decoded")
        return ""


def _addresses(message: Message, name: str, notes: list[str]) -> list[str]:
    """``Name <addr>`` (or ``addr``) for every address in the header (groups understood, RFC 2047
    names decoded, no recursion however long the header)."""
    try:
        return [text for a in parse_addresses(message.get_all(name) or []) if (text := str(a))]
    except Exception:
        notes.append(f"header {name} could not be decoded")
        return []


def _person(name: str | None, address: str | None) -> str:
    return str(Address(name or "", (address or "").strip()))


def _mail_date(message: Message, record: Record, notes: list[str]) -> datetime | None:
    raw = _header(message, "Date", notes)
    if raw:
        try:
            moment = parsedate_to_datetime(raw)
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        except (TypeError, ValueError, IndexError, OverflowError):
            notes.append("Date header unreadable; the received time is used")
    return _parse_iso((record.source or {}).get("received"))


def _thread_id(message: Message, message_id: str, notes: list[str]) -> str:
    references = _message_ids(_header(message, "References", notes))
    if references:
        return references[0]
    in_reply_to = _message_ids(_header(message, "In-Reply-To", notes))
    if in_reply_to:
        return in_reply_to[0]
    if message_id:
        return message_id  # a thread's root: its replies name it first in References
    conversation = _header(message, "Thread-Index", notes)
    if conversation:
        try:
            import base64

            head = base64.b64decode(conversation + "=" * (-len(conversation) % 4))[:22]
            if len(head) == 22:
                return "thread-index:" + head.hex()
        except ValueError:
            pass
    return ""


def _part_text(part: TextPart, notes: list[str]) -> str:
    if part.problem:
        notes.append(f"a body part ({content_type(part.part)}) {UNDECODABLE}: {part.problem}")
        return ""
    if not part.decoded.exact or not part.decoded.known:
        declared = part.decoded.declared or "undeclared"
        notes.append(f"body charset {declared}: bytes it could not decode were read one by one")
    text = part.decoded.text
    return html_to_text(text) if part.subtype == "html" else text


def _body_text(structure: Walk, notes: list[str]) -> str:
    return _tidy("\n\n".join(t for t in (_part_text(p, notes) for p in structure.body_parts()) if t))


def _nested_text(inner: Message, depth: int, notes: list[str]) -> str:
    """Headers, body and attachment text of an attached message, as one text."""
    lines = []
    for name in ("From", "To", "Cc", "Date", "Subject"):
        value = ", ".join(_addresses(inner, name, notes)) if name in ("From", "To", "Cc") else ""
        value = value or _header(inner, name, notes)
        if value:
            lines.append(f"{name}: {value}")
    structure = walk(inner)
    lines.append(_body_text(structure, notes))
    for attachment in structure.attachments:
        lines.append(f"[{attachment.filename}]")
        if attachment.inner is not None:
            if depth < MAX_NESTING:
                lines.append(_nested_text(attachment.inner, depth + 1, notes))
            continue
        content = attachment.content()
        if content.problem:
            notes.append(f"attachment {attachment.filename} {UNDECODABLE}: {content.problem}")
            continue
        lines.append(
            sandbox.extract_attachment_text(content.data, attachment.media_type, attachment.filename, notes)
        )
    return "\n".join(line for line in lines if line)


def _read_message(record: Record, stream: BinaryIO, notes: list[str]) -> tuple[Message, bool]:
    """The parsed message, and whether it was parsed whole (False: headers only)."""
    size = record.size
    if size is None or size > MAX_PARSE_BYTES:
        head = stream.read(MAX_PARSE_BYTES + 1)
        if len(head) <= MAX_PARSE_BYTES:
            return parse_mime(head, notes), True
        # too large to parse whole: the header block only (it ends at the first empty line)
        end = min((i for i in (head.find(b"\r\n\r\n"), head.find(b"\n\n")) if i >= 0), default=-1)
        header_block = head[: end if 0 <= end < MAX_HEADER_BYTES else MAX_HEADER_BYTES]
        del head
        notes.append(
            f"message larger than {MAX_PARSE_BYTES // (1024 * 1024)} MB: only its headers are indexed"
        )
        return parse_mime_headers(header_block + b"\r\n\r\n", notes), False
    return parse_mime(stream.read(), notes), True


def mail_documents(record: Record, stream: BinaryIO) -> list[IndexDocument]:
    """The mail document of a ``mail-message`` record and one document per attachment part (the
    walker's numbering: document ``<record_id>:N``)."""
    notes: list[str] = []
    try:
        message, whole = _read_message(record, stream, notes)
    except Exception as exc:
        notes.append(f"message could not be parsed ({type(exc).__name__}); source metadata only")
        return [_item_document(record, "mail", notes)]
    common = _common(record)
    source = record.source or {}
    message_id = normalise_message_id(_header(message, "Message-ID", notes)) or normalise_message_id(
        source.get("internet_message_id")
    )
    thread_id = _thread_id(message, message_id, notes)
    date = _mail_date(message, record, notes)
    senders = _addresses(message, "From", notes) or _addresses(message, "Sender", notes)
    to = _addresses(message, "To", notes)
    cc = _addresses(message, "Cc", notes)
    bcc = _addresses(message, "Bcc", notes)
    subject = _header(message, "Subject", notes)
    body = ""
    attachments: list[Attachment] = []
    if whole:
        try:
            structure = walk(message)
            notes.extend(structure.notes)
            attachments = structure.attachments
            body = _body_text(structure, notes)
        except Exception as exc:
            notes.append(f"message structure could not be read ({type(exc).__name__})")
    shared: dict[str, Any] = {
        **common,
        "date": date,
        "sender": senders[0] if senders else "",
        "to": tuple(to),
        "cc": tuple(cc),
        "bcc": tuple(bcc),
        "message_id": message_id,
        "thread_id": thread_id,
    }
    children = [_attachment_document(record, a, shared, subject) for a in attachments]
    mail = IndexDocument(
        doc_id=record.record_id,
        kind="mail",
        duplicate_key=message_id or f"sha256:{record.blob_sha256}",
        subject=subject,
        body=_cap(body, notes, "body"),
        attachment_names=tuple(a.filename for a in attachments),
        media_type=record.media_type or "message/rfc822",
        size=int(record.size or 0),
        notes=tuple(dict.fromkeys(notes)),
        **shared,
    )
    return [mail, *children]


def _attachment_document(
    record: Record, attachment: Attachment, shared: dict[str, Any], subject: str
) -> IndexDocument:
    notes: list[str] = []
    text = ""
    content = attachment.content()
    try:
        if content.problem:
            notes.append(f"attachment {UNDECODABLE}: {content.problem}")
        elif attachment.inner is not None:
            text = _nested_text(attachment.inner, 1, notes)
        else:
            text = sandbox.extract_attachment_text(
                content.data, attachment.media_type, attachment.filename, notes
            )
    except Exception as exc:
        notes.append(f"attachment text not extracted ({type(exc).__name__})")
    return IndexDocument(
        doc_id=f"{record.record_id}:{attachment.number}",
        kind="attachment",
        duplicate_key=f"sha256:{hashlib.sha256(content.data).hexdigest()}",
        subject=subject,
        body=_cap(_tidy(text), notes, "attachment"),
        parent_id=record.record_id,
        filename=attachment.filename,
        media_type=_effective_type(attachment.media_type, attachment.filename),
        size=len(content.data),
        notes=tuple(dict.fromkeys(notes)),
        **shared,
    )


# -- items whose content is an opaque export ---------------------------------------------------------


def _item_document(record: Record, kind: DocumentKind, notes: list[str]) -> IndexDocument:
    source = record.source or {}
    message_id = normalise_message_id(source.get("internet_message_id"))
    return IndexDocument(
        doc_id=record.record_id,
        kind=kind,
        duplicate_key=message_id or f"sha256:{record.blob_sha256}",
        date=_parse_iso(source.get("received")) or _parse_iso(source.get("last_modified")),
        subject=str(source.get("subject") or ""),
        message_id=message_id,
        thread_id=message_id,
        media_type=record.media_type or "",
        size=int(record.size or 0),
        notes=tuple(notes),
        **_common(record),
    )


def item_documents(record: Record) -> list[IndexDocument]:
    """One ``item`` document for an ``archive-export-item`` / ``mailbox-export-item`` record: the
    content is an opaque full-fidelity stream, so only its source metadata (mailbox, folder, item
    class, dates, Message-ID) is indexed, and a note says so."""
    notes: list[str] = []
    source = record.source or {}
    item_type = str(source.get("item_type") or "")
    notes.append(
        f"content is an opaque export ({record.media_type or 'unknown format'}"
        + (f", item class {item_type}" if item_type else "")
        + "): only its source metadata is indexed"
    )
    return [_item_document(record, "item", notes)]


# -- calendar events, contacts, To Do tasks (Graph JSON) ---------------------------------------------


def _item_body(entity: dict[str, Any]) -> str:
    body = entity.get("body")
    if not isinstance(body, dict):
        return ""
    content = str(body.get("content") or "")
    return html_to_text(content) if str(body.get("contentType")).lower() == "html" else content


def _address(value: Any) -> str:
    """``Name <address>`` of a Graph recipient (``{"emailAddress": {...}}``) or emailAddress."""
    if isinstance(value, dict) and isinstance(value.get("emailAddress"), dict):
        value = value["emailAddress"]
    if not isinstance(value, dict):
        return ""
    return _person(str(value.get("name") or ""), str(value.get("address") or "").lower())


def _event_fields(entity: dict[str, Any]) -> dict[str, Any]:
    attendees = [a for a in entity.get("attendees") or [] if isinstance(a, dict)]
    location = entity.get("location")
    location = location if isinstance(location, dict) else {}
    lines = [_item_body(entity)]
    if location.get("displayName"):
        lines.append(f"Locatie: {location['displayName']}")
    return {
        "subject": str(entity.get("subject") or ""),
        "body": "\n\n".join(line for line in lines if line),
        "date": parse_time(entity.get("start")),
        "sender": _address(entity.get("organizer")),
        "to": tuple(p for a in attendees if a.get("type") != "optional" and (p := _address(a))),
        "cc": tuple(p for a in attendees if a.get("type") == "optional" and (p := _address(a))),
    }


def _contact_fields(entity: dict[str, Any]) -> dict[str, Any]:
    phones = [
        *(entity.get("businessPhones") or []),
        entity.get("mobilePhone"),
        *(entity.get("homePhones") or []),
    ]
    lines = [
        *(_address(e) for e in entity.get("emailAddresses") or []),
        *(str(entity.get(k) or "") for k in ("companyName", "jobTitle", "department", "officeLocation")),
        *(str(p) for p in phones if p),
        str(entity.get("personalNotes") or ""),
    ]
    return {
        "subject": str(entity.get("displayName") or ""),
        "body": "\n".join(line for line in lines if line),
        "date": parse_time(entity.get("createdDateTime")),
    }


def _task_fields(entity: dict[str, Any]) -> dict[str, Any]:
    status = str(entity.get("status") or "")
    due = parse_time(entity.get("dueDateTime"))
    lines = [_item_body(entity), f"Status: {TASK_STATUS.get(status, status)}" if status else ""]
    return {
        "subject": str(entity.get("title") or ""),
        "body": "\n\n".join(line for line in lines if line),
        "date": due or parse_time(entity.get("createdDateTime")),
    }


_ENTITY_FIELDS = {"event": _event_fields, "contact": _contact_fields, "task": _task_fields}


def entity_documents(record: Record, stream: BinaryIO | None) -> list[IndexDocument]:
    """One document for a ``calendar-event``, ``contact`` or ``task`` record (Graph JSON): an event
    by its subject, body, location, organiser and attendees, dated by its start; a contact by its
    name, e-mail addresses, company, job title and phones, dated by its creation; a task by its
    title, body and status, dated by its due date (else its creation)."""
    kind = ENTITY_KINDS[record.kind]
    notes: list[str] = []
    entity: Any = {}
    try:
        data = stream.read(MAX_PARSE_BYTES + 1) if stream is not None else b""
        if len(data) > MAX_PARSE_BYTES:
            raise ValueError("too large")
        entity = json.loads(data) if data else {}
    except (ValueError, UnicodeDecodeError) as exc:
        notes.append(f"item JSON could not be read ({type(exc).__name__}); source metadata only")
    if not isinstance(entity, dict):
        entity = {}
    if stream is None:
        notes.append("item blob not available: source metadata only")
    fields = _ENTITY_FIELDS[kind](entity)
    fields["body"] = _cap(_tidy(fields["body"]), notes, kind)
    source = record.source or {}
    fields["date"] = fields["date"] or _parse_iso(source.get("start")) or _parse_iso(source.get("created"))
    return [
        IndexDocument(
            doc_id=record.record_id,
            kind=kind,
            duplicate_key=f"sha256:{record.blob_sha256}",
            media_type=record.media_type or "application/json",
            size=int(record.size or 0),
            notes=tuple(notes),
            **fields,
            **_common(record),
        )
    ]


# -- Teams chat messages -------------------------------------------------------------------------------


def chat_participants(chat_meta: dict[str, Any] | None) -> tuple[dict[str, str], tuple[str, ...], str]:
    """(user id -> ``Name <email>``, all members, topic) from a ``chat-metadata`` blob document."""
    if not chat_meta:
        return {}, (), ""
    members = chat_meta.get("members") or []
    by_id: dict[str, str] = {}
    everyone: list[str] = []
    for member in members:
        if not isinstance(member, dict):
            continue
        person = _person(member.get("displayName"), str(member.get("email") or "").lower())
        if not person:
            continue
        everyone.append(person)
        if member.get("userId"):
            by_id[str(member["userId"])] = person
    chat = chat_meta.get("chat") or {}
    return by_id, tuple(everyone), str(chat.get("topic") or "")


def chat_documents(
    record: Record, blob_bytes: bytes, chat_meta: dict[str, Any] | None
) -> list[IndexDocument]:
    """One document for one version of a Teams chat message (Graph ``chatMessage`` JSON).

    Every version is its own document; versions of one message share ``duplicate_key``
    ``chat:<chat_id>:<message_id>``. ``chat_meta`` is the document of the chat's ``chat-metadata``
    record (``{"chat": ..., "members": [...]}``), or None when the vault holds none.
    """
    notes: list[str] = []
    source = record.source or {}
    chat_id = str(source.get("chat_id") or "")
    try:
        message = json.loads(blob_bytes)
        if not isinstance(message, dict):
            raise ValueError("not an object")
    except (ValueError, UnicodeDecodeError) as exc:
        notes.append(f"chat message JSON could not be read ({type(exc).__name__}); source metadata only")
        message = {}
    chat_id = chat_id or str(message.get("chatId") or "")
    message_id = str(source.get("message_id") or message.get("id") or "")
    by_id, participants, topic = chat_participants(chat_meta)
    if chat_meta is None:
        notes.append("chat metadata not in the vault: participants unknown")
    topic = topic or str(source.get("topic") or "")
    body = message.get("body") or {}
    content = str(body.get("content") or "") if isinstance(body, dict) else ""
    text = html_to_text(content) if isinstance(body, dict) and body.get("contentType") == "html" else content
    sender = ""
    origin = message.get("from") or {}
    if isinstance(origin, dict):
        for role in ("user", "application", "device"):
            who = origin.get(role)
            if isinstance(who, dict):
                sender = by_id.get(str(who.get("id") or ""), "") or str(who.get("displayName") or "")
                break
    names = []
    for attachment in message.get("attachments") or []:
        if isinstance(attachment, dict) and attachment.get("name"):
            names.append(str(attachment["name"]))
    if message.get("deletedDateTime") or source.get("deleted"):
        notes.append("this version records the message's deletion in the source")
    recipients = tuple(p for p in participants if p != sender)
    subject = str(message.get("subject") or "") or topic
    common = _common(record)
    common["account"] = str(source.get("observed_for") or common["account"])
    common["mailbox_kind"] = "teams"
    common["folder_path"] = topic or chat_id
    return [
        IndexDocument(
            doc_id=record.record_id,
            kind="chat-message",
            duplicate_key=f"chat:{chat_id}:{message_id}",
            date=_parse_iso(message.get("createdDateTime")) or _parse_iso(source.get("created")),
            sender=sender,
            to=recipients,
            subject=subject,
            body=_cap(_tidy(text), notes, "message"),
            attachment_names=tuple(names),
            thread_id=f"chat:{chat_id}:{message.get('replyToId') or message_id}",
            chat_id=chat_id,
            participants=participants,
            media_type=record.media_type or "application/json",
            size=int(record.size or 0),
            notes=tuple(notes),
            **common,
        )
    ]


def documents_for(
    record: Record, stream: BinaryIO | None, chat_meta: dict[str, Any] | None = None
) -> list[IndexDocument]:
    """Dispatch on the record kind; [] for kinds that are not searchable content."""
    if record.kind in MAIL_KINDS:
        if stream is None:
            return [_item_document(record, "mail", ["message blob not available"])]
        return mail_documents(record, stream)
    if record.kind in ENTITY_KINDS:
        return entity_documents(record, stream)
    if record.kind in ITEM_KINDS:
        return item_documents(record)
    if record.kind in CHAT_KINDS:
        data = stream.read(MAX_PARSE_BYTES) if stream is not None else b""
        return chat_documents(record, data, chat_meta)
    if record.kind in PHONE_KINDS:
        from capstone.imports.index import phone_chat_documents

        return phone_chat_documents(record, stream.read(MAX_PARSE_BYTES) if stream is not None else b"")
    return []


__all__ = [
    "CHAT_KINDS",
    "ENTITY_KINDS",
    "INDEXED_KINDS",
    "ITEM_KINDS",
    "MAIL_KINDS",
    "READ_KINDS",
    "attachment_text",
    "chat_documents",
    "documents_for",
    "entity_documents",
    "html_to_text",
    "item_documents",
    "mail_documents",
    "normalise_message_id",
]
