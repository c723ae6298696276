"""The typed values the importers produce and the service stores.

A parser never touches the vault: it yields :class:`PhoneMessage` s (or mail messages) from an
export it reads as a stream, and refuses a file it cannot read whole with :class:`ImportRefused`
before anything is written."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, BinaryIO, Protocol

PHONE_KIND = "phone-chat-message"
PHONE_MEDIA_KIND = "phone-chat-media"
SOURCE_KIND = "import-source"  # the original export file, stored as received
PHONE_RUN_KIND = "phone-import-run"
MAILBOX_RUN_KIND = "mailbox-import-run"
PHONE_DOCUMENT_FORMAT = "capstone-phone-chat/1"


class PhoneSystem(StrEnum):
    WHATSAPP = "whatsapp"
    SIGNAL = "signal"
    SMS = "sms"


class ImportRefused(ValueError):
    """An export that cannot be imported as a whole (unknown format, damaged zip or XML): nothing
    of it was written. The message is one line a person can act on."""


@dataclass(frozen=True)
class InlineMedia:
    """Media whose bytes travel inside the export's text (an MMS part, base64)."""

    name: str
    media_type: str
    data: bytes


@dataclass(frozen=True)
class PhoneMessage:
    """One message as the export shows it. ``sent_at`` is aware (the export's local time in the
    import's time zone, or a UTC epoch where the export has one)."""

    system: PhoneSystem
    chat_id: str  # stable key of the chat in this export format (WhatsApp: its title; SMS: the address)
    chat_title: str
    sender: str  # display name or number; "" for a system message
    sent_at: datetime
    text: str
    system_message: bool = False
    deleted: bool = False
    media_omitted: bool = False  # the export left the media out ("<Media weggelaten>")
    media: tuple[str, ...] = ()  # names of media files in the export this message refers to
    inline_media: tuple[InlineMedia, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)  # format-specific extras (direction, address)

    def text_sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


@dataclass
class ExportSummary:
    """What a full validating pass over an export found (before anything is written)."""

    messages: int = 0
    declared: int | None = None  # the count the export itself declares (SMS Backup's ``count``)
    chats: dict[str, set[str]] = field(default_factory=dict)  # chat id -> senders seen
    media_referenced: int = 0
    media_files: int = 0


class PhoneExport(Protocol):
    """One export file (or folder) as a parser reads it."""

    system: PhoneSystem
    path: Path

    def originals(self) -> list[Path]:
        """The files to store as received (the zip, the XML, or every file of a folder)."""
        ...

    def validate(self) -> ExportSummary:
        """Read the whole export once; raise :class:`ImportRefused` if any of it is unreadable."""
        ...

    def messages(self) -> Iterator[PhoneMessage]:
        """The messages, streamed, in the export's order."""
        ...

    def open_media(self, name: str) -> BinaryIO | None:
        """A media file of the export by the name a message uses, or None when it is not included."""
        ...

    def close(self) -> None: ...
