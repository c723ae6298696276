"""Where an item's bytes and header properties come from.

Generated items name a spec number that a :class:`ContentSource` turns into MIME on demand;
imported and added items carry their exact bytes, parsed here for the JSON views (headers only,
never changing the bytes).
"""

from __future__ import annotations

import email.utils
import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from typing import Any, Protocol

from capstone.mime.decode import header_text, parse_addresses
from capstone.mime.walker import content_type, walk
from capstone.mime.walker import parse as parse_mime


@dataclass(frozen=True)
class Details:
    """What a calendar item, contact or task holds, protocol-neutral: the Graph JSON views
    (``event``, ``contact``, ``todoTask``) are rendered from it. Times are POSIX seconds (UTC)."""

    subject: str  # event subject, contact display name, task title
    body: tuple[str, str] = ("text", "")  # (contentType "html"|"text", content)
    importance: str = "normal"
    # events
    start: float | None = None
    end: float | None = None
    location: str = ""
    organizer: tuple[str, str] | None = None  # (name, address)
    attendees: tuple[tuple[str, str, str], ...] = ()  # (name, address, "required"|"optional")
    uid: str = ""  # iCalendar UID
    # contacts
    given_name: str = ""
    surname: str = ""
    emails: tuple[tuple[str, str], ...] = ()
    company: str = ""
    job_title: str = ""
    business_phones: tuple[str, ...] = ()
    mobile_phone: str = ""
    # tasks
    status: str = "notStarted"  # notStarted, inProgress, completed, waitingOnOthers, deferred
    due: float | None = None
    completed: float | None = None


# What the ``edit-item`` mutation may change (Graph property name -> Details field).
EDITABLE = {
    "subject": "subject",
    "title": "subject",
    "displayName": "subject",
    "body": "body",
    "importance": "importance",
    "start": "start",
    "end": "end",
    "location": "location",
    "companyName": "company",
    "jobTitle": "job_title",
    "status": "status",
    "dueDateTime": "due",
}


class ContentSource(Protocol):
    def chunks(self, spec: int) -> Iterator[bytes]: ...

    def meta(self, spec: int) -> dict[str, Any]: ...

    def body(self, spec: int) -> tuple[str, str]: ...

    def details(self, spec: int) -> Details: ...


def details_from_meta(meta: dict[str, Any], body: tuple[str, str], received: float) -> Details:
    """Details of an item that carries stored bytes (imported or added): what its headers say."""
    sender = meta.get("from") or ("", "")
    name, address = str(sender[0] or ""), str(sender[1] or "")
    return Details(
        subject=str(meta.get("subject") or ""),
        body=body,
        importance=str(meta.get("importance") or "normal"),
        start=received,
        end=received + 3600,
        organizer=(name or address, address) if address else None,
        attendees=tuple((n or a, a, "required") for n, a in meta.get("to", [])),
        emails=((name or address, address),) if address else (),
    )


def _addresses(msg: Message, name: str) -> list[tuple[str, str]]:
    """(name, address) pairs as Exchange shows them: RFC 5322 groups (``unlisted-recipients:;``)
    understood, names decoded, however long the header; never raises."""
    try:
        return [(a.name, a.address) for a in parse_addresses(msg.get_all(name) or []) if a.address]
    except Exception:  # malformed headers in real mail: keep going with nothing
        return []


def _header(msg: Message, name: str) -> str | None:
    try:
        value = msg.get(name)
        return None if value is None else header_text(value)
    except Exception:
        return None


_EARLIEST, _LATEST = 0.0, 253402300799.0  # 1970-01-01 .. 9999-12-31: what a Graph date can say


def _date(msg: Message) -> float | None:
    raw = _header(msg, "Date")
    if not raw:
        return None
    try:
        moment = email.utils.parsedate_to_datetime(raw).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return moment if _EARLIEST <= moment <= _LATEST else None


def _empty_meta() -> dict[str, Any]:
    return {
        "subject": "", "from": ("", ""), "sender": ("", ""), "to": [], "cc": [], "bcc": [],
        "reply_to": [], "date": None, "message_id": None, "in_reply_to": None, "references": [],
        "has_attachments": False, "importance": "normal", "invite": False, "thread_topic": None,
    }  # fmt: skip


def parse_meta(data: bytes) -> dict[str, Any]:
    """Header-level properties of stored MIME, shaped like the generator's ``meta``; read through
    Capstone's tolerant MIME walker (BOMs, broken folds, odd charsets, groups, empty or absent
    headers), so no imported message can make a Graph answer fail."""
    try:
        return _parse_meta(data)
    except Exception:  # whatever is left: the item is served with empty header properties
        return _empty_meta()


def _parse_meta(data: bytes) -> dict[str, Any]:
    msg = parse_mime(data)
    sender = _addresses(msg, "From")
    has_attachments = False
    invite = False
    for part in msg.walk():
        kind = content_type(part)
        invite = invite or kind == "text/calendar"
        try:
            disposition = str(part.get("Content-Disposition", "")).lower()
        except Exception:
            disposition = ""
        if part is not msg and disposition.strip().startswith("attachment"):
            has_attachments = True
    references = (_header(msg, "References") or "").split()
    importance = (_header(msg, "Importance") or "normal").lower()
    return {
        **_empty_meta(),
        "subject": _header(msg, "Subject") or "",
        "from": sender[0] if sender else ("", ""),
        "sender": (_addresses(msg, "Sender") or sender or [("", "")])[0],
        "to": _addresses(msg, "To"),
        "cc": _addresses(msg, "Cc"),
        "bcc": _addresses(msg, "Bcc"),
        "reply_to": _addresses(msg, "Reply-To"),
        "date": _date(msg),
        "message_id": _header(msg, "Message-ID") or None,
        "in_reply_to": _header(msg, "In-Reply-To"),
        "references": references,
        "has_attachments": has_attachments,
        "importance": importance if importance in ("low", "normal", "high") else "normal",
        "invite": invite,
        "thread_topic": _header(msg, "Thread-Topic"),
    }


def parse_body(data: bytes) -> tuple[str, str]:
    """(contentType, content) the way Graph's ``body`` shows a message: HTML when there is any.
    Never raises: a body that cannot be read is shown empty."""
    try:
        structure = walk(parse_mime(data))
    except Exception:
        return ("text", "")
    for kind, parts in (("html", structure.html), ("text", structure.plain)):
        readable = [p for p in parts if not p.problem]
        if readable:
            return (kind, readable[0].text)
    return ("text", "")


def preview(body: tuple[str, str], limit: int = 255) -> str:
    kind, content = body
    text = re.sub(r"<[^>]+>", " ", content) if kind == "html" else content
    return " ".join(html.unescape(text).split())[:limit]
