"""Capture of one user's chats: chat metadata, every message version, hosted contents.

The chats come from the connector's chat source (:class:`~connectors.base.ChatSource`; for Graph:
Teams through ``getAllMessages``); only the seam's error types are caught here.

Every *version* of a message that capture sees (a new ``lastModifiedDateTime``: an edit, a
deletion, a reaction) is stored as its own write-once record with the message's JSON as Graph
returned it (canonical JSON); an edit or deletion never replaces what was captured before. The
incremental cursor is the ``getAllMessages`` ``lastModifiedDateTime`` window; each round overlaps the
previous one by a little, and versions already held are skipped, so nothing on the boundary is lost.

At the end of a run every chat is listed as it is now (reconciliation). A version visible there that
the vault does not hold is captured from that listing: one changed after the run's window closed
(``late``, it is seen again by the next window and skipped), or one whose capture failed earlier
(``repaired``: a failed hosted-content download, say). What still cannot be captured is reported as
missing, and the run is incomplete.

Messages created outside the designation's capture window are not stored (``out_of_window``, as
for mail). An inline image is downloaded once per account, not again for every later version of its
message (``teams-hosted`` rows in the state database).
"""

from __future__ import annotations

import asyncio
import json
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from capstone.capture.failures import failure_reason, failure_status, is_item_error
from capstone.capture.mail import CaptureCounters
from capstone.capture.sink import VaultSink
from capstone.capture.state import CaptureState, ItemError, ItemRow
from capstone.capture.target import CaptureTarget
from capstone.logging import get_logger
from connectors.base import ChatProvenance, ChatSource, FolderInfo, MessageKey, SourceError, StoredContent
from vault import Record, Vault
from vault.records import canonical_json

log = get_logger("capture.chats")

KIND = "teams"
HOSTED_KIND = "teams-hosted"  # hosted contents already in the vault: not downloaded again
CURSOR = "getAllMessages"
WINDOW_OVERLAP = timedelta(seconds=5)
SKEW = timedelta(seconds=2)
HOSTED_CONCURRENCY = 4  # downloads in flight per account (Graph allows 4 concurrent per mailbox)
BLOB_CONCURRENCY = 8  # message JSON blobs being written at once (each is fsync'ed: overlap them)


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def version_item_id(chat_id: str, message_id: str, version: str) -> str:
    return f"{chat_id}/{message_id}@{version}"


def hosted_item_id(chat_id: str, message_id: str, hosted_id: str) -> str:
    return f"{chat_id}/{message_id}/hosted/{hosted_id}"


@dataclass
class ChatReconciliation:
    chat_id: str
    topic: str | None
    source_messages: int
    missing: list[str] = field(default_factory=list)  # message@version visible now, not in the vault
    late: int = 0  # changed after the run's window closed: captured from the listing
    repaired: int = 0  # inside the window but not held (an earlier failure): captured from the listing
    out_of_window: int = 0  # created outside the designation's capture window: not captured

    @property
    def ok(self) -> bool:
        return not self.missing


@dataclass
class _Batch:
    rows: list[ItemRow] = field(default_factory=list)
    hosted_rows: list[ItemRow] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)
    errors: list[ItemError] = field(default_factory=list)
    captured: list[str] = field(default_factory=list)


class ChatCapture:
    def __init__(
        self,
        *,
        target: CaptureTarget,
        chats: ChatSource,
        vault: Vault,
        state: CaptureState,
        run_id: str,
        counters: CaptureCounters | None = None,
    ) -> None:
        self.target = target
        self.chats = chats
        self.origin = chats.origin
        self.vault = vault
        self.sink = VaultSink(vault)
        self.state = state
        self.run_id = run_id
        self.counters = counters or CaptureCounters()
        self._failed: dict[str, dict[str, Any]] = {}
        self.window_end: str | None = None
        self._host = socket.gethostname()
        self._gate = asyncio.Semaphore(HOSTED_CONCURRENCY)
        self._blob_gate = asyncio.Semaphore(BLOB_CONCURRENCY)

    @property
    def uncapturable(self) -> list[dict[str, Any]]:
        """Versions this run could not capture and the vault still does not hold."""
        return list(self._failed.values())

    def _capture_info(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "connector": self.origin.connector,
            "connector_version": self.origin.connector_version,
            "captured_at": _now().isoformat(),
            "host": self._host,
        }

    async def _write(self, records: list[Record]) -> None:
        if records:
            await asyncio.to_thread(self.vault.put_records, records)
            await asyncio.to_thread(self.vault.checkpoint, self.run_id)

    async def _put_json(self, document: dict[str, Any]) -> StoredContent:
        return await self.sink.put(canonical_json(document), "application/json")

    async def _put_json_many(self, documents: list[dict[str, Any]]) -> list[StoredContent]:
        async def one(document: dict[str, Any]) -> StoredContent:
            async with self._blob_gate:
                return await self._put_json(document)

        return list(await asyncio.gather(*(one(d) for d in documents)))

    # -- run ---------------------------------------------------------------------------------------

    async def run(self) -> dict[str, Any]:
        chats = await self.chats.list_chats()
        self.state.sync_folders(
            self.target.account,
            KIND,
            [FolderInfo(CURSOR, None, CURSOR, CURSOR, hidden=True, mailbox_kind="primary")]
            + [FolderInfo(c["id"], None, c.get("topic") or c["id"], f"chats/{c['id']}") for c in chats],
        )
        await self._capture_metadata(chats)
        await self._capture_messages()
        return {"chats": len(chats)}

    async def _capture_metadata(self, chats: list[dict[str, Any]]) -> None:
        records = []
        for chat in chats:
            members = await self.chats.members(chat["id"])
            blob = await self._put_json({"chat": chat, "members": members})
            provenance = self.chats.chat_provenance(chat, members)
            records.append(self._record("chat-metadata", provenance, blob, "application/json"))
        await self._write(records)

    def _record(
        self,
        kind: str,
        provenance: ChatProvenance,
        blob: StoredContent | None = None,
        media_type: str | None = None,
    ) -> Record:
        """A chat record: its ``source`` and identity from the source's typed provenance."""
        return Record(
            kind=kind,
            source=provenance.source(),
            source_identity=provenance.identity(),
            capture=self._capture_info(),
            designation=self.target.designation_record(),
            blob_sha256=blob.sha256 if blob else None,
            size=blob.size if blob else None,
            media_type=media_type,
        )

    def _cursor(self) -> tuple[str | None, str | None, str]:
        """(pending next link, window start, window end) of the round to run."""
        stored = self.state.cursor(self.target.account, KIND, CURSOR)
        doc: dict[str, Any] = json.loads(stored) if stored else {}
        if doc.get("next"):
            return doc["next"], doc.get("since"), doc["until"]
        since = doc.get("until")
        if since:
            since = _iso(_parse(since) - WINDOW_OVERLAP)
        return None, since, _iso(_now() - SKEW)

    async def _capture_messages(self) -> None:
        next_link, since, until = self._cursor()
        self.window_end = until
        pending = asyncio.ensure_future(self.chats.all_messages(next_link, since=since, until=until))
        try:
            while True:
                page = await pending
                if page.next_link:  # the next page is on its way while this one is stored
                    pending = asyncio.ensure_future(
                        self.chats.all_messages(page.next_link, since=since, until=until)
                    )
                batch = await self._process(page.messages)
                await self._write(batch.records)
                cursor = json.dumps(
                    {"next": page.next_link, "since": since, "until": until}
                    if page.next_link
                    else {"until": until}
                )
                self._commit(  # in the event loop like every state write (SQLite: one writer)
                    batch,
                    folder_id=CURSOR,
                    next_cursor=cursor if page.next_link else None,
                    final_cursor=None if page.next_link else cursor,
                )
                if not page.next_link:
                    return
        finally:
            if not pending.done():
                pending.cancel()
            elif not pending.cancelled():
                pending.exception()  # a prefetched page that failed after an earlier error: seen

    def _commit(
        self,
        batch: _Batch,
        *,
        folder_id: str,
        next_cursor: str | None = None,
        final_cursor: str | None = None,
    ) -> None:
        """Only after the vault holds the batch's blobs and records: hosted contents first, then the
        message versions with the cursor, each in one transaction (a crash between the two only
        means the message is processed again, without downloading its images again)."""
        if batch.hosted_rows:
            self.state.commit_page(
                account=self.target.account,
                kind=HOSTED_KIND,
                folder_id=folder_id,
                run_id=self.run_id,
                next_cursor=None,
                final_cursor=None,
                items=batch.hosted_rows,
                removals=(),
                errors=(),
            )
        self.state.commit_page(
            account=self.target.account,
            kind=KIND,
            folder_id=folder_id,
            run_id=self.run_id,
            next_cursor=next_cursor,
            final_cursor=final_cursor,
            items=batch.rows,
            removals=(),
            errors=batch.errors,
            resolved_errors=batch.captured,
        )

    async def _process(self, messages: list[dict[str, Any]]) -> _Batch:
        keyed: dict[str, tuple[MessageKey, dict[str, Any]]] = {}
        for message in messages:
            key = self.chats.message_key(message)
            keyed[version_item_id(key.chat_id, key.message_id, key.version)] = (key, message)
        known = self.state.items(self.target.account, KIND, keyed)
        batch = _Batch()
        fresh: list[tuple[str, MessageKey, dict[str, Any]]] = []
        for item_id, (key, message) in keyed.items():
            self.counters.seen += 1
            if item_id in known:
                continue
            if not self.target.in_window(key.created):
                batch.rows.append(
                    ItemRow(item_id, key.chat_id, key.version, None, None, None, "out_of_window", False)
                )
                continue
            fresh.append((item_id, key, message))
        if not fresh:
            return batch
        hosted_known = self.state.items(
            self.target.account,
            HOSTED_KIND,
            [
                hosted_item_id(k.chat_id, k.message_id, h)
                for _, k, m in fresh
                for h in self.chats.hosted_content_refs(m)
            ],
        )
        outcomes = await asyncio.gather(
            *(self._hosted_contents(key, message, hosted_known) for _, key, message in fresh),
            return_exceptions=True,
        )
        done: list[tuple[str, MessageKey, dict[str, Any], tuple[list[Record], list[ItemRow]]]] = []
        for (item_id, key, message), outcome in zip(fresh, outcomes, strict=True):
            if not isinstance(outcome, BaseException):
                done.append((item_id, key, message, outcome))
                continue
            if not isinstance(outcome, SourceError | OSError):
                raise outcome
            error = failure_reason(outcome)
            batch.errors.append(ItemError(item_id, key.chat_id, error))
            self._failed[item_id] = {
                "item_id": item_id,
                "folder": f"chats/{key.chat_id}",
                "status": failure_status(outcome),
                "error": error,
            }
            self.counters.errors += 1
            log.warning("chat_message_not_captured", account=self.target.account, item=item_id, error=error)
        # The versions' JSON, written concurrently, only for versions whose images are in.
        blobs = await self._put_json_many([message for _, _, message, _ in done])
        for (item_id, key, message, outcome), blob in zip(done, blobs, strict=True):
            hosted_records, hosted_rows = outcome
            record = self._record(
                "chat-message-version", self.chats.message_provenance(message), blob, "application/json"
            )
            batch.records.append(record)
            batch.records.extend(hosted_records)
            batch.records.extend(
                self._record("source-event", link) for link in self.chats.reference_attachments(message)
            )
            batch.hosted_rows.extend(hosted_rows)
            batch.rows.append(
                ItemRow(
                    item_id,
                    key.chat_id,
                    key.version,
                    blob.sha256,
                    record.record_id,
                    blob.size,
                    "captured",
                    False,
                )
            )
            batch.captured.append(item_id)
            self._failed.pop(item_id, None)
            self.counters.items += 1
            if blob.created:
                self.counters.bytes += blob.size
        return batch

    async def _hosted_contents(
        self, key: MessageKey, message: dict[str, Any], known: dict[str, ItemRow]
    ) -> tuple[list[Record], list[ItemRow]]:
        """The inline images a version's body points at, streamed into the vault; an image this
        account's capture already stored (for an earlier version) is not downloaded again."""
        records: list[Record] = []
        rows: list[ItemRow] = []
        for hosted_id in self.chats.hosted_content_refs(message):
            item_id = hosted_item_id(key.chat_id, key.message_id, hosted_id)
            if item_id in known:
                continue
            async with self._gate:
                blob, content_type = await self.chats.fetch_hosted_content(
                    key.chat_id, key.message_id, hosted_id, self.sink
                )
            record = self._record(
                "hosted-content", self.chats.hosted_provenance(key, hosted_id), blob, content_type
            )
            records.append(record)
            rows.append(
                ItemRow(
                    item_id, key.chat_id, None, blob.sha256, record.record_id, blob.size, "captured", False
                )
            )
            if blob.created:
                self.counters.bytes += blob.size
        return records, rows

    # -- reconciliation ----------------------------------------------------------------------------

    async def reconcile(self) -> list[ChatReconciliation]:
        """Every chat as it is now against what the vault holds; versions not held are captured
        from the listing (see the module docstring), what still fails is reported missing."""
        results = []
        visible: set[str] = set()
        for chat in await self.chats.list_chats():
            messages = await self.chats.chat_messages(chat["id"])
            keyed = {self._version_id(chat["id"], m): m for m in messages}
            visible.update(keyed)
            held = self.state.items(self.target.account, KIND, keyed)
            absent = [m for item_id, m in keyed.items() if item_id not in held]
            result = ChatReconciliation(chat["id"], chat.get("topic"), len(messages))
            if absent:
                batch = await self._process(absent)
                await self._write(batch.records)
                self._commit(batch, folder_id=chat["id"])
                held = self.state.items(self.target.account, KIND, keyed)
                for message in absent:
                    if self._version_id(chat["id"], message) not in held:
                        continue
                    if self._after_window(message):
                        result.late += 1
                    else:
                        result.repaired += 1
            result.missing = sorted(set(keyed) - set(held))
            result.out_of_window = sum(1 for row in held.values() if row.state == "out_of_window")
            if result.repaired:
                log.warning(
                    "chat_versions_repaired",
                    account=self.target.account,
                    chat=chat["id"],
                    count=result.repaired,
                )
            results.append(result)
        self._resolve_superseded(visible)
        return results

    def _version_id(self, chat_id: str, message: dict[str, Any]) -> str:
        key = self.chats.message_key(message)
        return version_item_id(chat_id, key.message_id, key.version)

    def _after_window(self, message: dict[str, Any]) -> bool:
        version = self.chats.message_key(message).version
        if self.window_end is None or not version:
            return False
        return _parse(version) >= _parse(self.window_end)

    def _resolve_superseded(self, visible: set[str]) -> None:
        """Open errors of versions no longer visible in the source (edited or deleted since) are
        closed: that version cannot be captured any more, and the current one was."""
        stale = [
            e["item_id"]
            for e in self.state.open_errors(self.target.account, KIND)
            if e["item_id"] not in visible and is_item_error(e["item_id"])
        ]
        if stale:
            self.state.commit_page(
                account=self.target.account,
                kind=KIND,
                folder_id=CURSOR,
                run_id=self.run_id,
                next_cursor=None,
                final_cursor=None,
                items=(),
                removals=(),
                errors=(),
                resolved_errors=stale,
            )
