"""The EWS connector: an on-premises Exchange account behind the connector seam.

One :class:`EwsConnector` per account, all sharing one :class:`EwsConnection` (one service account,
per-mailbox concurrency and statistics). Its mail sources, in the order the engine captures them:

* ``ews-primary``: the primary mailbox, every folder (the ``msgfolderroot`` tree with hidden
  folders, Recoverable Items with DiscoveryHolds), every item as its ``MimeContent``: mail, calendar
  items, contacts and tasks alike (``required``: the account's mailbox itself);
* ``ews-archive``: the online archive, when the mailbox has one, likewise as MIME (on premises the
  archive is fully readable through EWS: no opaque export streams).

Cursors are ``SyncFolderItems`` sync states, one per page, persisted by the engine after the vault
confirmed the page. Its chats are Teams chats, which live in the cloud whatever the mailbox's home:
the chat source is handed in (Graph's), or there is none.

EWS has no immutable item ids on premises: an item's id changes when it moves, so a move shows as
the item leaving one folder and an item (the same bytes: no new blob) arriving in another.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from capstone import __version__
from connectors.base import (
    AccountSpec,
    ChangePage,
    ChatSource,
    ContentSink,
    FetchOutcome,
    FolderInfo,
    ItemChange,
    MailSource,
    MailSources,
    PartFailure,
    Provenance,
    RequestStats,
    SourceOrigin,
    StoredContent,
)
from connectors.errors import ConnectorUnavailableError, SourceError, ThrottledError
from connectors.ews.connection import EwsConnection
from connectors.ews.errors import EwsTransientError
from connectors.ews.mailbox import EwsMailbox

SYSTEM = "microsoft-exchange"
MAIL_RUN_SOURCE = "ews-mail"
PRIMARY_KIND = "ews-primary"
ARCHIVE_KIND = "ews-archive"
MAIL_KINDS = (PRIMARY_KIND, ARCHIVE_KIND)
MEDIA_TYPE = "message/rfc822"
_MIME_ATTEMPTS = 3  # a MimeContent stream cut off midway is read again (an answered error is not)
# Items whose change reported at most _BATCH_ITEM_BYTES go up to _BATCH_ITEMS (and _BATCH_BYTES of
# reported size) to one GetItem request, read whole; larger items, and items of unknown size (an
# open error retried by id), are streamed one at a time, so memory stays flat however large.
# Read whole, a response is parsed by lxml, which lets go of the interpreter lock while it parses;
# streamed, by a SAX parser that calls back into Python for every piece of text. So items up to
# 1 MiB are read whole: in the `large` profile the 804 items of 256 KiB-1 MiB hold half the
# mailbox's bytes, and reading them whole took 8 % less capture CPU per item and gave 4 % more
# items/s (3 alternating pairs, /tmp A/B of bench/ews_bench.py's e2e) for ~25 MB more peak RSS.
_BATCH_ITEM_BYTES = 1024 * 1024
_BATCH_BYTES = 1024 * 1024
_BATCH_ITEMS = 16


def plan_batches(changes: Sequence[ItemChange]) -> tuple[list[str], list[list[str]]]:
    """(items to stream one at a time, batches of small items), in the order of ``changes``."""
    singles: list[str] = []
    batches: list[list[str]] = []
    current: list[str] = []
    current_bytes = 0
    for change in changes:
        size = change.size
        if size is None or size > _BATCH_ITEM_BYTES:
            singles.append(change.item_id)
            continue
        if current and (len(current) >= _BATCH_ITEMS or current_bytes + size > _BATCH_BYTES):
            batches.append(current)
            current, current_bytes = [], 0
        current.append(change.item_id)
        current_bytes += size
    if len(current) == 1:
        singles.extend(current)
    elif current:
        batches.append(current)
    return singles, batches


class EwsMailSource:
    """One mailbox (primary or archive) through EWS, every item as MIME."""

    media_type = MEDIA_TYPE

    def __init__(self, mailbox: EwsMailbox, origin: SourceOrigin, *, required: bool) -> None:
        self.inner = mailbox
        self.origin = origin
        self.kind = origin.capture_source
        self.required = required

    async def list_folders(self) -> list[FolderInfo]:
        return await self.inner.list_folders()

    async def folder_changes(self, folder_id: str, cursor: str | None) -> ChangePage:
        return await self.inner.folder_changes(folder_id, cursor)

    async def first_pages(self, cursors: Mapping[str, str | None]) -> dict[str, ChangePage | SourceError]:
        return await self.inner.first_pages(cursors)

    async def list_item_ids(self, folder_id: str) -> set[str]:
        return await self.inner.list_item_ids(folder_id)

    def record_kind(self, folder: FolderInfo) -> str:
        return "mail-message"  # MIME, whatever the folder: the indexer reads it as mail

    def provenance(self, change: ItemChange, folder: FolderInfo) -> Provenance:
        # An EWS id is valid in its folder only: not an immutable id.
        return dataclasses.replace(Provenance.of(self.origin, change, folder), immutable_id=None)

    async def complete_page(self, folder: FolderInfo, page: ChangePage) -> ChangePage:
        return page

    async def fetch(
        self, changes: Sequence[ItemChange], sink: ContentSink, *, concurrency: int
    ) -> dict[str, FetchOutcome]:
        """Small items (by the size their change reported) several to a ``GetItem`` request, the
        others (large, or of unknown size) one at a time, streamed; at most ``concurrency``
        requests with their vault writes at once (the connection keeps the mailbox's requests in
        flight within ``EWSMaxConcurrency``)."""
        gate = asyncio.Semaphore(concurrency)
        outcomes: dict[str, FetchOutcome] = {}
        singles, batches = plan_batches(changes)

        async def one(item_id: str) -> None:
            async with gate:
                try:
                    outcomes[item_id] = await self._fetch_mime(item_id, sink)
                except (SourceError, OSError) as exc:
                    outcomes[item_id] = exc

        async def several(item_ids: list[str]) -> None:
            async with gate:
                retry = await self._fetch_batch(item_ids, sink, outcomes)
            await asyncio.gather(*(one(item_id) for item_id in retry))

        await asyncio.gather(*(one(item_id) for item_id in singles), *(several(ids) for ids in batches))
        return outcomes

    async def _fetch_batch(
        self, item_ids: list[str], sink: ContentSink, outcomes: dict[str, FetchOutcome]
    ) -> list[str]:
        """One ``GetItem`` of several items; each answer stored, or its error kept as the item's
        outcome (``ErrorItemNotFound``: 404, the item is gone since it was listed). Returns the
        items to read again one at a time: those whose own answer was transient, or all of them
        when the request as a whole failed (one bad item must not cost its neighbours)."""
        try:
            answers = await self.inner.fetch_mime_batch(item_ids)
        except ThrottledError as exc:  # Exchange keeps refusing: one at a time would fare no better
            outcomes.update(dict.fromkeys(item_ids, exc))
            return []
        except SourceError:
            return list(item_ids)
        retry: list[str] = []
        stores = []
        for item_id, answer in zip(item_ids, answers, strict=True):
            if isinstance(answer, EwsTransientError | ThrottledError):
                retry.append(item_id)
            elif isinstance(answer, SourceError):
                outcomes[item_id] = answer
            else:
                stores.append((item_id, answer))
        del answers
        if stores:
            # One group commit for the batch (durable before any of them counts as stored).
            stored: Sequence[FetchOutcome]
            try:
                stored = await sink.put_many([data for _, data in stores], self.media_type)
            except OSError as exc:
                stored = [exc] * len(stores)
            outcomes.update(zip((item_id for item_id, _ in stores), stored, strict=True))
        return retry

    async def _fetch_mime(self, item_id: str, sink: ContentSink) -> StoredContent:
        delay = 0.5
        for attempt in range(_MIME_ATTEMPTS):
            with sink.writer(self.media_type) as writer:
                try:
                    # read, hashed and spooled in the connection's worker thread, block by block
                    size = await self.inner.stream_mime_into(item_id, writer.write)
                    if size == 0:
                        raise SourceError(f"MIME of {item_id}: empty MimeContent", code="EmptyMimeContent")
                except SourceError as exc:
                    # Answered errors were retried by the connection (throttling honoured); only a
                    # stream cut off midway (no status) is read again, into a fresh writer.
                    if (
                        exc.status is not None
                        or exc.code == "EmptyMimeContent"
                        or attempt + 1 == _MIME_ATTEMPTS
                    ):
                        raise
                else:
                    return await writer.commit()
            await asyncio.sleep(delay)
            delay *= 2
        raise SourceError(f"MIME of {item_id} could not be read")

    def notes(self) -> dict[str, Any]:
        return {}


class EwsConnector:
    """One on-premises Exchange account through EWS (see the module docstring)."""

    name = "ews"
    mail_run_source = MAIL_RUN_SOURCE
    mail_kinds: tuple[str, ...] = MAIL_KINDS

    def __init__(
        self,
        connection: EwsConnection,
        spec: AccountSpec,
        *,
        chats: list[ChatSource] | None = None,
        chat_run_source: str = "graph-teams",
    ) -> None:
        self.connection = connection
        self.spec = spec
        self.account = spec.account
        self.address = spec.address or spec.account
        self.chat_run_source = chat_run_source
        self._chats = list(chats or [])

    def _origin(self, kind: str) -> SourceOrigin:
        return SourceOrigin(
            system=SYSTEM,
            mailbox=self.account,
            mailbox_kind="archive" if kind == ARCHIVE_KIND else "primary",
            capture_source=kind,
            connector=MAIL_RUN_SOURCE,
            connector_version=__version__,
            endpoint=self.spec.exchange_endpoint or self.connection.config.endpoint_label,
        )

    async def mail_sources(self) -> MailSources:
        primary = EwsMailbox(self.connection, self.address, "primary")
        sources: list[MailSource] = [EwsMailSource(primary, self._origin(PRIMARY_KIND), required=True)]
        found = MailSources(sources=sources)
        archive = EwsMailbox(self.connection, self.address, "archive")
        try:
            has_archive = await archive.exists()
        except SourceError as exc:  # the primary mailbox is captured all the same
            found.failed.append(PartFailure(ARCHIVE_KIND, "archive", exc))
            return found
        found.opened.append((ARCHIVE_KIND, "archive"))
        if has_archive:
            found.sources.append(EwsMailSource(archive, self._origin(ARCHIVE_KIND), required=False))
        return found

    def chat_sources(self) -> list[ChatSource]:
        if not self._chats:
            raise ConnectorUnavailableError(
                f"no chat source for {self.account}: Teams chats need the Graph connection",
                code="ConnectorUnavailable",
            )
        return list(self._chats)

    def stats(self) -> RequestStats:
        stats = self.connection.by_mailbox.get(self.address.lower())
        if stats is None:
            return RequestStats()
        operations = stats.operations
        return RequestStats(
            requests=stats.requests,
            delta_requests=operations.get("SyncFolderItems", 0),
            content_requests=operations.get("GetItem", 0),
            round_trips=stats.requests,
            wait_seconds=stats.wait_seconds,
        )


__all__ = ["ARCHIVE_KIND", "MAIL_KINDS", "MAIL_RUN_SOURCE", "PRIMARY_KIND", "EwsConnector", "EwsMailSource"]
