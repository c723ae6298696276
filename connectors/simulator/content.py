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
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from typing import Any, Protocol


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
    values = msg.get_all(name) or []
    try:
        return [
            (display, addr) for display, addr in email.utils.getaddresses([str(v) for v in values]) if addr
        ]
    except Exception:  # malformed headers in real mail: keep going with nothing
        return []


def _header(msg: Message, name: str) -> str | None:
    try:
        value = msg.get(name)
    except Exception:
        return None
    return None if value is None else " ".join(str(value).split())


def _date(msg: Message) -> float | None:
    raw = _header(msg, "Date")
    if not raw:
        return None
    try:
        return email.utils.parsedate_to_datetime(raw).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


def parse_meta(data: bytes) -> dict[str, Any]:
    """Header-level properties of stored MIME, shaped like the generator's ``meta``."""
    msg = BytesParser(policy=policy.default).parsebytes(data)
    sender = _addresses(msg, "From")
    has_attachments = False
    if msg.is_multipart():
        for part in msg.walk():
            disposition = str(part.get("Content-Disposition", "")).lower()
            if disposition.startswith("attachment"):
                has_attachments = True
                break
    references = (_header(msg, "References") or "").split()
    content_type = msg.get_content_type()
    invite = content_type == "text/calendar" or any(
        p.get_content_type() == "text/calendar" for p in msg.walk()
    )
    importance = (_header(msg, "Importance") or "normal").lower()
    return {
        "subject": _header(msg, "Subject") or "",
        "from": sender[0] if sender else ("", ""),
        "sender": (_addresses(msg, "Sender") or sender or [("", "")])[0],
        "to": _addresses(msg, "To"),
        "cc": _addresses(msg, "Cc"),
        "bcc": _addresses(msg, "Bcc"),
        "reply_to": _addresses(msg, "Reply-To"),
        "date": _date(msg),
        "message_id": _header(msg, "Message-ID"),
        "in_reply_to": _header(msg, "In-Reply-To"),
        "references": references,
        "has_attachments": has_attachments,
        "importance": importance if importance in ("low", "normal", "high") else "normal",
        "invite": invite,
        "thread_topic": _header(msg, "Thread-Topic"),
    }


def parse_body(data: bytes) -> tuple[str, str]:
    """(contentType, content) the way Graph's ``body`` shows a message: HTML when there is any."""
    msg = BytesParser(policy=policy.default).parsebytes(data)
    if not isinstance(msg, EmailMessage):
        return ("text", "")
    part = msg.get_body(preferencelist=("html", "plain"))
    if part is None:
        return ("text", "")
    try:
        content = part.get_content()
    except (LookupError, ValueError):
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    kind = "html" if part.get_content_subtype() == "html" else "text"
    return (kind, str(content))


def preview(body: tuple[str, str], limit: int = 255) -> str:
    kind, content = body
    text = re.sub(r"<[^>]+>", " ", content) if kind == "html" else content
    return " ".join(html.unescape(text).split())[:limit]
