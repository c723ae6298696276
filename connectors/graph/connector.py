"""The Graph connector: an Exchange Online account behind the connector seam (``connectors.base``).

One :class:`GraphConnector` per account, all sharing one :class:`GraphConnection` (one transport:
per-mailbox throttling and statistics). Its mail sources, in the order the engine captures them:

* ``primary``: the primary mailbox's mail as raw MIME (``GraphMailbox``), the account's mailbox
  itself (``required``);
* ``primary-export``: the primary mailbox's calendar, contact and task folders as full-fidelity
  export streams (``GraphExportMailbox``), when the export API names the mailbox;
* ``primary-json``: the same events, contacts and To Do tasks once more as readable Graph JSON
  (``GraphItems``);
* ``archive``: the online archive's every folder as export streams, when the account has one.

Its chat source is the account's Teams chats (``GraphChats``). The names are those the state
databases already hold (run sources ``graph-mail`` and ``graph-teams``, the kinds above): they are
never renamed here. Every call into the Graph classes is wrapped so that only the seam's error types
leave this module.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from capstone import __version__
from connectors.base import (
    AccountSpec,
    ChangePage,
    ChatOrigin,
    ChatProvenance,
    ChatSource,
    ContentSink,
    FetchOutcome,
    FolderInfo,
    ItemChange,
    MailSource,
    MailSources,
    MessageKey,
    MessagePage,
    PartFailure,
    Provenance,
    RequestStats,
    SourceOrigin,
    StoredContent,
)
from connectors.errors import SourceError
from connectors.graph.archive import EXPORT_BATCH, EXPORT_MEDIA_TYPE, GraphExportMailbox
from connectors.graph.client import GraphConnection
from connectors.graph.entities import ENTITY_MEDIA_TYPE, canonical_entity
from connectors.graph.errors import seam_errors, seam_stream
from connectors.graph.items import GraphItems
from connectors.graph.mail import GraphMailbox
from connectors.graph.teams import GraphChats, hosted_content_refs

SYSTEM = "microsoft-graph"
TEAMS_SYSTEM = "microsoft-teams"
MAIL_RUN_SOURCE = "graph-mail"
CHAT_RUN_SOURCE = "graph-teams"
# State kinds of each run source (stored keys: never renamed without a migration).
RUN_SOURCE_KINDS = {
    MAIL_RUN_SOURCE: ("primary", "primary-export", "primary-json", "archive"),
    CHAT_RUN_SOURCE: ("teams",),
}
# Graph JSON records by the class of the collection they come from.
JSON_RECORD_KINDS = {"IPF.Appointment": "calendar-event", "IPF.Contact": "contact", "IPF.Task": "task"}
_MIME_ATTEMPTS = 4  # a MIME body cut off mid-stream is read again (an answer with a status is not)


class _GraphSource:
    """What the three Graph mail sources share: listing through the wrapped Graph class."""

    def __init__(
        self,
        inner: GraphMailbox | GraphExportMailbox | GraphItems,
        origin: SourceOrigin,
        *,
        media_type: str,
        required: bool = False,
    ) -> None:
        self.inner = inner
        self.origin = origin
        self.kind = inner.kind
        self.media_type = media_type
        self.required = required

    def _what(self, action: str) -> str:
        return f"{action} of {self.kind} of {self.origin.mailbox}"

    async def list_folders(self) -> list[FolderInfo]:
        with seam_errors(self._what("listing folders")):
            return await self.inner.list_folders()

    async def folder_changes(self, folder_id: str, cursor: str | None) -> ChangePage:
        with seam_errors(self._what(f"delta of folder {folder_id}")):
            return await self.inner.folder_changes(folder_id, cursor)

    async def first_pages(self, cursors: Mapping[str, str | None]) -> dict[str, ChangePage | SourceError]:
        with seam_errors(self._what("$batch of first delta pages")):
            return await self.inner.first_pages(cursors)

    async def list_item_ids(self, folder_id: str) -> set[str]:
        with seam_errors(self._what(f"listing folder {folder_id}")):
            return await self.inner.list_item_ids(folder_id)

    def provenance(self, change: ItemChange, folder: FolderInfo) -> Provenance:
        return Provenance.of(self.origin, change, folder)

    async def complete_page(self, folder: FolderInfo, page: ChangePage) -> ChangePage:
        return page

    def notes(self) -> dict[str, Any]:
        return {}


class GraphMailSource(_GraphSource):
    """The primary mailbox's mail: raw MIME from ``$value``, streamed into the sink."""

    inner: GraphMailbox

    def __init__(self, mailbox: GraphMailbox, origin: SourceOrigin) -> None:
        super().__init__(mailbox, origin, media_type="message/rfc822", required=True)

    def record_kind(self, folder: FolderInfo) -> str:
        return "mail-message"

    async def fetch(
        self, changes: Sequence[ItemChange], sink: ContentSink, *, concurrency: int
    ) -> dict[str, FetchOutcome]:
        gate = asyncio.Semaphore(concurrency)
        outcomes: dict[str, FetchOutcome] = {}

        async def one(item_id: str) -> None:
            async with gate:
                try:
                    outcomes[item_id] = await self._fetch_mime(item_id, sink)
                except (SourceError, OSError) as exc:
                    outcomes[item_id] = exc

        await asyncio.gather(*(one(c.item_id) for c in changes))
        return outcomes

    async def _fetch_mime(self, item_id: str, sink: ContentSink) -> StoredContent:
        delay = 0.5
        for attempt in range(_MIME_ATTEMPTS):
            with sink.writer(self.media_type) as writer:
                try:
                    async for chunk in seam_stream(self.inner.stream_mime(item_id), f"MIME of {item_id}"):
                        writer.write(chunk)
                except SourceError as exc:
                    # An answer with a status was already retried by the transport (8 attempts,
                    # Retry-After honoured): asking again here would multiply that. Only a body
                    # cut off mid-stream (no status) is read again.
                    if exc.status is not None or attempt + 1 == _MIME_ATTEMPTS:
                        raise
                else:
                    return await writer.commit()
            await asyncio.sleep(delay)
            delay *= 2
        raise SourceError(f"MIME of {item_id} could not be read")


class GraphExportSource(_GraphSource):
    """A mailbox through the export API (the archive, or the primary's non-mail folders): opaque
    full-fidelity streams, 20 items per call."""

    inner: GraphExportMailbox

    def __init__(self, mailbox: GraphExportMailbox, origin: SourceOrigin) -> None:
        super().__init__(mailbox, origin, media_type=EXPORT_MEDIA_TYPE)

    def record_kind(self, folder: FolderInfo) -> str:
        return "archive-export-item" if self.kind == "archive" else "mailbox-export-item"

    async def fetch(
        self, changes: Sequence[ItemChange], sink: ContentSink, *, concurrency: int
    ) -> dict[str, FetchOutcome]:
        item_ids = [c.item_id for c in changes]
        outcomes: dict[str, FetchOutcome] = {}
        gate = asyncio.Semaphore(concurrency)

        async def one(batch: list[str]) -> None:
            async with gate:
                try:
                    with seam_errors(self._what("exportItems")):
                        exported = await self.inner.export(batch)
                except SourceError as exc:
                    outcomes.update(dict.fromkeys(batch, exc))
                    return
            for item_id, data in exported.items():
                if isinstance(data, SourceError):
                    outcomes[item_id] = data
                else:
                    outcomes[item_id] = await sink.put(data, self.media_type)

        batches = [item_ids[start : start + EXPORT_BATCH] for start in range(0, len(item_ids), EXPORT_BATCH)]
        await asyncio.gather(*(one(batch) for batch in batches))
        return outcomes


class GraphJsonSource(_GraphSource):
    """Events, contacts and To Do tasks as Graph JSON: the entity each delta page carries, stored
    in its canonical form (no second request for the content)."""

    inner: GraphItems

    def __init__(self, items: GraphItems, origin: SourceOrigin) -> None:
        super().__init__(items, origin, media_type=ENTITY_MEDIA_TYPE)

    def record_kind(self, folder: FolderInfo) -> str:
        return JSON_RECORD_KINDS[folder.folder_class or ""]

    async def complete_page(self, folder: FolderInfo, page: ChangePage) -> ChangePage:
        """An item retried after an earlier failure has no entity in the page: read it again (a
        404 or an item now in another collection is a removal here)."""
        changes: list[ItemChange] = []
        for change in page.changes:
            if change.removed or change.entity is not None:
                changes.append(change)
                continue
            try:
                with seam_errors(self._what(f"reading {change.item_id}")):
                    current = await self.inner.change_for(folder.folder_id, change.item_id)
            except (SourceError, KeyError, ValueError, TypeError):
                changes.append(change)  # fails again when fetched and stays an open error
                continue
            changes.append(current or ItemChange(item_id=change.item_id, removed=True))
        return ChangePage(changes, page.next_cursor, page.final_cursor)

    async def fetch(
        self, changes: Sequence[ItemChange], sink: ContentSink, *, concurrency: int
    ) -> dict[str, FetchOutcome]:
        gate = asyncio.Semaphore(max(1, concurrency))

        async def one(change: ItemChange) -> FetchOutcome:
            if change.entity is None:
                return SourceError(f"{change.item_id}: the source gave no entity")
            try:
                data = canonical_entity(change.entity)
            except (ValueError, TypeError, RecursionError) as exc:  # one poison item, not the run
                return SourceError(str(exc), cause=type(exc).__name__)  # e.g. "RecursionError: ..."
            async with gate:  # the page's blobs written concurrently (PUTs in flight)
                try:
                    return await sink.put(data, self.media_type)
                except OSError as exc:
                    return exc

        stored = await asyncio.gather(*(one(change) for change in changes))
        return {change.item_id: outcome for change, outcome in zip(changes, stored, strict=True)}

    def notes(self) -> dict[str, Any]:
        # e.g. other calendars: in the export, not as JSON
        return {"not_captured_as_json": self.inner.not_captured}


class GraphChatSource:
    """The account's Teams chats (``getAllMessages``), hosted contents streamed into the sink."""

    def __init__(self, chats: GraphChats, origin: ChatOrigin) -> None:
        self.inner = chats
        self.origin = origin

    def _what(self, action: str) -> str:
        return f"{action} for {self.origin.account}"

    async def list_chats(self) -> list[dict[str, Any]]:
        with seam_errors(self._what("listing chats")):
            return await self.inner.list_chats()

    async def members(self, chat_id: str) -> list[dict[str, Any]]:
        with seam_errors(self._what(f"members of chat {chat_id}")):
            return await self.inner.members(chat_id)

    async def all_messages(self, cursor: str | None, *, since: str | None, until: str) -> MessagePage:
        with seam_errors(self._what("getAllMessages")):
            page = await self.inner.all_messages(cursor, since=since, until=until)
        return MessagePage(page.messages, page.next_link)

    async def chat_messages(self, chat_id: str) -> list[dict[str, Any]]:
        with seam_errors(self._what(f"messages of chat {chat_id}")):
            return await self.inner.chat_messages(chat_id)

    def hosted_content_refs(self, message: dict[str, Any]) -> list[str]:
        return hosted_content_refs(message)

    def message_key(self, message: dict[str, Any]) -> MessageKey:
        chat_id = message.get("chatId") or (message.get("channelIdentity") or {}).get("channelId") or "?"
        version = message.get("lastModifiedDateTime") or message.get("createdDateTime") or ""
        return MessageKey(str(chat_id), message["id"], str(version), message.get("createdDateTime"))

    def chat_provenance(self, chat: dict[str, Any], members: list[dict[str, Any]]) -> ChatProvenance:
        details = {
            "chat_type": chat.get("chatType"),
            "topic": chat.get("topic"),
            "member_count": len(members),
            "last_updated": chat.get("lastUpdatedDateTime"),
            "observed_for": self.origin.account,
        }
        return ChatProvenance(self.origin, "chat", chat["id"], details=details)

    def message_provenance(self, message: dict[str, Any]) -> ChatProvenance:
        key = self.message_key(message)
        details = {
            "message_type": message.get("messageType"),
            "created": message.get("createdDateTime"),
            "last_edited": message.get("lastEditedDateTime"),
            "deleted": message.get("deletedDateTime"),
            "reply_to_id": message.get("replyToId"),
            "etag": message.get("etag"),
            "observed_for": self.origin.account,
        }
        return ChatProvenance(
            self.origin, "message-version", key.chat_id, key.message_id, version=key.version, details=details
        )

    def hosted_provenance(self, key: MessageKey, hosted_id: str) -> ChatProvenance:
        return ChatProvenance(
            self.origin, "hosted-content", key.chat_id, key.message_id, hosted_content_id=hosted_id
        )

    def reference_attachments(self, message: dict[str, Any]) -> list[ChatProvenance]:
        """SharePoint/OneDrive files linked from a message: the link is in the message JSON; the
        file needs SharePoint permissions this connector does not hold."""
        key = self.message_key(message)
        return [
            ChatProvenance(
                self.origin,
                "reference-attachment",
                key.chat_id,
                key.message_id,
                attachment_id=attachment.get("id"),
                details={
                    "content_url": attachment.get("contentUrl"),
                    "name": attachment.get("name"),
                    "reason": "file content needs SharePoint/OneDrive access (Sites.Read.All); link recorded",
                },
            )
            for attachment in message.get("attachments") or []
            if attachment.get("contentType") == "reference"
        ]

    async def fetch_hosted_content(
        self, chat_id: str, message_id: str, hosted_id: str, sink: ContentSink
    ) -> tuple[StoredContent, str]:
        content_type = "application/octet-stream"
        chunks: AsyncIterator[tuple[str, bytes]] = self.inner.stream_hosted_content(
            chat_id, message_id, hosted_id
        )
        with sink.writer(content_type) as writer:
            async for chunk_type, chunk in seam_stream(chunks, f"hosted content {hosted_id}"):
                content_type = chunk_type
                writer.write(chunk)
            writer.media_type = content_type
            stored = await writer.commit()
        return stored, content_type


class GraphConnector:
    """One Exchange Online account through Graph (see the module docstring)."""

    name = "graph"
    mail_run_source = MAIL_RUN_SOURCE
    chat_run_source = CHAT_RUN_SOURCE
    mail_kinds = RUN_SOURCE_KINDS[MAIL_RUN_SOURCE]

    def __init__(
        self,
        connection: GraphConnection,
        spec: AccountSpec,
        *,
        tenant: str | None = None,
        page_size: int = 100,
        teams_model: str = "A",
    ) -> None:
        self.connection = connection
        self.spec = spec
        self.account = spec.account
        self.tenant = tenant
        self.page_size = page_size
        self.teams_model = teams_model

    def _origin(
        self,
        kind: str,
        connector: str = MAIL_RUN_SOURCE,
        *,
        exchange_mailbox_id: str | None = None,
        scoped_identity: bool = False,
    ) -> SourceOrigin:
        return SourceOrigin(
            system=SYSTEM,
            mailbox=self.account,
            mailbox_kind="archive" if kind == "archive" else "primary",
            capture_source=kind,
            connector=connector,
            connector_version=__version__,
            endpoint=self.connection.base_url,
            exchange_mailbox_id=exchange_mailbox_id,
            tenant=self.tenant,
            scoped_identity=scoped_identity,
        )

    async def mail_sources(self) -> MailSources:
        connection, account, page_size = self.connection, self.account, self.page_size
        mailbox = GraphMailbox(connection, account, page_size=page_size)
        sources: list[MailSource] = [GraphMailSource(mailbox, self._origin(mailbox.kind))]
        found = MailSources(sources=sources)
        try:
            with seam_errors(f"reading the mailbox settings of {account}"):
                primary_id, archive_id = await GraphExportMailbox.mailbox_ids(connection, account)
        except SourceError as exc:  # the mail and its JSON items are captured all the same
            primary_id = archive_id = None
            found.failed.append(PartFailure("primary-export", "export-api", exc))
        else:
            found.opened.append(("primary-export", "export-api"))
        if primary_id:  # calendar, contacts, tasks: no MIME through the mail API
            export = GraphExportMailbox(
                connection,
                account,
                primary_id,
                kind="primary-export",
                only_non_mail=True,
                page_size=page_size,
            )
            found.sources.append(self._export(export))
        # The same items once more as readable Graph JSON (events, contacts, To Do tasks).
        items = GraphItems(
            connection,
            account,
            page_size=page_size,
            since=self.spec.content_from,
            until=self.spec.content_until,
        )
        origin = self._origin(items.kind, "graph-items", scoped_identity=True)
        found.sources.append(GraphJsonSource(items, origin))
        if archive_id:
            found.sources.append(
                self._export(
                    GraphExportMailbox(connection, account, archive_id, kind="archive", page_size=page_size)
                )
            )
        return found

    def _export(self, mailbox: GraphExportMailbox) -> GraphExportSource:
        origin = self._origin(mailbox.kind, "graph-mailbox-export", exchange_mailbox_id=mailbox.mailbox_id)
        return GraphExportSource(mailbox, origin)

    def chat_sources(self) -> list[ChatSource]:
        chats = GraphChats(self.connection, self.account, model=self.teams_model)
        return [GraphChatSource(chats, ChatOrigin(TEAMS_SYSTEM, CHAT_RUN_SOURCE, __version__, self.account))]

    def stats(self) -> RequestStats:
        stats = self.connection.transport.stats_by_mailbox.get(self.account.lower())
        if stats is None:
            return RequestStats()
        return RequestStats(
            requests=stats.requests,
            delta_requests=stats.delta_requests,
            content_requests=stats.content_requests,
            round_trips=stats.round_trips,
            wait_seconds=stats.wait_seconds,
        )


def wait_seconds(connection: GraphConnection, account: str) -> float | None:
    """Throttling wait so far for ``account`` on this connection (progress display)."""
    stats = connection.transport.stats_by_mailbox.get(account.lower())
    return None if stats is None else stats.wait_seconds


__all__ = [
    "CHAT_RUN_SOURCE",
    "MAIL_RUN_SOURCE",
    "RUN_SOURCE_KINDS",
    "GraphChatSource",
    "GraphConnector",
    "GraphExportSource",
    "GraphJsonSource",
    "GraphMailSource",
]
