"""What every mailbox connector hands the capture engine, independent of the source protocol.

A connector lists folders, lists what changed in a folder since a cursor, and streams each item's
bytes. It knows nothing of the vault. Cursors are opaque strings the engine persists (for Graph:
the whole ``@odata.nextLink`` / ``@odata.deltaLink`` URL).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

MailboxKind = Literal["primary", "archive"]


@dataclass(frozen=True)
class FolderInfo:
    folder_id: str
    parent_id: str | None
    display_name: str
    path: str  # "Inbox/Projecten", built from display names
    hidden: bool = False
    well_known_name: str | None = None
    total_items: int | None = None
    mailbox_kind: MailboxKind = "primary"
    folder_class: str | None = None  # IPF.Note, IPF.Appointment, ...
    # What else names the collection in provenance (a calendarView's calendar and range, ...).
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ItemChange:
    """One entry of a change page: an item that is new or changed, or was removed."""

    item_id: str  # immutable id where the source offers one
    removed: bool = False
    change_key: str | None = None
    last_modified: str | None = None
    internet_message_id: str | None = None
    item_type: str = "message"  # message, eventMessage, IPM.Note, IPM.Appointment ...
    size: int | None = None
    received: str | None = None  # when it arrived; for an event its start, for a task its due date
    extra: dict[str, str] = field(default_factory=dict)  # more dates for provenance (start, end, due)
    created: str | None = None  # also places the item in a designation's window (events, tasks)
    # The whole entity when the change page carries it (Graph JSON of an event, contact or task):
    # no second request for the content.
    entity: dict[str, Any] | None = None
    # A removal from a bounded view (calendarView): it may only mean "now outside the view".
    view_removal: bool = False


@dataclass(frozen=True)
class ChangePage:
    changes: list[ItemChange]
    next_cursor: str | None  # more pages in this round
    final_cursor: str | None  # the round is complete; resume from here next time

    @property
    def complete(self) -> bool:
        return self.next_cursor is None


class ChangeSource(Protocol):
    """A mailbox (or part of one) as the capture engine walks it: collections, their change pages,
    and a full id listing for reconciliation."""

    kind: str

    async def list_folders(self) -> list[FolderInfo]: ...

    async def folder_changes(self, folder_id: str, cursor: str | None) -> ChangePage: ...

    async def first_pages(self, cursors: Mapping[str, str | None]) -> dict[str, ChangePage | SourceError]:
        """``folder_changes`` of many folders at once (folder id -> cursor), where the protocol
        can ask them together (Graph: ``$batch``); a folder's failure is its value, not raised."""
        ...

    async def list_item_ids(self, folder_id: str) -> set[str]: ...


class SourceError(Exception):
    """The source refused or failed a request after all retries."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class CursorExpiredError(SourceError):
    """The source no longer accepts a stored cursor (e.g. HTTP 410 on a delta token): resync."""
