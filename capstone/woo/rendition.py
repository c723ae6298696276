"""Readable HTML renditions for a Woo export: of a mail (read through the one MIME walker, so its
attachments are the export's documents) and of a calendar event, contact or To Do task (its captured
Graph JSON): the properties a person assesses, times in Dutch time, the body sanitised, and a
Content-Security-Policy that lets the page load nothing (no scripts, no remote images)."""

from __future__ import annotations

import html
from email.message import Message
from typing import Any
from zoneinfo import ZoneInfo

from capstone.chats.sanitize import sanitize_html, text_to_html
from capstone.index.extract import TASK_STATUS
from capstone.mime.decode import header_text, parse_addresses
from capstone.mime.walker import UNDECODABLE, Walk
from connectors.graph.entities import parse_time

DUTCH_TIME = ZoneInfo("Europe/Amsterdam")
TITLES = {"event": "Agenda-afspraak", "contact": "Contactpersoon", "task": "Taak"}
_IMPORTANCE = {"low": "laag", "normal": "normaal", "high": "hoog"}
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
_HEAD = (
    '<!doctype html><html lang="nl"><head><meta charset="utf-8">'
    f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
)
_STYLE = "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}th{text-align:left;padding-right:1em}</style>"


def _moment(value: Any) -> str:
    moment = parse_time(value)
    return "" if moment is None else moment.astimezone(DUTCH_TIME).strftime("%d-%m-%Y %H:%M")


def _who(value: Any) -> str:
    address = value.get("emailAddress") if isinstance(value, dict) else None
    address = address if isinstance(address, dict) else value if isinstance(value, dict) else {}
    name, mail = str(address.get("name") or ""), str(address.get("address") or "")
    return f"{name} <{mail}>" if name and mail and name != mail else name or mail


def _people(values: Any, kind: str | None = None) -> str:
    people = [v for v in values or [] if isinstance(v, dict) and (kind is None or v.get("type") == kind)]
    return "; ".join(p for p in (_who(v) for v in people) if p)


def _body(entity: dict[str, Any], key: str = "body") -> str:
    body = entity.get(key)
    if isinstance(body, dict):
        content = str(body.get("content") or "")
        return (
            sanitize_html(content)
            if str(body.get("contentType")).lower() == "html"
            else text_to_html(content)
        )
    return text_to_html(str(body or ""))


def _rows(kind: str, entity: dict[str, Any]) -> list[tuple[str, str]]:
    if kind == "event":
        location = entity.get("location") if isinstance(entity.get("location"), dict) else {}
        return [
            ("Onderwerp", str(entity.get("subject") or "")),
            ("Begin", _moment(entity.get("start"))),
            ("Einde", _moment(entity.get("end"))),
            ("Locatie", str((location or {}).get("displayName") or "")),
            ("Organisator", _who(entity.get("organizer"))),
            ("Deelnemers", _people(entity.get("attendees"), "required")),
            ("Optioneel", _people(entity.get("attendees"), "optional")),
        ]
    if kind == "contact":
        phones = [
            *(entity.get("businessPhones") or []),
            entity.get("mobilePhone"),
            *(entity.get("homePhones") or []),
        ]
        return [
            ("Naam", str(entity.get("displayName") or "")),
            ("Bedrijf", str(entity.get("companyName") or "")),
            ("Functie", str(entity.get("jobTitle") or "")),
            ("Afdeling", str(entity.get("department") or "")),
            ("E-mail", _people(entity.get("emailAddresses"))),
            ("Telefoon", "; ".join(str(p) for p in phones if p)),
        ]
    status = str(entity.get("status") or "")
    importance = str(entity.get("importance") or "")
    return [
        ("Titel", str(entity.get("title") or "")),
        ("Status", TASK_STATUS.get(status, status)),
        ("Belangrijkheid", _IMPORTANCE.get(importance, importance)),
        ("Vervaldatum", _moment(entity.get("dueDateTime"))),
        ("Voltooid", _moment(entity.get("completedDateTime"))),
    ]


def render_entity(kind: str, entity: dict[str, Any], sources: list[str]) -> str:
    """The rendition of ``entity`` (kind ``event``, ``contact`` or ``task``) as one HTML page."""
    rows = [
        *_rows(kind, entity),
        ("Aangemaakt", _moment(entity.get("createdDateTime"))),
        ("Laatst gewijzigd", _moment(entity.get("lastModifiedDateTime"))),
        ("Categorieën", ", ".join(str(c) for c in entity.get("categories") or [])),
    ]
    table = "".join(
        f"<tr><th>{html.escape(label)}</th><td>{html.escape(value)}</td></tr>"
        for label, value in rows
        if value
    )
    body = _body(entity, "personalNotes" if kind == "contact" else "body")
    title = html.escape(str(entity.get("subject") or entity.get("displayName") or entity.get("title") or ""))
    listed = "".join(f"<li>{html.escape(s)}</li>" for s in sources)
    return (
        _HEAD
        + f"<title>{html.escape(TITLES[kind])}: {title}</title>"
        + _STYLE
        + f"</head><body><h1>{html.escape(TITLES[kind])}</h1><table>{table}</table><hr><div>{body}</div>"
        f"<hr><p>Tijden in Nederlandse tijd. Bron in het archief:</p><ul>{listed}</ul></body></html>"
    )


def _addresses(message: Message, name: str) -> str:
    found = parse_addresses(message.get_all(name) or [])
    return "; ".join(str(a) for a in found) if found else header_text(message.get(name))


def render_mail(structure: Walk, subject: str, sources: list[str]) -> str:
    """The rendition of a mail: its headers decoded, its body (HTML sanitised, else the text), a
    plain notice for every part that could not be decoded, its attachments and its sources."""
    message = structure.message
    rows = "".join(
        f"<tr><th>{html.escape(label)}</th><td>{html.escape(value)}</td></tr>"
        for label, value in (
            ("Van", _addresses(message, "From")),
            ("Aan", _addresses(message, "To")),
            ("Cc", _addresses(message, "Cc")),
            ("Datum", header_text(message.get("Date"))),
            ("Onderwerp", header_text(message.get("Subject"))),
        )
    )
    chunks: list[str] = []
    html_parts = [p for p in structure.html if not p.problem]
    plain_parts = [p for p in structure.plain if not p.problem]
    if html_parts:
        chunks.extend(sanitize_html(p.text) for p in html_parts)
    elif plain_parts:
        chunks.extend(f"<p>{text_to_html(p.text)}</p>" for p in plain_parts)
    else:
        chunks.extend(f"<p>{text_to_html(p.text)}</p>" for p in structure.other_text if not p.problem)
    for problem in structure.problems():
        chunks.append(f'<p class="undecodable">[{html.escape(problem)}]</p>')
    if not chunks:
        chunks.append("<p>(geen tekst)</p>")
    names = [html.escape(a.filename) for a in structure.attachments]
    attachments = f"<p>Bijlagen: {', '.join(names)}</p>" if names else ""
    listed = "".join(f"<li>{html.escape(s)}</li>" for s in sources)
    return (
        _HEAD
        + f"<title>{html.escape(subject or 'E-mail')}</title>"
        + _STYLE
        + f"</head><body><table>{rows}</table>{attachments}<hr><div>{''.join(chunks)}</div>"
        + f"<hr><p>Bronnen in het archief:</p><ul>{listed}</ul></body></html>"
    )


__all__ = ["CSP", "TITLES", "UNDECODABLE", "render_entity", "render_mail"]
