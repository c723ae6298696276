"""Capture of one account's mailbox through Graph: folder by folder, page by page.

The same loop serves every source of an account: the primary mailbox's mail (raw MIME), its
non-mail folders and the online archive (full-fidelity export streams), and its calendar events,
contacts and To Do tasks as Graph JSON (the entity a delta page carries, stored in its canonical
form, see :mod:`connectors.graph.entities`). For every page of a folder's delta:

1. new or changed items are fetched (MIME, export streams) or taken from the page (JSON) and
   streamed into the vault (content-addressed);
2. their provenance records are written in one write-once segment;
3. only then, in one state-database transaction, the item rows and the folder cursor advance.

A kill at any moment therefore repeats at most one page, and the repeat writes nothing new (blob
keys and record ids are deterministic). Items in a private folder ("Privé") are not fetched; each
exclusion is recorded without content. A removal is resolved at the end of the run: seen again in
another folder it was a move, otherwise it is recorded as a deletion in the source.
"""

from __future__ import annotations

import asyncio
import socket
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from capstone import __version__
from capstone.capture.failures import (
    SOURCE_FAILURES,
    failure_reason,
    failure_status,
    folder_error_id,
    is_item_error,
)
from capstone.capture.state import CaptureState, FolderEvent, ItemError, ItemRow
from capstone.capture.target import CaptureTarget
from capstone.logging import get_logger
from connectors.base import ChangePage, CursorExpiredError, FolderInfo, ItemChange, SourceError
from connectors.graph.archive import EXPORT_BATCH, EXPORT_MEDIA_TYPE, GraphExportMailbox
from connectors.graph.entities import ENTITY_MEDIA_TYPE, canonical_entity
from connectors.graph.items import GraphItems
from connectors.graph.mail import GraphMailbox
from vault import BlobRef, Record, RecordRef, Vault

log = get_logger("capture.mail")

CONNECTOR = "graph-mail"
SYSTEM = "microsoft-graph"
_ITEM_ATTEMPTS = 4
_FIRST_PAGES_AT_ONCE = 20  # folders whose first delta page is asked in one $batch round trip
_PAGES_IN_FLIGHT = 2  # delta pages of a folder whose items are fetched at once (commits stay in order)
# Graph JSON records by the class of the collection they come from.
JSON_RECORD_KINDS = {"IPF.Appointment": "calendar-event", "IPF.Contact": "contact", "IPF.Task": "task"}

Source = GraphMailbox | GraphExportMailbox | GraphItems


@dataclass
class CaptureCounters:
    """Live counters for the progress display and metrics."""

    items: int = 0  # new blobs or records written
    bytes: int = 0
    seen: int = 0  # delta entries processed
    excluded: int = 0
    moves: int = 0
    deletions: int = 0
    errors: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class MailOptions:
    private_folder_names: tuple[str, ...] = ("Privé",)
    fetch_concurrency: int = 16  # items in flight: 4 downloading (Graph's limit), the rest committing
    tenant: str | None = None
    on_progress: Callable[[CaptureCounters], None] | None = None


@dataclass
class _PageResult:
    records: list[Record] = field(default_factory=list)
    rows: list[ItemRow] = field(default_factory=list)
    removals: list[str] = field(default_factory=list)
    errors: list[ItemError] = field(default_factory=list)
    resolved_errors: list[str] = field(default_factory=list)
    new_bytes: int = 0


def _now() -> str:
    return datetime.now(UTC).isoformat()


class MailboxCapture:
    def __init__(
        self,
        *,
        target: CaptureTarget,
        mailbox: Source,
        vault: Vault,
        state: CaptureState,
        run_id: str,
        options: MailOptions | None = None,
        counters: CaptureCounters | None = None,
    ) -> None:
        self.target = target
        self.mailbox = mailbox
        self.vault = vault
        self.state = state
        self.run_id = run_id
        self.options = options or MailOptions()
        self.counters = counters or CaptureCounters()
        self.folders: dict[str, FolderInfo] = {}
        self.uncapturable: list[dict[str, Any]] = []
        self._host = socket.gethostname()
        self._private = {name.casefold() for name in self.options.private_folder_names}
        export = isinstance(mailbox, GraphExportMailbox)
        self.json = isinstance(mailbox, GraphItems)
        # ``kind`` keys the state (cursors, items); ``source_kind`` names the mailbox in records.
        self.kind = mailbox.kind
        self.source_kind = "archive" if self.kind == "archive" else "primary"
        self.record_kind = {"archive": "archive-export-item", "primary": "mail-message"}.get(
            self.kind, "mailbox-export-item"
        )
        self.media_type = (
            EXPORT_MEDIA_TYPE if export else ENTITY_MEDIA_TYPE if self.json else "message/rfc822"
        )
        self.connector = "graph-mailbox-export" if export else "graph-items" if self.json else CONNECTOR

    # -- provenance --------------------------------------------------------------------------------

    def _capture_info(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "connector": self.connector,
            "connector_version": __version__,
            "captured_at": _now(),
            "host": self._host,
        }

    def _identity(self, item_id: str, **more: Any) -> dict[str, Any]:
        identity = {
            "system": SYSTEM,
            "mailbox": self.target.account,
            "mailbox_kind": self.source_kind,
            "item_id": item_id,
            **more,
        }
        if self.json:
            # The same item (same id, same folder) is also seen through the export API: what the
            # JSON source observes (a deletion, an exclusion) is a record of its own. The older
            # sources keep their identities, so their record ids do not change.
            identity["capture_source"] = self.kind
        return identity

    def _record_kind(self, folder: FolderInfo) -> str:
        if self.json:
            return JSON_RECORD_KINDS[folder.folder_class or ""]
        return self.record_kind

    def _source(self, change: ItemChange, folder: FolderInfo) -> dict[str, Any]:
        source = {
            "system": SYSTEM,
            "endpoint": self.mailbox.connection.base_url,
            "exchange_mailbox_id": getattr(self.mailbox, "mailbox_id", None),
            "tenant": self.options.tenant,
            "mailbox": self.target.account,
            "mailbox_kind": self.source_kind,
            "folder_id": folder.folder_id,
            "folder_path": folder.path,
            "folder_hidden": folder.hidden,
            "item_id": change.item_id,
            "immutable_id": change.item_id,
            "item_type": change.item_type,
            "internet_message_id": change.internet_message_id,
            "change_key": change.change_key,
            "last_modified": change.last_modified,
            "received": change.received,
            "capture_source": self.kind,
        }
        if change.created is not None:
            source["created"] = change.created
        source.update(change.extra)  # an event's start and end, a task's due date
        if folder.extra:
            source["collection"] = dict(folder.extra)  # calendar and view range, list name ...
        return source

    def _event_record(self, kind: str, identity: dict[str, Any], source: dict[str, Any]) -> Record:
        return Record(
            kind=kind,
            source={**source, "capture_source": self.kind},
            source_identity=identity,
            capture=self._capture_info(),
            designation=self.target.designation_record(),
        )

    def _is_private(self, folder: FolderInfo) -> bool:
        return any(part.casefold() in self._private for part in folder.path.split("/"))

    # -- the run -----------------------------------------------------------------------------------

    async def run(self) -> dict[str, Any]:
        folders = await self.mailbox.list_folders()
        self.folders = {f.folder_id: f for f in folders}
        events = self.state.sync_folders(self.target.account, self.kind, folders)
        if events:
            await self._write_records([self._folder_event(e) for e in events])
        open_folder_errors = {e["item_id"] for e in self.state.open_errors(self.target.account, self.kind)}
        for start in range(0, len(folders), _FIRST_PAGES_AT_ONCE):
            chunk = folders[start : start + _FIRST_PAGES_AT_ONCE]
            first = await self._first_pages(chunk)
            for folder in chunk:
                try:
                    await self._capture_folder(folder, first.get(folder.folder_id))
                except SOURCE_FAILURES as exc:  # the folder stays where it was; the others go on
                    await self._folder_failed(folder, exc)
                    continue
                if folder_error_id(folder.folder_id) in open_folder_errors:
                    await self._folder_recovered(folder)
        await self._resolve_removals()
        return {"folders": len(folders), "folder_events": [e.__dict__ for e in events]}

    async def _folder_failed(self, folder: FolderInfo, exc: BaseException) -> None:
        """A delta page the source keeps refusing after the transport's retries: an open error of
        the folder (its cursor stays before that page), retried by the next run."""
        reason = f"delta page: {failure_reason(exc)}"[:500]
        error = ItemError(folder_error_id(folder.folder_id), folder.folder_id, reason)
        await asyncio.to_thread(
            self.state.commit_page,
            account=self.target.account,
            kind=self.kind,
            folder_id=folder.folder_id,
            run_id=self.run_id,
            next_cursor=None,
            final_cursor=None,
            items=(),
            removals=(),
            errors=(error,),
        )
        self.uncapturable.append(
            {
                "item_id": error.item_id,
                "folder": folder.path,
                "status": failure_status(exc),
                "error": reason,
            }
        )
        self.counters.errors += 1
        log.warning(
            "folder_not_captured",
            account=self.target.account,
            folder=folder.folder_id,
            status=failure_status(exc),
            error=type(exc).__name__,
        )

    async def _folder_recovered(self, folder: FolderInfo) -> None:
        await asyncio.to_thread(
            self.state.commit_page,
            account=self.target.account,
            kind=self.kind,
            folder_id=folder.folder_id,
            run_id=self.run_id,
            next_cursor=None,
            final_cursor=None,
            items=(),
            removals=(),
            errors=(),
            resolved_errors=(folder_error_id(folder.folder_id),),
        )

    def _folder_event(self, event: FolderEvent) -> Record:
        identity = self._identity("", event=event.event, folder_id=event.folder_id, run_id=self.run_id)
        source = {**identity, "folder_path": event.path, "previous_folder_path": event.previous_path}
        return self._event_record("source-event", identity, source)

    async def _write_records(self, records: list[Record]) -> list[RecordRef]:
        if not records:
            return []
        refs = await asyncio.to_thread(self.vault.put_records, records)
        await asyncio.to_thread(self.vault.checkpoint, self.run_id)
        return refs

    async def _first_pages(self, folders: list[FolderInfo]) -> dict[str, ChangePage | SourceError]:
        """The first delta page of each folder (from its stored cursor), asked in one ``$batch``:
        an idle incremental run costs one round trip per 20 folders. A failed batch is no error:
        each folder then asks on its own, with the transport's retries."""
        if len(folders) < 2:
            return {}
        cursors = {
            f.folder_id: self.state.cursor(self.target.account, self.kind, f.folder_id) for f in folders
        }
        try:
            pages: dict[str, ChangePage | SourceError] = await self.mailbox.first_pages(cursors)
        except (SourceError, httpx.HTTPError) as exc:
            log.warning("first_pages_batch_failed", account=self.target.account, error=type(exc).__name__)
            return {}
        return pages

    async def _capture_folder(
        self, folder: FolderInfo, first: ChangePage | SourceError | None = None
    ) -> None:
        """Walk a folder's delta pages as a pipeline: page N+1 is listed and its items fetched while
        the last items of page N are still downloading and while N is committed (records, then the
        cursor, in a worker thread), so Graph's four request slots stay busy across page boundaries.
        Commits stay strictly in page order, so a cursor never moves past an item the vault has not
        confirmed. ``first`` is the first page when it was already asked in a batch."""
        if isinstance(first, ChangePage):
            page = first
        elif isinstance(first, CursorExpiredError):
            page = await self._restart(folder)
        elif isinstance(first, SourceError) and (first.status or 0) >= 500:
            raise first  # the batch already retried it as the transport would: the folder fails
        else:  # not asked yet, or the batched request failed: ask on its own
            cursor = self.state.cursor(self.target.account, self.kind, folder.folder_id)
            page = await self._changes(folder, cursor)
        page = self._with_open_errors(page, folder)
        if isinstance(self.mailbox, GraphItems):
            page = await self._complete_entities(self.mailbox, page, folder)
        processing: deque[tuple[ChangePage, asyncio.Task[_PageResult]]] = deque()
        committing: asyncio.Task[None] | None = None
        listing: asyncio.Task[ChangePage] | None = None

        async def retire_oldest() -> None:
            nonlocal committing
            done_page, task = processing.popleft()
            result = await task
            if committing is not None:
                await committing  # page N-1 is in the vault and its cursor stored before N's
            committing = asyncio.create_task(self._commit(done_page, folder, result))

        try:
            while True:
                if not page.complete:
                    listing = asyncio.create_task(self._changes(folder, page.next_cursor))
                processing.append((page, asyncio.create_task(self._process_page(page, folder))))
                if len(processing) >= _PAGES_IN_FLIGHT or listing is None:
                    await retire_oldest()
                if listing is None:
                    break
                page, listing = await listing, None
            while processing:
                await retire_oldest()
            if committing is not None:
                await committing
        finally:
            pending: list[asyncio.Task[Any]] = [task for _, task in processing]
            if listing is not None:
                pending.append(listing)
            for task in pending:
                task.cancel()
            if committing is not None and not committing.done():
                pending.append(committing)  # a commit under way is finished, never cut off
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)

    async def _changes(self, folder: FolderInfo, cursor: str | None) -> ChangePage:
        try:
            return await self.mailbox.folder_changes(folder.folder_id, cursor)
        except CursorExpiredError:
            return await self._restart(folder)

    async def _restart(self, folder: FolderInfo) -> ChangePage:
        """The source no longer knows the folder's cursor: a new round from the start (items the
        vault holds are recognised by id and change key, so nothing is stored twice)."""
        log.warning("delta_cursor_expired", account=self.target.account, folder=folder.folder_id)
        await asyncio.to_thread(self.state.reset_cursor, self.target.account, self.kind, folder.folder_id)
        return await self.mailbox.folder_changes(folder.folder_id, None)

    async def _commit(self, page: ChangePage, folder: FolderInfo, result: _PageResult) -> None:
        # The vault confirms the blobs (already stored) and the records; then the cursor moves.
        await self._write_records(result.records)
        await asyncio.to_thread(
            self.state.commit_page,
            account=self.target.account,
            kind=self.kind,
            folder_id=folder.folder_id,
            run_id=self.run_id,
            next_cursor=page.next_cursor,
            final_cursor=page.final_cursor,
            items=result.rows,
            removals=result.removals,
            errors=result.errors,
            resolved_errors=result.resolved_errors,
        )
        await asyncio.to_thread(
            self.state.add_run_progress, self.run_id, len(result.records), result.new_bytes
        )
        self._report()

    def _with_open_errors(self, page: ChangePage, folder: FolderInfo) -> ChangePage:
        """Items that failed in earlier runs are retried with the folder's first page."""
        errors = [
            e
            for e in self.state.open_errors(self.target.account, self.kind)
            if e["folder_id"] == folder.folder_id and is_item_error(e["item_id"])
        ]
        if not errors:
            return page
        present = {c.item_id for c in page.changes}
        extra = [ItemChange(item_id=e["item_id"]) for e in errors if e["item_id"] not in present]
        return ChangePage(page.changes + extra, page.next_cursor, page.final_cursor)

    async def _complete_entities(self, items: GraphItems, page: ChangePage, folder: FolderInfo) -> ChangePage:
        """An item retried after an earlier failure has no entity in the page: read it again (a
        404 or an item now in another collection is a removal here)."""
        changes: list[ItemChange] = []
        for change in page.changes:
            if change.removed or change.entity is not None:
                changes.append(change)
                continue
            try:
                current = await items.change_for(folder.folder_id, change.item_id)
            except (SourceError, httpx.HTTPError, KeyError, ValueError, TypeError):
                changes.append(change)  # fails again below and stays an open error
                continue
            changes.append(current or ItemChange(item_id=change.item_id, removed=True))
        return ChangePage(changes, page.next_cursor, page.final_cursor)

    async def _process_page(self, page: ChangePage, folder: FolderInfo) -> _PageResult:
        result = _PageResult()
        known = self.state.items(self.target.account, self.kind, (c.item_id for c in page.changes))
        open_error_ids = {e["item_id"] for e in self.state.open_errors(self.target.account, self.kind)}
        to_fetch: list[ItemChange] = []
        for change in page.changes:
            if self._classify(change, folder, known.get(change.item_id), result):
                to_fetch.append(change)
        fetched = await self._fetch(to_fetch)
        for change in to_fetch:
            outcome = fetched[change.item_id]
            if isinstance(outcome, BaseException):
                if isinstance(outcome, SourceError) and outcome.status == 404:
                    result.removals.append(change.item_id)  # gone between delta and fetch
                else:
                    self._fail(change, folder, outcome, result)
                continue
            self._record_content(change, folder, known.get(change.item_id), outcome, result)
        failed = {e.item_id for e in result.errors}
        result.resolved_errors = sorted(
            c.item_id for c in page.changes if c.item_id in open_error_ids and c.item_id not in failed
        )
        return result

    def _classify(
        self, change: ItemChange, folder: FolderInfo, known: ItemRow | None, result: _PageResult
    ) -> bool:
        """Handle what needs no content; return True when the item's content must be fetched."""
        self.counters.seen += 1
        if change.removed:
            if change.view_removal and (known is None or known.folder_id != folder.folder_id):
                return False  # outside this view now, and not held here: not a deletion
            result.removals.append(change.item_id)
            return False
        if self._is_private(folder):
            if known is not None and known.folder_id == folder.folder_id:
                return False
            identity = self._identity(change.item_id, event="excluded-private", folder_id=folder.folder_id)
            source = {
                **identity,
                "folder_path": folder.path,
                "excluded_at": _now(),
                "reason": "private folder",
            }
            result.records.append(self._event_record("exclusion", identity, source))
            state = "captured" if known is not None and known.state == "captured" else "excluded"
            result.rows.append(
                ItemRow(
                    change.item_id,
                    folder.folder_id,
                    change.change_key,
                    known.blob_sha256 if known else None,
                    known.record_id if known else None,
                    known.size if known else None,
                    state,
                    False,
                )
            )
            self.counters.excluded += 1
            log.info("item_excluded", account=self.target.account, item_id=change.item_id, folder=folder.path)
            return False
        if (known is None or known.state == "out_of_window") and not self._in_window(change):
            result.rows.append(
                ItemRow(
                    change.item_id,
                    folder.folder_id,
                    change.change_key,
                    None,
                    None,
                    None,
                    "out_of_window",
                    False,
                )
            )
            return False
        if known is not None and known.state == "captured" and known.change_key == change.change_key:
            if known.folder_id != folder.folder_id:
                result.records.append(self._move_record(change, folder, known))
                result.rows.append(_moved(known, folder.folder_id))
            return False
        return True

    def _in_window(self, change: ItemChange) -> bool:
        """Mail by its arrival; an event by its start or its creation, a task by its due date or
        its creation (made during the designation, or about a moment in it)."""
        return self.target.in_window(change.received) or (
            change.created is not None and self.target.in_window(change.created)
        )

    def _record_content(
        self,
        change: ItemChange,
        folder: FolderInfo,
        known: ItemRow | None,
        blob: BlobRef,
        result: _PageResult,
    ) -> None:
        if blob.created:
            self.counters.bytes += blob.size
            result.new_bytes += blob.size
        if known is not None and known.state == "captured" and known.blob_sha256 == blob.sha256:
            # Only properties changed (read flag, categories): same content, same record.
            if known.folder_id != folder.folder_id:
                result.records.append(self._move_record(change, folder, known))
            result.rows.append(
                ItemRow(
                    change.item_id,
                    folder.folder_id,
                    change.change_key,
                    known.blob_sha256,
                    known.record_id,
                    known.size,
                    "captured",
                    False,
                )
            )
            return
        record = Record(
            kind=self._record_kind(folder),
            source=self._source(change, folder),
            source_identity=self._identity(change.item_id),
            capture=self._capture_info(),
            designation=self.target.designation_record(),
            blob_sha256=blob.sha256,
            size=blob.size,
            media_type=self.media_type,
        )
        result.records.append(record)
        result.rows.append(
            ItemRow(
                change.item_id,
                folder.folder_id,
                change.change_key,
                blob.sha256,
                record.record_id,
                blob.size,
                "captured",
                False,
            )
        )
        self.counters.items += 1

    async def _fetch(self, changes: list[ItemChange]) -> dict[str, BlobRef | BaseException]:
        if self.json:
            return await self._store_entities(changes)  # the entities came with the page
        if isinstance(self.mailbox, GraphExportMailbox):
            return await self._fetch_exports(self.mailbox, [c.item_id for c in changes])
        gate = asyncio.Semaphore(self.options.fetch_concurrency)
        outcomes: dict[str, BlobRef | BaseException] = {}

        async def one(item_id: str) -> None:
            async with gate:
                try:
                    outcomes[item_id] = await self._fetch_mime(item_id)
                except (SourceError, httpx.HTTPError, OSError) as exc:
                    outcomes[item_id] = exc

        await asyncio.gather(*(one(c.item_id) for c in changes))
        return outcomes

    async def _fetch_exports(
        self, archive: GraphExportMailbox, item_ids: list[str]
    ) -> dict[str, BlobRef | BaseException]:
        outcomes: dict[str, BlobRef | BaseException] = {}
        gate = asyncio.Semaphore(self.options.fetch_concurrency)

        async def one(batch: list[str]) -> None:
            async with gate:
                try:
                    exported = await archive.export(batch)
                except (SourceError, httpx.HTTPError) as exc:
                    outcomes.update(dict.fromkeys(batch, exc))
                    return
            for item_id, data in exported.items():
                if isinstance(data, SourceError):
                    outcomes[item_id] = data
                else:
                    outcomes[item_id] = await asyncio.to_thread(
                        self.vault.put_blob, data, media_type=EXPORT_MEDIA_TYPE
                    )

        batches = [item_ids[start : start + EXPORT_BATCH] for start in range(0, len(item_ids), EXPORT_BATCH)]
        await asyncio.gather(*(one(batch) for batch in batches))
        return outcomes

    async def _store_entities(self, changes: list[ItemChange]) -> dict[str, BlobRef | BaseException]:
        """The canonical JSON of each entity into the vault (one worker thread for the page)."""

        def store() -> dict[str, BlobRef | BaseException]:
            outcomes: dict[str, BlobRef | BaseException] = {}
            for change in changes:
                if change.entity is None:
                    outcomes[change.item_id] = SourceError(f"{change.item_id}: the source gave no entity")
                    continue
                try:
                    data = canonical_entity(change.entity)
                    outcomes[change.item_id] = self.vault.put_blob(data, media_type=ENTITY_MEDIA_TYPE)
                except (OSError, ValueError, TypeError, RecursionError) as exc:  # one poison item
                    outcomes[change.item_id] = exc
            return outcomes

        return await asyncio.to_thread(store)

    def _move_record(self, change: ItemChange, folder: FolderInfo, known: ItemRow) -> Record:
        previous = self.folders.get(known.folder_id)
        identity = self._identity(
            change.item_id, event="located", folder_id=folder.folder_id, run_id=self.run_id
        )
        source = {
            **identity,
            "folder_path": folder.path,
            "previous_folder_id": known.folder_id,
            "previous_folder_path": previous.path if previous else None,
            "blob_sha256": known.blob_sha256,
            "record_id": known.record_id,
        }
        self.counters.moves += 1
        return self._event_record("observation", identity, source)

    def _fail(self, change: ItemChange, folder: FolderInfo, exc: BaseException, result: _PageResult) -> None:
        message = failure_reason(exc)
        status = failure_status(exc)
        result.errors.append(ItemError(change.item_id, folder.folder_id, message))
        self.uncapturable.append(
            {"item_id": change.item_id, "folder": folder.path, "status": status, "error": message}
        )
        self.counters.errors += 1
        log.warning(
            "item_not_captured",
            account=self.target.account,
            item_id=change.item_id,
            status=status,
            error=type(exc).__name__,
        )

    async def _fetch_mime(self, item_id: str) -> BlobRef:
        delay = 0.5
        for attempt in range(_ITEM_ATTEMPTS):
            with self.vault.blob_writer(media_type="message/rfc822") as writer:
                try:
                    assert isinstance(self.mailbox, GraphMailbox)
                    async for chunk in self.mailbox.stream_mime(item_id):
                        writer.write(chunk)
                except SourceError as exc:
                    # An answer with a status was already retried by the transport (8 attempts,
                    # Retry-After honoured): asking again here would multiply that. Only a body
                    # cut off mid-stream (no status) is read again.
                    if exc.status is not None or attempt + 1 == _ITEM_ATTEMPTS:
                        raise
                except httpx.HTTPError:
                    if attempt + 1 == _ITEM_ATTEMPTS:
                        raise
                else:
                    ref: BlobRef = await asyncio.to_thread(writer.commit)
                    return ref
            await asyncio.sleep(delay)
            delay *= 2
        raise SourceError(f"MIME of {item_id} could not be read")

    async def _resolve_removals(self) -> None:
        pending = self.state.pending_removals(self.target.account, self.kind)
        if not pending:
            return
        known = self.state.items(self.target.account, self.kind, (item_id for item_id, _ in pending))
        deleted: list[str] = []
        records: list[Record] = []
        for item_id, folder_id in pending:
            row = known.get(item_id)
            if row is not None and row.folder_id != folder_id:
                continue  # seen in another folder: a move, already recorded
            folder = self.folders.get(folder_id)
            identity = self._identity(
                item_id, event="deleted-in-source", folder_id=folder_id, run_id=self.run_id
            )
            source = {
                **identity,
                "folder_path": folder.path if folder else None,
                "observed_at": _now(),
                "captured": row is not None and row.state == "captured",
                "blob_sha256": row.blob_sha256 if row else None,
            }
            records.append(self._event_record("source-event", identity, source))
            if row is not None:
                deleted.append(item_id)
        await self._write_records(records)
        self.counters.deletions += len(records)
        self.state.resolve_removals(self.target.account, self.kind, deleted, pending)

    def _report(self) -> None:
        if self.options.on_progress is not None:
            self.options.on_progress(self.counters)


def _moved(row: ItemRow, folder_id: str) -> ItemRow:
    return ItemRow(
        row.item_id, folder_id, row.change_key, row.blob_sha256, row.record_id, row.size, row.state, False
    )
