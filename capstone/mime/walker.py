"""The one MIME walker: which parts of a message are its body and which are documents of their own.

Used by the index (:mod:`capstone.index.extract`), ``woo view`` (through the index) and ``woo
export``, so an attachment numbered ``N`` here is document ``<record_id>:N`` everywhere.

Rules, in document order:

* a ``message/rfc822`` part (also a top-level one, and every part of a ``multipart/digest``) is one
  attachment; its own headers, body and attachments are read when that attachment is;
* a part with ``Content-Disposition: attachment``, a named non-text part, or any non-text leaf
  (images, inline ones too, PDFs, a single-part message whose only part is a file) is an attachment;
* ``multipart/related`` is read from its declared root (the ``start`` parameter's Content-ID, else
  its first part); its other parts are attachments;
* the remaining ``text/plain`` and ``text/html`` leaves are the body.

Parsing is tolerant: a UTF-8 BOM before the headers is skipped, a header line that lost its fold
(a continuation without leading white space, followed by more headers) is re-joined, and only the
copy that is parsed is changed: the original bytes are never touched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesHeaderParser, BytesParser
from email.policy import Compat32

from capstone.mime.decode import UTF8_BOM, Decoded, decode_bytes, header_text

MAX_ATTACHMENTS = 500
MAX_DEPTH = 50  # multipart nesting followed (deeper parts are not walked)
UNDECODABLE = "kon niet worden gedecodeerd"

_HEADER_LINE = re.compile(rb"^[!-9;-~]+[ \t]*:")
_FOLD = re.compile(r"\r?\n(?=[ \t])")


class _RawHeaders(Compat32):
    """compat32 parsing (fast, tolerant), header values handed back raw but unfolded (a fold inside
    a quoted parameter, as in a long encoded file name, otherwise cuts it): :mod:`capstone.mime.decode`
    decodes them (RFC 2047 words, undeclared 8-bit bytes)."""

    def header_fetch_parse(self, name: str, value: str) -> str:
        return _FOLD.sub("", value)


POLICY = _RawHeaders(linesep="\r\n")


def _lines(block: bytes) -> list[bytes]:
    return block.splitlines(keepends=True)


def prepare(data: bytes, notes: list[str] | None = None) -> bytes:
    """The bytes to parse: without a leading UTF-8 BOM, and with broken header folds re-joined where
    the lines after them are plainly headers."""
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM) :]
        if notes is not None:
            notes.append("UTF-8 BOM before the headers skipped")
    ends = [i for i in (data.find(b"\r\n\r\n"), data.find(b"\n\n")) if i >= 0]
    if not ends:
        return data
    end = min(ends)
    head, rest = data[:end], data[end:]
    lines = _lines(head)
    repaired = False
    for number in range(1, len(lines)):
        line = lines[number]
        if line[:1] in (b" ", b"\t") or _HEADER_LINE.match(line):
            continue
        after = lines[number + 1 :]
        if (
            after
            and all(a[:1] in (b" ", b"\t") or _HEADER_LINE.match(a) for a in after)
            and any(_HEADER_LINE.match(a) for a in after)
        ):
            lines[number] = b" " + line
            repaired = True
    if not repaired:
        return data
    if notes is not None:
        notes.append("a header line without its fold was joined to the header before it")
    return b"".join(lines) + rest


def parse(data: bytes, notes: list[str] | None = None) -> Message:
    """The whole message, parsed tolerantly."""
    return BytesParser(policy=POLICY).parsebytes(prepare(data, notes))


def parse_headers(data: bytes, notes: list[str] | None = None) -> Message:
    """Only the header block (for messages too large to parse whole)."""
    return BytesHeaderParser(policy=POLICY).parsebytes(prepare(data, notes))


# -- parts ---------------------------------------------------------------------------------------------


def content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:
        return "application/octet-stream"


def charset_of(part: Message) -> str | None:
    try:
        value = part.get_param("charset")
    except Exception:
        return None
    if isinstance(value, tuple):  # RFC 2231: (charset, language, value)
        value = value[2]
    return str(value) if value else None


def filename_of(part: Message) -> str:
    """The part's file name (RFC 2231 and RFC 2047 decoded), or ""."""
    name: object = None
    try:
        name = part.get_filename()
    except Exception:
        name = None
    if not name:
        try:
            name = part.get_param("name")
            if isinstance(name, tuple):
                name = name[2]
        except Exception:
            name = None
    return header_text(name) if name else ""


@dataclass
class PartData:
    """A leaf's content after its transfer encoding: bytes, and whether they could be decoded."""

    data: bytes
    problem: str = ""  # why the part could not be decoded (exactly), "" when it could


_BAD_ENCODING = ("InvalidBase64", "InvalidBase64Padding", "InvalidBase64Length", "InvalidBase64Characters")


def part_data(part: Message) -> PartData:
    """The decoded bytes of a leaf (base64/quoted-printable undone); never raises."""
    before = len(part.defects)
    try:
        payload = part.get_payload(decode=True)
    except Exception as exc:
        return PartData(b"", f"transfer encoding unreadable ({type(exc).__name__})")
    data = payload if isinstance(payload, bytes) else b""
    for defect in part.defects[before:]:
        if type(defect).__name__.replace("Defect", "") in _BAD_ENCODING:
            if type(defect).__name__ == "InvalidBase64LengthDefect":
                return PartData(data, "base64 of an impossible length")
            return PartData(data, "base64 with invalid characters or padding")
    return PartData(data)


@dataclass
class TextPart:
    part: Message
    subtype: str  # plain | html | other text subtype
    decoded: Decoded
    problem: str = ""  # non-empty: the part could not be decoded; its text is not shown

    @property
    def text(self) -> str:
        return "" if self.problem else self.decoded.text


def text_of(part: Message) -> TextPart:
    raw = part_data(part)
    decoded = decode_bytes(raw.data, charset_of(part))
    subtype = content_type(part).split("/", 1)[-1]
    return TextPart(part, subtype, decoded, raw.problem)


@dataclass
class Attachment:
    """A part that is a document of its own: number ``N`` is document ``<record_id>:N``."""

    number: int
    part: Message
    filename: str  # its declared name, or a made-up one (``attachment-N``, ``<subject>.eml``)
    media_type: str  # the declared type
    inner: Message | None = None  # a message/rfc822 part's message

    def content(self) -> PartData:
        """Its bytes: the decoded payload, or for an attached message the message itself."""
        if self.inner is not None:
            try:
                return PartData(self.inner.as_bytes(policy=POLICY))
            except Exception as exc:
                return PartData(b"", f"attached message unreadable ({type(exc).__name__})")
        return part_data(self.part)


@dataclass
class Walk:
    message: Message
    plain: list[TextPart] = field(default_factory=list)
    html: list[TextPart] = field(default_factory=list)
    other_text: list[TextPart] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def body_parts(self) -> list[TextPart]:
        return self.plain or self.html or self.other_text

    def problems(self) -> list[str]:
        """One line per body part that could not be decoded (in Dutch: shown to a Woo officer)."""
        parts = [*self.plain, *self.html, *self.other_text]
        return [
            f"deel {n} ({content_type(p.part)}) {UNDECODABLE}: {p.problem}"
            for n, p in enumerate(parts, start=1)
            if p.problem
        ]


def inner_message(part: Message) -> Message | None:
    """The message inside a message/rfc822 part (also when it was sent base64-encoded)."""
    if part.is_multipart():  # compat32 parses an attached message into a one-element list
        payload = part.get_payload()
        if isinstance(payload, list) and payload and isinstance(payload[0], Message):
            return payload[0]
        return None
    data = part_data(part).data  # sent base64-encoded, or not parsed as a message
    if not data:
        return None
    try:
        return parse(data)
    except Exception:
        return None


def _is_attachment(part: Message, kind: str) -> bool:
    if kind == "message/rfc822":
        return True
    try:
        disposition = (part.get_content_disposition() or "").lower()
    except Exception:
        disposition = ""
    if disposition == "attachment":
        return True
    main = kind.split("/", 1)[0]
    if filename_of(part):
        return disposition != "inline" or main != "text"
    return main not in ("text", "multipart")


def _related_root(part: Message, children: list[Message]) -> Message:
    try:
        start = part.get_param("start")
    except Exception:
        start = None
    if isinstance(start, tuple):
        start = start[2]
    if start:
        wanted = str(start).strip().strip("<>").lower()
        for child in children:
            cid = str(child.get("Content-ID") or "").strip().strip("<>").lower()
            if cid and cid == wanted:
                return child
    return children[0]


def walk(message: Message) -> Walk:
    """Body parts and attachments of ``message`` in document order (see the module's rules)."""
    result = Walk(message)
    found: list[tuple[Message, str]] = []

    def leaf(part: Message, kind: str) -> None:
        if _is_attachment(part, kind):
            found.append((part, kind))
            return
        text = text_of(part)
        if kind == "text/plain":
            result.plain.append(text)
        elif kind == "text/html":
            result.html.append(text)
        else:
            result.other_text.append(text)

    def visit(part: Message, depth: int) -> None:
        kind = content_type(part)
        if kind == "message/rfc822" or kind == "message/global":
            found.append((part, "message/rfc822"))
            return
        if not part.is_multipart():
            leaf(part, kind)
            return
        payload = part.get_payload()
        if depth >= MAX_DEPTH:
            result.notes.append(f"parts nested deeper than {MAX_DEPTH} levels are not read")
            return
        children = [c for c in payload if isinstance(c, Message)]
        if not children:
            return
        if kind == "multipart/related":
            root = _related_root(part, children)
            visit(root, depth + 1)
            for child in children:
                if child is not root:
                    if child.is_multipart() and content_type(child) != "message/rfc822":
                        visit(child, depth + 1)
                    else:
                        found.append((child, content_type(child)))
            return
        for child in children:
            visit(child, depth + 1)

    visit(message, 0)
    if len(found) > MAX_ATTACHMENTS:
        result.notes.append(f"only the first {MAX_ATTACHMENTS} of {len(found)} attachments are documents")
        found = found[:MAX_ATTACHMENTS]
    for number, (part, kind) in enumerate(found, start=1):
        inner = inner_message(part) if kind == "message/rfc822" else None
        name = filename_of(part)
        if not name:
            if inner is not None:
                subject = header_text(inner.get("Subject"))
                name = f"{subject or 'bericht'}.eml"
            else:
                name = f"attachment-{number}"
        result.attachments.append(Attachment(number, part, name, kind, inner))
    return result


__all__ = [
    "MAX_ATTACHMENTS",
    "POLICY",
    "UNDECODABLE",
    "Attachment",
    "PartData",
    "TextPart",
    "Walk",
    "charset_of",
    "content_type",
    "filename_of",
    "inner_message",
    "parse",
    "parse_headers",
    "part_data",
    "prepare",
    "text_of",
    "walk",
]
