"""Capture of one user's Teams chats: chat metadata, every message version, hosted contents.

Every *version* of a message that capture sees (a new ``lastModifiedDateTime``: an edit, a
deletion, a reaction) is stored as its own write-once record with the message's JSON exactly as
Graph returned it; an edit or deletion never replaces what was captured before. The incremental
cursor is the ``getAllMessages`` ``lastModifiedDateTime`` window; each round overlaps the previous
one by a little, and versions already held are skipped, so nothing on the boundary is lost.
"""

from __future__ import annotations

import asyncio
import json
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from capstone import __version__
from capstone.capture.mail import CaptureCounters
from capstone.capture.state import CaptureState, ItemError, ItemRow
from capstone.capture.target import CaptureTarget
from capstone.logging import get_logger
from connectors.base import FolderInfo, SourceError
from connectors.graph.teams import GraphChats, hosted_content_refs
from vault import BlobRef, Record, RecordRef, Vault
from vault.records import canonical_json

log = get_logger("capture.chats")

SYSTEM = "microsoft-teams"
CONNECTOR = "graph-teams"
KIND = "teams"
CURSOR = "getAllMessages"
WINDOW_OVERLAP = timedelta(seconds=5)
SKEW = timedelta(seconds=2)


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def message_version(message: dict[str, Any]) -> str:
    return str(message.get("lastModifiedDateTime") or message.get("createdDateTime") or "")


def version_item_id(chat_id: str, message_id: str, version: str) -> str:
    return f"{chat_id}/{message_id}@{version}"


@dataclass
class ChatReconciliation:
    chat_id: str
    topic: str | None
    source_messages: int
    missing: list[str] = field(default_factory=list)  # message@version visible now, not in the vault

    @property
    def ok(self) -> bool:
        return not self.missing


class ChatCapture:
    def __init__(
        self,
        *,
        target: CaptureTarget,
        chats: GraphChats,
        vault: Vault,
        state: CaptureState,
        run_id: str,
        counters: CaptureCounters | None = None,
    ) -> None:
        self.target = target
        self.chats = chats
        self.vault = vault
        self.state = state
        self.run_id = run_id
        self.counters = counters or CaptureCounters()
        self.refs: list[RecordRef] = []
        self.uncapturable: list[dict[str, Any]] = []
        self._host = socket.gethostname()

    def _capture_info(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "connector": CONNECTOR,
            "connector_version": __version__,
            "captured_at": _now().isoformat(),
            "host": self._host,
        }

    async def _write(self, records: list[Record]) -> None:
        if records:
            self.refs.extend(await asyncio.to_thread(self.vault.put_records, records))

    async def _put_json(self, document: dict[str, Any]) -> BlobRef:
        ref: BlobRef = await asyncio.to_thread(
            self.vault.put_blob, canonical_json(document), media_type="application/json"
        )
        return ref

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
            document = {"chat": chat, "members": members}
            blob = await self._put_json(document)
            identity = {"system": SYSTEM, "chat_id": chat["id"]}
            records.append(
                Record(
                    kind="chat-metadata",
                    source={
                        **identity,
                        "chat_type": chat.get("chatType"),
                        "topic": chat.get("topic"),
                        "member_count": len(members),
                        "observed_for": self.target.account,
                    },
                    source_identity=identity,
                    capture=self._capture_info(),
                    designation=self.target.designation_record(),
                    blob_sha256=blob.sha256,
                    size=blob.size,
                    media_type="application/json",
                )
            )
        await self._write(records)

    def _cursor(self) -> tuple[str | None, str | None, str]:
        """(pending next link, window start, window end) of the round to run."""
        stored = self.state.cursor(self.target.account, KIND, CURSOR)
        doc: dict[str, Any] = json.loads(stored) if stored else {}
        if doc.get("next"):
            return doc["next"], doc.get("since"), doc["until"]
        since = doc.get("until")
        if since:
            since = _iso(datetime.fromisoformat(since.replace("Z", "+00:00")) - WINDOW_OVERLAP)
        return None, since, _iso(_now() - SKEW)

    async def _capture_messages(self) -> None:
        next_link, since, until = self._cursor()
        while True:
            page = await self.chats.all_messages(next_link, since=since, until=until)
            rows, records, errors = await self._process(page.messages)
            await self._write(records)
            cursor = json.dumps(
                {"next": page.next_link, "since": since, "until": until}
                if page.next_link
                else {"until": until}
            )
            self.state.commit_page(
                account=self.target.account,
                kind=KIND,
                folder_id=CURSOR,
                run_id=self.run_id,
                next_cursor=cursor if page.next_link else None,
                final_cursor=None if page.next_link else cursor,
                items=rows,
                removals=(),
                errors=errors,
            )
            if not page.next_link:
                return
            next_link = page.next_link

    async def _process(
        self, messages: list[dict[str, Any]]
    ) -> tuple[list[ItemRow], list[Record], list[ItemError]]:
        keyed = {}
        for message in messages:
            chat_id = message.get("chatId") or (message.get("channelIdentity") or {}).get("channelId") or "?"
            keyed[version_item_id(chat_id, message["id"], message_version(message))] = (chat_id, message)
        known = self.state.items(self.target.account, KIND, keyed)
        rows: list[ItemRow] = []
        records: list[Record] = []
        errors: list[ItemError] = []
        for item_id, (chat_id, message) in keyed.items():
            self.counters.seen += 1
            if item_id in known:
                continue
            try:
                blob = await self._put_json(message)
                extra_records = await self._hosted_contents(chat_id, message)
            except (SourceError, httpx.HTTPError, OSError) as exc:
                error = f"{type(exc).__name__}: {exc}"[:500]
                errors.append(ItemError(item_id, chat_id, error))
                self.uncapturable.append({"item_id": item_id, "folder": f"chats/{chat_id}", "error": error})
                self.counters.errors += 1
                continue
            version = message_version(message)
            identity = {"system": SYSTEM, "chat_id": chat_id, "message_id": message["id"], "version": version}
            records.append(
                Record(
                    kind="chat-message-version",
                    source={
                        **identity,
                        "message_type": message.get("messageType"),
                        "created": message.get("createdDateTime"),
                        "last_edited": message.get("lastEditedDateTime"),
                        "deleted": message.get("deletedDateTime"),
                        "reply_to_id": message.get("replyToId"),
                        "etag": message.get("etag"),
                        "observed_for": self.target.account,
                    },
                    source_identity=identity,
                    capture=self._capture_info(),
                    designation=self.target.designation_record(),
                    blob_sha256=blob.sha256,
                    size=blob.size,
                    media_type="application/json",
                )
            )
            records.extend(extra_records)
            records.extend(self._reference_attachments(chat_id, message))
            rows.append(
                ItemRow(
                    item_id,
                    chat_id,
                    version,
                    blob.sha256,
                    records[-1].record_id,
                    blob.size,
                    "captured",
                    False,
                )
            )
            self.counters.items += 1
            if blob.created:
                self.counters.bytes += blob.size
        return rows, records, errors

    async def _hosted_contents(self, chat_id: str, message: dict[str, Any]) -> list[Record]:
        records = []
        for hosted_id in hosted_content_refs(message):
            content_type = "application/octet-stream"
            with self.vault.blob_writer(media_type=content_type) as writer:
                async for chunk_type, chunk in self.chats.stream_hosted_content(
                    chat_id, message["id"], hosted_id
                ):
                    content_type = chunk_type
                    writer.write(chunk)
                writer.media_type = content_type
                blob: BlobRef = await asyncio.to_thread(writer.commit)
            identity = {
                "system": SYSTEM,
                "chat_id": chat_id,
                "message_id": message["id"],
                "hosted_content_id": hosted_id,
            }
            records.append(
                Record(
                    kind="hosted-content",
                    source=identity,
                    source_identity=identity,
                    capture=self._capture_info(),
                    designation=self.target.designation_record(),
                    blob_sha256=blob.sha256,
                    size=blob.size,
                    media_type=content_type,
                )
            )
        return records

    def _reference_attachments(self, chat_id: str, message: dict[str, Any]) -> list[Record]:
        """SharePoint/OneDrive files linked from a message: the link is in the message JSON; the file
        needs SharePoint permissions this connector does not hold, so it is recorded as not captured."""
        records = []
        for attachment in message.get("attachments") or []:
            if attachment.get("contentType") != "reference":
                continue
            identity = {
                "system": SYSTEM,
                "chat_id": chat_id,
                "message_id": message["id"],
                "attachment_id": attachment.get("id"),
                "event": "reference-attachment-not-captured",
            }
            source = {
                **identity,
                "content_url": attachment.get("contentUrl"),
                "name": attachment.get("name"),
                "reason": "file content needs SharePoint/OneDrive access (Sites.Read.All); link recorded",
            }
            records.append(
                Record(
                    kind="source-event",
                    source=source,
                    source_identity=identity,
                    capture=self._capture_info(),
                    designation=self.target.designation_record(),
                )
            )
        return records

    async def reconcile(self) -> list[ChatReconciliation]:
        results = []
        for chat in await self.chats.list_chats():
            messages = await self.chats.chat_messages(chat["id"])
            ids = {version_item_id(chat["id"], m["id"], message_version(m)) for m in messages}
            held = self.state.items(self.target.account, KIND, ids)
            results.append(
                ChatReconciliation(chat["id"], chat.get("topic"), len(messages), sorted(ids - set(held)))
            )
        return results
