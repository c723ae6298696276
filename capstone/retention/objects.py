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

    @classmethod
    def of(cls, record: Record) -> RecordFacts | None:
        if not record.blob_sha256:
            return None
        source, designation = record.source or {}, record.designation or {}
        captured = _moment(record.capture.get("captured_at")) or _moment(record.capture.get("recorded_at"))
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
            item_id=source.get("item_id") or source.get("message_id"),
            conversation_id=source.get("conversation_id") or source.get("conversationId"),
            chat_id=source.get("chat_id"),
        )

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
    return [f for facts in by_blob.values() for f in facts if f.matches(scope, value)]


def record_ids(facts: Iterable[RecordFacts]) -> list[str]:
    return sorted({f.record_id for f in facts})
