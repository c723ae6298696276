"""A readable HTML rendition of a calendar event, contact or To Do task (its captured Graph JSON)
for a Woo export: the properties a person assesses, times in Dutch time, the body sanitised."""

from __future__ import annotations

import html
from typing import Any
from zoneinfo import ZoneInfo

from capstone.chats.sanitize import sanitize_html, text_to_html
from capstone.index.extract import TASK_STATUS
from connectors.graph.entities import parse_time

DUTCH_TIME = ZoneInfo("Europe/Amsterdam")
TITLES = {"event": "Agenda-afspraak", "contact": "Contactpersoon", "task": "Taak"}
_IMPORTANCE = {"low": "laag", "normal": "normaal", "high": "hoog"}


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
        '<!doctype html><html lang="nl"><head><meta charset="utf-8">'
        f"<title>{html.escape(TITLES[kind])}: {title}</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}th{text-align:left;padding-right:1em}</style>"
        f"</head><body><h1>{html.escape(TITLES[kind])}</h1><table>{table}</table><hr><div>{body}</div>"
        f"<hr><p>Tijden in Nederlandse tijd. Bron in het archief:</p><ul>{listed}</ul></body></html>"
    )
