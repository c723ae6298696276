"""PDF renditions of every document kind the Woo export knows (see :mod:`capstone.woo.export`).

* mail: its headers, body and list of attachments, read through the one MIME walker (the same
  page :func:`capstone.woo.rendition.render_mail` builds, laid out as PDF/A-2B text);
* attachments: a PDF as it is; DOCX, XLSX, PPTX, ODF and the older Office formats converted by
  LibreOffice headless (PDF/A-2b); images fitted on a page; text and HTML laid out as text; an
  attached message as a mail;
* Teams chats and imported phone chats: their transcript;
* calendar events, contacts and To Do tasks: their properties from the captured Graph JSON.

Nothing is skipped silently: what cannot be rendered is a :class:`Rendition` with ``pdf`` None and
``failure`` saying why (in Dutch: it is listed to the Woo officer), never an exception.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fpdf
import pymupdf

from capstone import __version__
from capstone.mime.decode import decode_bytes, header_text
from capstone.mime.walker import parse, walk
from capstone.woo import rendition as html_rendition
from capstone.woo.pdf import office, textpdf
from vault import Vault

MAIL_TYPES = frozenset({"message/rfc822", "message/global"})
ENTITY_KINDS = frozenset({"event", "contact", "task"})
_TEXT_SUFFIXES = frozenset({".txt", ".csv", ".log", ".md", ".ics", ".vcf", ".json", ".xml"})
_HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml"})
_IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp"})


@dataclass(frozen=True)
class Rendition:
    """A document as PDF, or why it could not be made: exactly one of ``pdf`` and ``failure``."""

    pdf: bytes | None
    failure: str | None
    tool_versions: dict[str, str] = field(default_factory=dict)
    pdfa: str | None = None  # "PDF/A-2B" when the tool wrote the file to that level
    source: str = ""  # how it was made: generated | libreoffice | as-is | image

    @property
    def ok(self) -> bool:
        return self.pdf is not None


def _versions(*tools: str) -> dict[str, str]:
    versions = {"capstone": __version__}
    for tool in tools:
        if tool == "fpdf2":
            versions["fpdf2"] = str(fpdf.FPDF_VERSION)
        elif tool == "pymupdf":
            versions["pymupdf"] = str(pymupdf.VersionBind)
            versions["mupdf"] = str(pymupdf.VersionFitz)
        elif tool == "libreoffice":
            versions["libreoffice"] = office.libreoffice_version()
        elif tool == "pillow":
            import PIL

            versions["pillow"] = str(PIL.__version__)
    return versions


def _failed(reason: str, *tools: str) -> Rendition:
    return Rendition(None, reason, _versions(*tools))


def _generated(title: str, page: str) -> Rendition:
    """An HTML rendition laid out as a PDF/A-2B text document."""
    try:
        blocks = textpdf.html_blocks(page)
        if blocks and blocks[0].kind == "heading" and blocks[0].text.strip() == title.strip():
            blocks = blocks[1:]
        pdf = textpdf.text_pdf(title, blocks)
    except Exception as exc:
        return _failed(f"PDF kon niet worden opgemaakt ({type(exc).__name__}: {str(exc)[:200]})", "fpdf2")
    return Rendition(pdf, None, _versions("fpdf2"), textpdf.PDFA, "generated")


# -- mail -------------------------------------------------------------------------------------------


def render_mail(eml: bytes, *, sources: Sequence[str] = ()) -> Rendition:
    """A mail (RFC 5322 bytes): headers, body, undecodable parts noted, its attachments listed."""
    try:
        structure = walk(parse(eml))
    except Exception as exc:
        return _failed(f"bericht kon niet worden gelezen ({type(exc).__name__})")
    subject = header_text(structure.message.get("Subject"))
    page = html_rendition.render_mail(structure, subject, list(sources))
    return _generated(subject or "E-mail", page)


# -- attachments ------------------------------------------------------------------------------------


def _as_is(data: bytes) -> Rendition:
    try:
        with pymupdf.open(stream=data, filetype="pdf") as doc:
            if doc.needs_pass:
                return _failed("PDF is met een wachtwoord beveiligd", "pymupdf")
            if doc.page_count == 0:
                return _failed("PDF zonder pagina's", "pymupdf")
            claims = (doc.get_xml_metadata() or "").replace(" ", "")
    except Exception as exc:
        return _failed(f"PDF kon niet worden gelezen ({type(exc).__name__})", "pymupdf")
    pdfa = None
    if "pdfaid:part>2<" in claims or 'pdfaid:part="2"' in claims:
        pdfa = "PDF/A-2"
    return Rendition(data, None, _versions("pymupdf"), pdfa, "as-is")


def _image(data: bytes, title: str) -> Rendition:
    try:
        pdf = textpdf.image_pdf(title, data)
    except Exception as exc:
        return _failed(f"afbeelding kon niet worden gelezen ({type(exc).__name__})", "fpdf2", "pillow")
    return Rendition(pdf, None, _versions("fpdf2", "pillow"), textpdf.PDFA, "image")


def render_attachment(
    data: bytes, filename: str, media_type: str = "", *, timeout: float = office.DEFAULT_TIMEOUT
) -> Rendition:
    """An attachment by its type (its name's suffix first, else its declared media type)."""
    kind = media_type.split(";", 1)[0].strip().lower()
    suffix = Path(filename).suffix.lower()
    if not data:
        return _failed("leeg bestand (0 bytes)")
    if suffix == ".pdf" or kind == "application/pdf" or data[:5] == b"%PDF-":
        return _as_is(data)
    if kind in MAIL_TYPES or suffix == ".eml":
        return render_mail(data)
    office_suffix = office.office_suffix(filename, kind)
    if office_suffix is not None:
        converted = office.convert_office(data, office_suffix, timeout=timeout)
        versions = _versions("libreoffice")
        if converted.pdf is None:
            return Rendition(None, converted.failure, versions)
        return Rendition(converted.pdf, None, versions, office.PDFA, "libreoffice")
    if suffix in _IMAGE_SUFFIXES or kind.startswith("image/"):
        return _image(data, filename)
    if suffix in _HTML_SUFFIXES or kind == "text/html":
        from capstone.chats.sanitize import sanitize_html

        text = decode_bytes(data, None).text
        return _generated(filename, f"<div>{sanitize_html(text)}</div>")
    if suffix in _TEXT_SUFFIXES or kind.startswith("text/"):
        text = decode_bytes(data, None).text
        return _generated(filename, f"<pre>{_escape(text)}</pre>")
    return _failed(f"geen conversie naar PDF voor {filename or 'bijlage'} ({kind or 'onbekend type'})")


def _escape(text: str) -> str:
    import html

    return html.escape(text, quote=False)


# -- chats, events, contacts, tasks ----------------------------------------------------------------


def render_entity(kind: str, entity: Mapping[str, Any], *, sources: Sequence[str] = ()) -> Rendition:
    """A calendar event, contact or To Do task from its captured Graph JSON."""
    if kind not in ENTITY_KINDS:
        return _failed(f"onbekende soort {kind!r}")
    page = html_rendition.render_entity(kind, dict(entity), list(sources))
    title = str(entity.get("subject") or entity.get("displayName") or entity.get("title") or "")
    heading = html_rendition.TITLES[kind] + (f": {title}" if title else "")
    return _generated(heading, page)


def render_chat(vault: Vault, chat_id: str) -> Rendition:
    """A Teams chat's transcript (every captured version of every message)."""
    from capstone.chats.archive import ChatNotFoundError, load_chat
    from capstone.chats.transcript import render_transcript

    try:
        page, _ = render_transcript(vault, chat_id)
        title = load_chat(vault, chat_id).title()
    except ChatNotFoundError:
        return _failed(f"chat {chat_id} staat niet in het archief")
    except Exception as exc:
        return _failed(f"transcript kon niet worden gemaakt ({type(exc).__name__})")
    return _generated(f"Teams-chat: {title}", page)


def render_phone_chat(vault: Vault, chat_key: str) -> Rendition:
    """An imported phone chat's transcript (WhatsApp, Signal, SMS)."""
    from capstone.imports.transcript import load_phone_chat, phone_chat_records, render_phone_transcript

    try:
        records = phone_chat_records(vault, chat_key).get(chat_key, [])
        if not records:
            return _failed(f"telefoonchat {chat_key} staat niet in het archief")
        views = load_phone_chat(vault, records)
        own = str(((records[0].designation or {}).get("official")) or "")
        page, _ = render_phone_transcript(vault, views, own_name=own)
        title = str(views[0].document.get("chat_title") or "") if views else ""
    except Exception as exc:
        return _failed(f"transcript kon niet worden gemaakt ({type(exc).__name__})")
    return _generated(f"Chat: {title}" if title else "Chat", page)


# -- by index document ------------------------------------------------------------------------------


def render_document(vault: Vault, doc: Any, *, timeout: float = office.DEFAULT_TIMEOUT) -> Rendition:
    """The rendition of an index document (:class:`capstone.index.model.IndexDocument`): a mail,
    one of its attachments (``<record_id>:<N>``), a chat, a phone chat, an event, contact or task.
    An opaque Exchange export stream has none (a failure that says so)."""
    kind = str(doc.kind)
    handlers: dict[str, Callable[[], Rendition]] = {
        "mail": lambda: render_mail(vault.read_blob(doc.blob_sha256)),
        "attachment": lambda: _attachment_of(vault, doc, timeout),
        "chat-message": lambda: render_chat(vault, doc.chat_id),
        "phone-chat": lambda: render_phone_chat(vault, doc.chat_id),
    }
    try:
        if kind in handlers:
            return handlers[kind]()
        if kind in ENTITY_KINDS:
            entity = json.loads(vault.read_blob(doc.blob_sha256))
            return render_entity(kind, entity if isinstance(entity, dict) else {})
    except Exception as exc:
        return _failed(f"document kon niet uit het archief worden gelezen ({type(exc).__name__})")
    return _failed("geen rendition: een ondoorzichtige Exchange-exportstroom (alleen het origineel)")


def _attachment_of(vault: Vault, doc: Any, timeout: float) -> Rendition:
    record_id, _, number = str(doc.doc_id).rpartition(":")
    record = vault.get_record(record_id)
    if record is None or not record.blob_sha256:
        return _failed(f"bericht {record_id} staat niet in het archief")
    structure = walk(parse(vault.read_blob(record.blob_sha256)))
    for attachment in structure.attachments:
        if str(attachment.number) == number:
            content = attachment.content()
            if content.problem:
                return _failed(f"bijlage kon niet worden gedecodeerd ({content.problem})")
            return render_attachment(
                content.data, attachment.filename, attachment.media_type, timeout=timeout
            )
    return _failed(f"bijlage {number} niet gevonden in bericht {record_id}")


__all__ = [
    "Rendition",
    "render_attachment",
    "render_chat",
    "render_document",
    "render_entity",
    "render_mail",
    "render_phone_chat",
]
