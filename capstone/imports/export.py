"""A Woo export's document for an imported phone chat: the message versions' JSON as the vault holds
them (one file, every record listed), the HTML transcript as its rendition, and each media file
byte-exact from the vault."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from capstone.imports.index import SYSTEM_LABELS
from capstone.imports.model import PHONE_KIND
from capstone.imports.transcript import phone_chat_records, write_phone_transcript
from capstone.index.model import IndexDocument

if TYPE_CHECKING:
    from capstone.woo.export import _Exporter


def export_phone_chat(exporter: _Exporter, chat_key: str, hits: list[IndexDocument]) -> None:
    from capstone.woo.export import safe_name as _safe_name

    records = [
        r
        for r in phone_chat_records(exporter.vault, chat_key).get(chat_key, [])
        if r.record_id not in exporter.excluded  # a confirmed privé/partijpolitiek exclusion (issue 21)
    ]
    if not records:
        return
    doc_id = exporter._id()
    folder = f"documents/{doc_id:05d}"
    (exporter.out / folder).mkdir(parents=True, exist_ok=True)
    info = write_phone_transcript(exporter.vault, records, exporter.out / folder / f"{doc_id:05d}.html")
    documents = [json.loads(exporter.vault.read_blob(r.blob_sha256 or "")) for r in records]
    documents.sort(key=lambda d: str(d.get("sent_at") or ""))
    original = f"{folder}/{doc_id:05d}.json"
    (exporter.out / original).write_text(
        json.dumps(
            {"kind": PHONE_KIND, "chat": chat_key, "messages": documents}, ensure_ascii=False, indent=1
        ),
        encoding="utf-8",
    )
    entry = exporter._file(original, "original", doc_id, [r.record_id for r in records])
    exporter._file(f"{folder}/{doc_id:05d}.html", "rendition", doc_id, [])
    seen: set[str] = set()
    for document in documents:
        for media in document.get("media") or []:
            sha = media.get("sha256")
            if not sha or sha in seen:
                continue
            seen.add(sha)
            name = f"{folder}/media/{_safe_name(str(media.get('name') or ''), sha[:16])}"
            (exporter.out / name).parent.mkdir(parents=True, exist_ok=True)
            with (exporter.out / name).open("wb") as out:
                exporter.vault.copy_blob_to(sha, out)
            exporter._file(name, "attachment", doc_id, [], sha)
    system = str(documents[0].get("system") or "") if documents else ""
    exporter.chat_row(doc_id, hits, f"{SYSTEM_LABELS.get(system, system)}-chat {info.title[:200]}", entry)
