"""What the lifecycle knows of each content object: the records that reference a blob, and the facts
(capture time, designation, mailbox, folder, chat) the rules and the exclusion records need.

Read from the vault's own records, never from the capture state: the vault is the truth.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from capstone.imports.index import phone_chat_key
from capstone.imports.model import PHONE_KIND, PHONE_MEDIA_KIND, SOURCE_KIND
from vault import Record, Vault

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Scope(StrEnum):
    """What an exclusion or a hold names: one record, one source item, a conversation, a chat, or a
    whole mailbox (holds only)."""

    RECORD = "record"
    ITEM = "item"
    CONVERSATION = "conversation"
    CHAT = "chat"
    MAILBOX = "mailbox"


def _moment(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class RecordFacts:
    record_id: str
    kind: str
    blob_sha256: str
    size: int | None
    captured_at: datetime  # EPOCH when a record names none: its window counts as passed (secured)
    designation_id: str | None
    category: str | None  # as the record names it; the registry's current category comes first
    mailbox: str | None
    folder: str | None
    received: str | None
    item_id: str | None
    conversation_id: str | None
    chat_id: str | None
    run_id: str | None = None
    observed_for: str | None = None  # a chat record's account: the official whose chats these are

    @classmethod
    def of(cls, record: Record) -> RecordFacts | None:
        if not record.blob_sha256:
            return None
        source, designation = record.source or {}, record.designation or {}
        captured = _moment(record.capture.get("captured_at")) or _moment(record.capture.get("recorded_at"))
        item_id, chat_id = source.get("item_id") or source.get("message_id"), source.get("chat_id")
        if record.kind in (PHONE_KIND, PHONE_MEDIA_KIND):
            # An imported phone chat is named as search shows it (one chat of one official in one
            # system), a message by its stable message key: the same ids the official sees.
            chat_id, item_id = phone_chat_key(source), source.get("message_key")
        return cls(
            record_id=record.record_id,
            kind=record.kind,
            blob_sha256=record.blob_sha256,
            size=record.size,
            captured_at=captured or EPOCH,
            designation_id=designation.get("designation_id"),
            category=designation.get("category"),
            mailbox=source.get("mailbox"),
            folder=source.get("folder_path"),
            received=source.get("received") or source.get("created_at") or source.get("created"),
            item_id=item_id,
            conversation_id=source.get("conversation_id") or source.get("conversationId"),
            chat_id=chat_id,
            run_id=record.capture.get("run_id"),
            observed_for=source.get("observed_for"),
        )

    @property
    def owner(self) -> str | None:
        """Whose item this is: the mailbox of mail and its kin, the observing account of a chat."""
        return self.mailbox or self.observed_for

    def matches(self, scope: Scope, value: str) -> bool:
        wanted = {
            Scope.RECORD: self.record_id,
            Scope.ITEM: self.item_id,
            Scope.CONVERSATION: self.conversation_id,
            Scope.CHAT: self.chat_id,
            Scope.MAILBOX: self.mailbox,
        }[scope]
        if scope is Scope.MAILBOX:
            return wanted is not None and wanted.casefold() == value.casefold()
        return wanted == value

    def describe(self) -> dict[str, Any]:
        """The exclusion record's view of this record: identifiers and dates, never content."""
        return {
            "record_id": self.record_id,
            "kind": self.kind,
            "mailbox": self.mailbox,
            "folder": self.folder,
            "received": self.received,
            "captured_at": self.captured_at.isoformat(),
            "designation_id": self.designation_id,
            "chat_id": self.chat_id,
        }


def collect(vault: Vault) -> dict[str, list[RecordFacts]]:
    """Every blob the vault's records reference -> the records referencing it."""
    by_blob: dict[str, list[RecordFacts]] = {}
    for record in vault.iter_records():
        facts = RecordFacts.of(record)
        if facts is not None:
            by_blob.setdefault(facts.blob_sha256, []).append(facts)
    return by_blob


def matching(by_blob: dict[str, list[RecordFacts]], scope: Scope, value: str) -> list[RecordFacts]:
    """The records ``scope``/``value`` names; for a chat, also the original export files (import
    sources) of import runs that held nothing but messages it names."""
    found = [f for facts in by_blob.values() for f in facts if f.matches(scope, value)]
    if scope is Scope.CHAT:
        found += whole_sources([f for facts in by_blob.values() for f in facts], found)
    return found


def whole_sources(run_facts: Iterable[RecordFacts], matched: Iterable[RecordFacts]) -> list[RecordFacts]:
    """The ``import-source`` records of runs whose phone chat messages are all in ``matched``: an
    export file that holds only excluded chats goes with them (so does its copy of their content);
    one that also holds other chats is kept whole, as received."""
    matched_ids = {f.record_id for f in matched}
    messages: dict[str, list[RecordFacts]] = {}
    sources: dict[str, list[RecordFacts]] = {}
    for f in run_facts:
        if f.run_id and f.kind == PHONE_KIND:
            messages.setdefault(f.run_id, []).append(f)
        elif f.run_id and f.kind == SOURCE_KIND:
            sources.setdefault(f.run_id, []).append(f)
    return [
        source
        for run_id, held in messages.items()
        if all(m.record_id in matched_ids for m in held)
        for source in sources.get(run_id, [])
        if source.record_id not in matched_ids
    ]


def record_ids(facts: Iterable[RecordFacts]) -> list[str]:
    return sorted({f.record_id for f in facts})
