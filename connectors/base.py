"""The connector seam: what a connector hands the capture engine, independent of the protocol.

One :class:`Connector` per designated account, chosen in one place (``capstone.services``) by the
account's registration: Exchange Online through Microsoft Graph, on-premises Exchange through EWS.
It hands the engine its **mail sources** (:class:`MailSource`: the primary mailbox, its non-mail
folders, its online archive, ...) and its **chat sources** (:class:`ChatSource`).

A mail source lists folders, lists what changed in a folder since a cursor (a page at a time),
lists a folder in full for reconciliation, streams each item's content into a
:class:`ContentSink` the engine gives it (the sink hashes with SHA-256 and stores; the source never
sees the vault), and names each item by its own typed :class:`Provenance`. Cursors are opaque
strings the engine persists only after the vault confirmed a page (for Graph: the whole
``@odata.nextLink`` / ``@odata.deltaLink`` URL; for EWS: the ``SyncState``).

Errors cross the seam only as the types of :mod:`connectors.errors` (re-exported here).
See ``docs/connectors.md`` for how to add a source.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from connectors.errors import ConnectorUnavailableError, CursorExpiredError, SourceError, ThrottledError

__all__ = [
    "AccountSpec",
    "ChangePage",
    "ChangeSource",
    "ChatOrigin",
    "ChatPart",
    "ChatProvenance",
    "ChatSource",
    "Connector",
    "ConnectorFactory",
    "ConnectorUnavailableError",
    "ContentSink",
    "ContentWriter",
    "CursorExpiredError",
    "FetchOutcome",
    "FolderInfo",
    "ItemChange",
    "MailSource",
    "MailSources",
    "MailboxKind",
    "MessageKey",
    "MessagePage",
    "PartFailure",
    "Provenance",
    "RequestStats",
    "SourceError",
    "SourceOrigin",
    "StoredContent",
    "ThrottledError",
]

MailboxKind = Literal["primary", "archive"]


# -- what a source lists ---------------------------------------------------------------------------


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
    conversation_id: str | None = None  # the thread the source puts it in (Graph conversationId)
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


# -- provenance ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceOrigin:
    """What names every item of one mail source: the source system, the mailbox, the connector.

    ``capture_source`` is the source's kind (its key in the state database: ``primary``,
    ``primary-export``, ``primary-json``, ``archive``, ...). ``scoped_identity`` is True for a
    second view of items another source already captures (Graph JSON of events next to their
    export streams): its records then carry ``capture_source`` in their identity, so both views
    are records of their own."""

    system: str  # "microsoft-graph", "microsoft-exchange" ...
    mailbox: str  # the account as the registry designates it (UPN, object id or address)
    mailbox_kind: MailboxKind
    capture_source: str
    connector: str  # names the connector in each record's capture block: "graph-mail" ...
    connector_version: str
    endpoint: str | None = None  # the service URL the items were read from
    exchange_mailbox_id: str | None = None
    tenant: str | None = None
    scoped_identity: bool = False

    def identity(self, item_id: str, **more: Any) -> dict[str, Any]:
        """The source identity of something about an item of this source (the item itself, or
        an event about it with ``more``: ``event``, ``folder_id``, ``run_id``)."""
        identity = {
            "system": self.system,
            "mailbox": self.mailbox,
            "mailbox_kind": self.mailbox_kind,
            "item_id": item_id,
            **more,
        }
        if self.scoped_identity:
            identity["capture_source"] = self.capture_source
        return identity


@dataclass(frozen=True)
class Provenance:
    """Where one captured item comes from, as its source names it: the typed value a source gives
    for each item, from which the record's ``source`` and ``source_identity`` are made (here, and
    nowhere else, so record ids stay what they were; see tests/capture/test_record_identity_pinned.py)."""

    origin: SourceOrigin
    folder_id: str
    folder_path: str
    folder_hidden: bool
    item_id: str
    immutable_id: str | None
    item_type: str
    internet_message_id: str | None = None
    change_key: str | None = None
    last_modified: str | None = None
    received: str | None = None
    created: str | None = None
    dates: Mapping[str, str] = field(default_factory=dict)  # an event's start and end, a task's due
    collection: Mapping[str, str] = field(default_factory=dict)  # a calendar and view range, a list
    conversation_id: str | None = None

    @classmethod
    def of(cls, origin: SourceOrigin, change: ItemChange, folder: FolderInfo) -> Provenance:
        """The provenance of a change page's entry, in the folder it was seen in."""
        return cls(
            origin=origin,
            folder_id=folder.folder_id,
            folder_path=folder.path,
            folder_hidden=folder.hidden,
            item_id=change.item_id,
            immutable_id=change.item_id,
            item_type=change.item_type,
            internet_message_id=change.internet_message_id,
            change_key=change.change_key,
            last_modified=change.last_modified,
            received=change.received,
            created=change.created,
            dates=dict(change.extra),
            collection=dict(folder.extra),
            conversation_id=change.conversation_id,
        )

    @property
    def system(self) -> str:
        return self.origin.system

    @property
    def mailbox(self) -> str:
        return self.origin.mailbox

    @property
    def connector_version(self) -> str:
        return self.origin.connector_version

    def identity(self) -> dict[str, Any]:
        """What identifies the item: its record id is derived from this (and kind and blob)."""
        return self.origin.identity(self.item_id)

    def source(self) -> dict[str, Any]:
        """The record's ``source`` block: identity, location and version details."""
        origin = self.origin
        source: dict[str, Any] = {
            "system": origin.system,
            "endpoint": origin.endpoint,
            "exchange_mailbox_id": origin.exchange_mailbox_id,
            "tenant": origin.tenant,
            "mailbox": origin.mailbox,
            "mailbox_kind": origin.mailbox_kind,
            "folder_id": self.folder_id,
            "folder_path": self.folder_path,
            "folder_hidden": self.folder_hidden,
            "item_id": self.item_id,
            "immutable_id": self.immutable_id,
            "item_type": self.item_type,
            "internet_message_id": self.internet_message_id,
            "change_key": self.change_key,
            "last_modified": self.last_modified,
            "received": self.received,
            "capture_source": origin.capture_source,
        }
        if self.created is not None:
            source["created"] = self.created
        if self.conversation_id is not None:  # what "mark the whole conversation" matches on
            source["conversation_id"] = self.conversation_id
        source.update(self.dates)
        if self.collection:
            source["collection"] = dict(self.collection)
        return source


# -- content ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredContent:
    """Content the sink holds: its SHA-256 (computed while it streamed in), size, and whether
    this write stored it (False: the sink already held these bytes)."""

    sha256: str
    size: int
    created: bool


class ContentWriter(Protocol):
    """One item's content on its way into the sink. Leaving the sink's ``with`` block without
    :meth:`commit` discards what was written (a cut-off stream stores nothing)."""

    media_type: str  # may be set while writing (a content type the response names)

    def write(self, chunk: bytes) -> None: ...

    async def commit(self) -> StoredContent: ...


class ContentSink(Protocol):
    """Where a source puts content: the engine's, backed by the vault (content-addressed)."""

    def writer(self, media_type: str) -> AbstractContextManager[ContentWriter]: ...

    async def put(self, data: bytes, media_type: str) -> StoredContent:
        """Small content already whole in memory (a JSON entity, an export stream)."""
        ...

    async def put_many(self, contents: Sequence[bytes], media_type: str) -> list[StoredContent]:
        """Several small contents already whole in memory (a batch response), stored together (a
        local vault syncs them as one group commit): a result per content, in order, returned only
        once every one is durable. A failure raises for all of them."""
        ...


# What fetching one item came to: its content in the sink, or why not (the source's error, or
# the sink's OSError when the vault could not take it).
FetchOutcome = StoredContent | SourceError | OSError


# -- sources ---------------------------------------------------------------------------------------


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


class MailSource(ChangeSource, Protocol):
    """A :class:`ChangeSource` whose items the engine captures: it fetches their content into the
    engine's sink and names them. ``kind`` keys the state (cursors, item rows, open errors) and
    must never change for existing state databases."""

    origin: SourceOrigin
    media_type: str  # of the content this source stores ("message/rfc822", ...)
    required: bool  # the account's mailbox itself: if it cannot be read, the run fails

    def record_kind(self, folder: FolderInfo) -> str:
        """The record kind of an item in ``folder`` ("mail-message", "calendar-event", ...)."""
        ...

    def provenance(self, change: ItemChange, folder: FolderInfo) -> Provenance: ...

    async def complete_page(self, folder: FolderInfo, page: ChangePage) -> ChangePage:
        """Fill in what the page's entries lack before they are processed (an item retried after an
        earlier failure has only its id); most sources return the page as it is."""
        ...

    async def fetch(
        self, changes: Sequence[ItemChange], sink: ContentSink, *, concurrency: int
    ) -> dict[str, FetchOutcome]:
        """The content of each change into ``sink``, at most ``concurrency`` at once; every
        change's item id is a key of the answer. A ``SourceError`` with status 404 means the item
        is gone since it was listed."""
        ...

    def notes(self) -> dict[str, Any]:
        """Facts for the run's reconciliation of this source (e.g. collections it cannot capture)."""
        ...


@dataclass(frozen=True)
class ChatOrigin:
    """What names every record of a chat source."""

    system: str  # "microsoft-teams"
    connector: str  # "graph-teams"
    connector_version: str
    account: str  # the account whose chats these are ("observed_for")


@dataclass(frozen=True)
class MessagePage:
    messages: list[dict[str, Any]]  # the messages as the source sent them (JSON documents)
    next_link: str | None


@dataclass(frozen=True)
class MessageKey:
    """What names one version of a message: each version the source shows is a record of its own."""

    chat_id: str
    message_id: str
    version: str  # when it was last modified (an edit, a deletion, a reaction)
    created: str | None  # places the message in a designation's window


ChatPart = Literal["chat", "message-version", "hosted-content", "reference-attachment"]


@dataclass(frozen=True)
class ChatProvenance:
    """Where a chat record comes from, as its chat source names it: a chat (its metadata), a
    version of one of its messages, a hosted content of a message, or a file a message links to.
    ``details`` is what else the record's ``source`` block says (message type, dates, ...)."""

    origin: ChatOrigin
    part: ChatPart
    chat_id: str
    message_id: str | None = None
    version: str | None = None
    hosted_content_id: str | None = None
    attachment_id: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def identity(self) -> dict[str, Any]:
        # The account is part of the identity: a chat of two key officials is in each one's archive,
        # as a message in two mailboxes is (one blob, a record per account). Without it the record
        # carried only the official whose capture happened to write it first, and a Woo case, an
        # exclusion or the retention of the other official's archive did not reach it.
        identity: dict[str, Any] = {
            "system": self.origin.system,
            "chat_id": self.chat_id,
            "observed_for": self.origin.account,
        }
        if self.part == "chat":
            return identity
        identity["message_id"] = self.message_id
        if self.part == "message-version":
            identity["version"] = self.version
        elif self.part == "hosted-content":
            identity["hosted_content_id"] = self.hosted_content_id
        else:
            identity["attachment_id"] = self.attachment_id
            identity["event"] = "reference-attachment-not-captured"
        return identity

    def source(self) -> dict[str, Any]:
        return {**self.identity(), **self.details}


class ChatSource(Protocol):
    """The chats one account takes part in: chats and members, every message version in a
    modification-time window (the cursor), each chat in full for reconciliation, and the hosted
    contents (inline images) a message points at, streamed into the engine's sink. Chats and
    messages are the source's JSON documents (stored as they came); a chat document has an ``id``
    and may have a ``topic``; everything else about them the source names (``message_key``, the
    provenance methods)."""

    origin: ChatOrigin

    async def list_chats(self) -> list[dict[str, Any]]: ...

    async def members(self, chat_id: str) -> list[dict[str, Any]]: ...

    async def all_messages(self, cursor: str | None, *, since: str | None, until: str) -> MessagePage: ...

    async def chat_messages(self, chat_id: str) -> list[dict[str, Any]]: ...

    def message_key(self, message: dict[str, Any]) -> MessageKey: ...

    def hosted_content_refs(self, message: dict[str, Any]) -> list[str]: ...

    def chat_provenance(self, chat: dict[str, Any], members: list[dict[str, Any]]) -> ChatProvenance: ...

    def message_provenance(self, message: dict[str, Any]) -> ChatProvenance: ...

    def hosted_provenance(self, key: MessageKey, hosted_id: str) -> ChatProvenance: ...

    def reference_attachments(self, message: dict[str, Any]) -> list[ChatProvenance]:
        """Files a message links to that this source cannot capture (recorded, not fetched)."""
        ...

    async def fetch_hosted_content(
        self, chat_id: str, message_id: str, hosted_id: str, sink: ContentSink
    ) -> tuple[StoredContent, str]:
        """One hosted content streamed into ``sink``: (what the sink stored, its media type)."""
        ...


# -- the connector ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountSpec:
    """What the engine asks a connector for: one designated account."""

    account: str  # how the service addresses it (UPN, object id, primary SMTP address); state key
    exchange_endpoint: str | None = None  # None: Exchange Online; set: an on-premises endpoint
    address: str | None = None  # the primary SMTP address (EWS impersonates by it)
    content_from: datetime | None = None  # the designation's capture window (calendar views)
    content_until: datetime | None = None


@dataclass(frozen=True)
class PartFailure:
    """A part of an account a connector could not open (e.g. Graph's export API): an open error
    of the run under state kind ``kind`` and part name ``part``, retried by the next run."""

    kind: str
    part: str
    error: SourceError


@dataclass
class MailSources:
    """An account's mail sources, the mailbox itself first, and the parts that could not be opened
    (``failed``) or could (``opened``: their earlier open errors are closed)."""

    sources: list[MailSource]
    failed: list[PartFailure] = field(default_factory=list)
    opened: list[tuple[str, str]] = field(default_factory=list)  # (kind, part)


@dataclass(frozen=True)
class RequestStats:
    """What a connector asked of its service for one account (for run results and benchmarks)."""

    requests: int = 0
    delta_requests: int = 0  # change pages: what an idle incremental run costs
    content_requests: int = 0  # content downloads
    round_trips: int = 0  # requests on the wire (a Graph $batch carries up to 20)
    wait_seconds: float = 0.0  # throttling waits and pacing

    def minus(self, before: RequestStats) -> RequestStats:
        return RequestStats(
            requests=self.requests - before.requests,
            delta_requests=self.delta_requests - before.delta_requests,
            content_requests=self.content_requests - before.content_requests,
            round_trips=self.round_trips - before.round_trips,
            wait_seconds=self.wait_seconds - before.wait_seconds,
        )


class Connector(Protocol):
    """One account through one service. ``mail_run_source`` / ``chat_run_source`` name the
    account's runs in the state database (``graph-mail``, ``graph-teams``, ``ews-mail``): stored
    names, never renamed without a migration."""

    name: str  # "graph", "ews": shown by ``capture status``
    account: str
    mail_run_source: str
    chat_run_source: str
    # The state kinds of its mail sources, the mailbox's first (an error opening the connector is
    # an open error of that kind). Distinct per protocol ("primary" is Graph's): an account moved
    # from one service to the other never resumes the other's cursors.
    mail_kinds: tuple[str, ...]

    async def mail_sources(self) -> MailSources: ...

    def chat_sources(self) -> list[ChatSource]: ...

    def stats(self) -> RequestStats:
        """Requests so far for this account (the engine subtracts a run's start)."""
        ...


class ConnectorFactory(Protocol):
    """Makes the connector of each account of a capture pass (shares connections between them)."""

    def connector(self, spec: AccountSpec) -> Connector:
        """Raises :class:`ConnectorUnavailableError` when no connector serves the account."""
        ...

    def wait_seconds(self, account: str) -> float | None:
        """Throttling wait so far for an account (live progress display), None if unknown."""
        ...

    async def aclose(self) -> None: ...
