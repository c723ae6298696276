"""A self-contained HTML transcript of one imported phone chat (WhatsApp, Signal, SMS), from the
vault alone: every message in order (time, then the export's order among equal times), sender,
text, media (images inline as ``data:`` URIs, other files by name and SHA-256), deletions and
omitted media marked, and under a message every other version the archive holds. Where the messages
came from (device, export file and its SHA-256, import run) is stated at the top. All content is
escaped; the page loads nothing from elsewhere."""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from capstone import __version__
from capstone.imports.index import SYSTEM_LABELS, phone_chat_key
from capstone.imports.model import PHONE_KIND
from vault import Record, Vault

TIMEZONE = ZoneInfo("Europe/Amsterdam")
INLINE_IMAGE_BYTES = 5 * 1024 * 1024
_IMAGES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
_STYLE = """
body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;color:#1b1b1b}
header{border-bottom:1px solid #ccc;margin-bottom:1rem}
.msg{margin:.6rem 0;padding:.4rem .7rem;border-left:3px solid #8ab}
.own{border-left-color:#4a8}
.system{border-left-color:#ccc;color:#666;font-style:italic}
.meta{font-size:.85rem;color:#555}
.mark{font-size:.8rem;background:#fde8e8;padding:0 .3rem;margin-left:.4rem}
.text{white-space:pre-wrap}
img{max-width:18rem;display:block;margin:.3rem 0}
.versions{font-size:.85rem;color:#555;margin-left:1rem}
"""


@dataclass
class PhoneMessageView:
    record: Record
    document: dict[str, Any]
    versions: list[tuple[Record, dict[str, Any]]] = field(default_factory=list)  # other versions

    @property
    def order(self) -> tuple[str, int, str]:
        source = self.record.source or {}
        return (
            str(self.document.get("sent_at") or ""),
            int(source.get("ordinal") or 0),
            self.record.record_id,
        )


@dataclass
class PhoneTranscriptInfo:
    chat_key: str
    title: str
    messages: int
    versions: int
    media: int
    path: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "chat_key": self.chat_key,
            "title": self.title,
            "messages": self.messages,
            "versions": self.versions,
            "media": self.media,
            "path": self.path,
        }


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _time(stamp: str) -> str:
    try:
        return datetime.fromisoformat(stamp).astimezone(TIMEZONE).strftime("%d-%m-%Y %H:%M:%S")
    except ValueError:
        return stamp


def phone_chat_records(vault: Vault, chat_key: str | None = None) -> dict[str, list[Record]]:
    """The vault's phone chat message records by chat key (one key, or all)."""
    chats: dict[str, list[Record]] = {}
    for record in vault.iter_records(PHONE_KIND):
        key = phone_chat_key(record.source or {})
        if chat_key is None or key == chat_key:
            chats.setdefault(key, []).append(record)
    return chats


def load_phone_chat(vault: Vault, records: Iterable[Record]) -> list[PhoneMessageView]:
    """Messages in order; the versions of one message (same message key) under its newest import."""
    by_key: dict[str, list[tuple[Record, dict[str, Any]]]] = {}
    for record in records:
        document = json.loads(vault.read_blob(record.blob_sha256 or ""))
        by_key.setdefault(str((record.source or {}).get("message_key")), []).append((record, document))
    views = []
    for versions in by_key.values():
        versions.sort(key=lambda v: str((v[0].capture or {}).get("imported_at") or ""))
        record, document = versions[-1]
        views.append(PhoneMessageView(record, document, versions[:-1]))
    return sorted(views, key=lambda v: v.order)


def _media_html(vault: Vault, media: list[dict[str, Any]]) -> tuple[str, int]:
    parts, count = [], 0
    for item in media:
        name = str(item.get("name") or "")
        if item.get("missing") or not item.get("sha256"):
            parts.append(f'<div class="meta">bijlage {_e(name)}: niet in de export meegeleverd</div>')
            continue
        count += 1
        media_type = str(item.get("media_type") or "")
        if media_type in _IMAGES and int(item.get("size") or 0) <= INLINE_IMAGE_BYTES:
            data = base64.b64encode(vault.read_blob(str(item["sha256"]))).decode()
            parts.append(f'<img alt="{_e(name)}" src="data:{_e(media_type)};base64,{data}">')
        parts.append(
            f'<div class="meta">bijlage {_e(name)} ({_e(media_type)}, SHA-256 {_e(item["sha256"])})</div>'
        )
    return "".join(parts), count


def render_phone_transcript(
    vault: Vault, views: list[PhoneMessageView], *, own_name: str = ""
) -> tuple[str, int]:
    first = views[0] if views else None
    system = str((first.document.get("system") if first else "") or "")
    title = str((first.document.get("chat_title") if first else "") or "")
    provenance: dict[str, set[str]] = {}
    for view in views:
        for record in [view.record, *(r for r, _ in view.versions)]:
            capture = record.capture or {}
            files = (capture.get("source_file") or {}).get("files") or []
            line = f"{capture.get('device')}: " + ", ".join(
                f"{f.get('name')} (SHA-256 {f.get('sha256')})" for f in files
            )
            provenance.setdefault(line, set()).add(str(capture.get("run_id")))
    media_total = 0
    body = []
    for view in views:
        doc = view.document
        classes = ["msg"]
        if doc.get("system_message"):
            classes.append("system")
        elif own_name and doc.get("sender") == own_name:
            classes.append("own")
        marks = ""
        if doc.get("deleted"):
            marks += '<span class="mark">verwijderd</span>'
        if doc.get("media_omitted"):
            marks += '<span class="mark">media weggelaten in de export</span>'
        media_html, count = _media_html(vault, list(doc.get("media") or []))
        media_total += count
        older = "".join(
            f"<div>eerdere versie (import {_e((r.capture or {}).get('imported_at'))}): {_e(d.get('text'))}"
            f"{' + ' + str(len(d.get('media') or [])) + ' bijlage(n)' if d.get('media') else ''}</div>"
            for r, d in view.versions
        )
        body.append(
            f'<div class="{" ".join(classes)}"><div class="meta">{_e(_time(str(doc.get("sent_at") or "")))} '
            f"<strong>{_e(doc.get('sender') or 'systeembericht')}</strong>{marks}</div>"
            f'<div class="text">{_e(doc.get("text") or "")}</div>{media_html}'
            + (f'<div class="versions">{older}</div>' if older else "")
            + "</div>"
        )
    sources = "".join(
        f"<li>{_e(line)} — import {_e(', '.join(sorted(runs)))}</li>"
        for line, runs in sorted(provenance.items())
    )
    label = SYSTEM_LABELS.get(system, system)
    page = (
        '<!DOCTYPE html><html lang="nl"><head><meta charset="utf-8">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">"
        f"<title>{_e(label)}-chat {_e(title)}</title><style>{_STYLE}</style></head><body>"
        f"<header><h1>{_e(label)}-chat: {_e(title)}</h1>"
        f'<p class="meta">{len(views)} berichten; tijden in {TIMEZONE.key}. Geïmporteerd uit de export van de telefoon'
        f" van de sleutelfunctionaris; gemaakt door Capstone {_e(__version__)} uit het archief.</p>"
        f'<ul class="meta">{sources}</ul></header>' + "".join(body) + "</body></html>"
    )
    return page, media_total


def write_phone_transcript(vault: Vault, records: list[Record], path: Path) -> PhoneTranscriptInfo:
    views = load_phone_chat(vault, records)
    own = str(((records[0].designation or {}).get("official") if records else "") or "")
    page, media = render_phone_transcript(vault, views, own_name=own)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    key = phone_chat_key(records[0].source or {}) if records else ""
    title = str(views[0].document.get("chat_title") or "") if views else ""
    return PhoneTranscriptInfo(key, title, len(views), len(records), media, str(path))
