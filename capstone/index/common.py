"""What both index backends share: document (de)serialisation, the text that is indexed, titles,
filter tokens, period bounds, and snippets cut from the original text."""

from __future__ import annotations

import hashlib
import json
import re
import zlib
from collections.abc import Iterable
from dataclasses import fields
from datetime import UTC, date, datetime, time, timedelta
from email.utils import parseaddr
from typing import Any
from zoneinfo import ZoneInfo

from capstone.index.analysis import ParsedQuery, iter_token_spans, stem
from capstone.index.model import IndexDocument, SearchQuery

# Dates in filters are calendar days in the Netherlands: 1 March means 1 March in Amsterdam.
LOCAL_ZONE = ZoneInfo("Europe/Amsterdam")
SNIPPET_CHARS = 240
SNIPPET_SCAN_CHARS = 200_000  # a match further into a huge text still matches; the snippet shows the start
_SEQUENCE_FIELDS = {"to", "cc", "bcc", "attachment_names", "participants", "notes"}
_WHITESPACE = re.compile(r"\s+")


# -- documents ---------------------------------------------------------------------------------------


_FIELDS = tuple(f.name for f in fields(IndexDocument))


def document_to_json(doc: IndexDocument) -> dict[str, Any]:
    data = {name: getattr(doc, name) for name in _FIELDS}  # not asdict(): it deep-copies
    data["date"] = doc.date.isoformat() if doc.date else None
    for name in _SEQUENCE_FIELDS:
        data[name] = list(data[name])
    return data


def document_from_json(data: dict[str, Any]) -> IndexDocument:
    known = {f.name for f in fields(IndexDocument)}
    values = {k: v for k, v in data.items() if k in known}
    if values.get("date"):
        values["date"] = datetime.fromisoformat(values["date"])
    for name in _SEQUENCE_FIELDS:
        if name in values:
            values[name] = tuple(values[name] or ())
    return IndexDocument(**values)


def pack_document(doc: IndexDocument) -> bytes:
    return zlib.compress(json.dumps(document_to_json(doc), ensure_ascii=False).encode("utf-8"), 1)


def unpack_document(data: bytes) -> IndexDocument:
    return document_from_json(json.loads(zlib.decompress(data)))


def head_texts(doc: IndexDocument) -> list[str]:
    """The short fields searched with the body: subject, people, attachment and file names."""
    return [
        doc.subject,
        doc.filename,
        " ".join(doc.attachment_names),
        doc.sender,
        " ".join(doc.to),
        " ".join(doc.cc),
        " ".join(doc.bcc),
        " ".join(doc.participants),
    ]


def recipients_text(doc: IndexDocument) -> str:
    return " ".join([*doc.to, *doc.cc, *doc.bcc, *doc.participants])


# -- filter tokens -------------------------------------------------------------------------------------
# A filter value as one index token: a letter naming the field and 64 bits of BLAKE2b of the exact
# value. Letters and digits only, so every tokenizer keeps it whole; it is stored apart from the
# text (its own FTS5 column or tsvector), where no text term can reach it.
SENDER_FIELD, RECIPIENT_FIELD = "s", "r"


def filter_token(field: str, value: str) -> str:
    """The token standing for "``field`` is ``value``" (the value exact, case-sensitive)."""
    return field + hashlib.blake2b(value.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def mail_address(value: str) -> str | None:
    """The mail address in ``value`` (``addr`` or ``Name <addr>``), lower case; None for a name.

    The sender/recipient filters match an address exactly (``burgemeester@…`` is not
    ``loco-burgemeester@…``) and a name as a phrase of its words."""
    if "@" not in value:
        return None
    address = parseaddr(value)[1].strip().lower()
    local, _, domain = address.rpartition("@")
    if not local or not domain or any(ch.isspace() for ch in address):
        return None
    return address


def address_tokens(field: str, people: Iterable[str]) -> list[str]:
    """Filter tokens of the addresses among ``people`` (``Name <addr>`` or names)."""
    found = {mail_address(p) for p in people}
    return sorted(filter_token(field, a) for a in found if a)


def sender_tokens(doc: IndexDocument) -> list[str]:
    return address_tokens(SENDER_FIELD, [doc.sender])


def recipient_tokens(doc: IndexDocument) -> list[str]:
    return address_tokens(RECIPIENT_FIELD, [*doc.to, *doc.cc, *doc.bcc, *doc.participants])


def has_attachment(doc: IndexDocument) -> bool:
    return bool(doc.attachment_names)


def part_number(doc: IndexDocument) -> int:
    if doc.parent_id and ":" in doc.doc_id:
        tail = doc.doc_id.rsplit(":", 1)[1]
        if tail.isdigit():
            return int(tail)
    return 0


def title_of(doc: IndexDocument) -> str:
    if doc.kind == "attachment":
        return doc.filename or doc.subject
    if doc.subject:
        return doc.subject
    if doc.kind == "chat-message":
        return doc.folder_path or doc.chat_id
    return doc.folder_path


def epoch(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def day_start(day: date) -> datetime:
    """The first moment of a calendar day in the Netherlands, as an aware UTC datetime."""
    return datetime.combine(day, time(0, 0), tzinfo=LOCAL_ZONE).astimezone(UTC)


def period_bounds(query: SearchQuery) -> tuple[datetime | None, datetime | None]:
    """[start, end) in UTC for the query's inclusive ``date_from`` .. ``date_to``."""
    start = day_start(query.date_from) if query.date_from else None
    end = day_start(query.date_to + timedelta(days=1)) if query.date_to else None
    return start, end


# -- snippets ----------------------------------------------------------------------------------------


class Highlighter:
    """Marks, in the original text, the words a parsed query matches (by stem or by prefix)."""

    def __init__(self, parsed: ParsedQuery) -> None:
        self.stems: set[str] = set()
        self.prefixes: list[str] = []
        for term in parsed.positive_terms():
            if term.kind == "prefix":
                self.prefixes.append(term.words[-1])
                self.stems.update(term.stems[:-1])
            else:
                self.stems.update(term.stems)
        self._cache: dict[str, bool] = {}

    def matches(self, word: str) -> bool:
        hit = self._cache.get(word)
        if hit is None:
            hit = stem(word) in self.stems or any(word.startswith(p) for p in self.prefixes)
            if len(self._cache) < 50_000:
                self._cache[word] = hit
        return hit

    def snippet(self, text: str, width: int = SNIPPET_CHARS) -> str:
        """A short excerpt around the first matched word, matched words marked ``[[like this]]``;
        the start of the text when no word matches (e.g. the hit was on the subject)."""
        if not text:
            return ""
        scan = text[:SNIPPET_SCAN_CHARS]
        first = None
        if self.stems or self.prefixes:
            for start, _end, word in iter_token_spans(scan):
                if self.matches(word):
                    first = start
                    break
        if first is None:
            head = _WHITESPACE.sub(" ", text[: width * 2]).strip()
            if len(head) <= width and len(text) <= width * 2:
                return head
            cut = head.rfind(" ", 0, width)
            return head[: cut if cut > 0 else width] + "…"
        begin = max(0, first - width // 3)
        if begin:
            space = text.rfind(" ", max(0, begin - 20), first)
            begin = space + 1 if space >= 0 else begin
        end = min(len(text), begin + width)
        if end < len(text):
            space = text.find(" ", end, end + 20)
            end = space if space >= 0 else end
        window = text[begin:end]
        marks = [(s, e) for s, e, w in iter_token_spans(window) if self.matches(w)]
        return _clip(window, begin, end, marks, len(text))


def _clip(window: str, begin: int, end: int, marks: list[tuple[int, int]], total: int) -> str:
    out: list[str] = []
    position = 0
    for s, e in marks:
        out.append(window[position:s])
        out.append(f"[[{window[s:e]}]]")
        position = e
    out.append(window[position:])
    body = _WHITESPACE.sub(" ", "".join(out)).strip()
    prefix = "…" if begin > 0 else ""
    suffix = "…" if end < total else ""
    return f"{prefix}{body}{suffix}"
