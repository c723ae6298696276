"""Imported phone chat messages as search documents (kind ``phone-chat``), like Teams chat messages:
text, chat, participants, sender, time, media names; every version its own document, the versions
of one message sharing ``duplicate_key`` ``phone:<message key>``."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from capstone.index.model import IndexDocument
from vault.records import Record

SYSTEM_LABELS = {"whatsapp": "WhatsApp", "signal": "Signal", "sms": "SMS"}
MAX_TEXT_CHARS = 1_000_000


def phone_chat_key(source: dict[str, Any]) -> str:
    """One chat of one official in one system: what an export groups into one transcript."""
    return f"phone:{source.get('designation_id') or ''}:{source.get('system') or ''}:{source.get('chat_id') or ''}"


def phone_chat_documents(record: Record, blob_bytes: bytes) -> list[IndexDocument]:
    source = record.source or {}
    notes: list[str] = []
    try:
        document = json.loads(blob_bytes)
        if not isinstance(document, dict):
            raise ValueError("not an object")
    except (ValueError, UnicodeDecodeError) as exc:
        notes.append(
            f"phone chat message JSON could not be read ({type(exc).__name__}); source metadata only"
        )
        document = {}
    system = str(source.get("system") or document.get("system") or "")
    title = str(document.get("chat_title") or source.get("chat_title") or source.get("chat_id") or "")
    sender = str(document.get("sender") or "")
    text = str(document.get("text") or "")
    if len(text) > MAX_TEXT_CHARS:
        text = text[:MAX_TEXT_CHARS]
        notes.append("message text cut at 1,000,000 characters for the index")
    media = [m for m in document.get("media") or [] if isinstance(m, dict)]
    if any(m.get("missing") for m in media):
        notes.append("media named in the export were not included in it")
    if document.get("deleted"):
        notes.append("the export shows this message as deleted")
    if document.get("media_omitted"):
        notes.append("the export left this message's media out")
    participants = tuple(str(p) for p in source.get("participants") or [])
    stamp = str(document.get("sent_at") or source.get("sent_at") or "")
    try:
        moment: datetime | None = datetime.fromisoformat(stamp) if stamp else None
    except ValueError:
        moment = None
    designation = record.designation or {}
    key = phone_chat_key(source)
    return [
        IndexDocument(
            doc_id=record.record_id,
            record_id=record.record_id,
            kind="phone-chat",
            blob_sha256=record.blob_sha256,
            duplicate_key=f"phone:{source.get('message_key') or record.record_id}",
            official=str(designation.get("official") or ""),
            designation_id=str(designation.get("designation_id") or ""),
            account=str(source.get("device") or ""),
            mailbox_kind=system,
            folder_path=f"{SYSTEM_LABELS.get(system, system)}/{title}",
            date=moment,
            sender=sender,
            to=tuple(p for p in participants if p != sender),
            subject=title,
            body=text,
            attachment_names=tuple(str(m.get("name") or "") for m in media),
            thread_id=key,
            chat_id=key,
            participants=participants,
            media_type=record.media_type or "application/json",
            size=int(record.size or 0),
            notes=tuple(notes),
        )
    ]
