"""The chats the vault holds, read from its records and blobs only (no source system, no state
database): chat metadata, every captured version of every message, hosted contents and the
reference attachments recorded as not captured."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from vault import Record, Vault

_EARLIEST = datetime.min.replace(tzinfo=UTC)  # sorts a missing or unreadable time first


class ChatNotFoundError(KeyError):
    """The vault holds nothing of this chat."""

    def __str__(self) -> str:
        return f"the vault holds no chat {self.args[0]!r}"


def parse_stamp(stamp: str | None) -> datetime | None:
    if not stamp:
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None


@dataclass(frozen=True)
class MessageVersion:
    """One captured version of a message: its record and the message JSON of its blob."""

    record: Record
    message: dict[str, Any]

    @property
    def version(self) -> str:
        return str(self.record.source.get("version") or "")

    @property
    def moment(self) -> datetime | None:
        return parse_stamp(self.version)


@dataclass
class ArchivedMessage:
    message_id: str
    versions: list[MessageVersion] = field(default_factory=list)  # oldest first

    @property
    def current(self) -> dict[str, Any]:
        return self.versions[-1].message

    @property
    def created(self) -> str:
        return str(self.versions[0].message.get("createdDateTime") or self.versions[0].version)


@dataclass(frozen=True)
class HostedImage:
    hosted_id: str
    media_type: str
    blob_sha256: str
    size: int | None


@dataclass
class ArchivedChat:
    chat_id: str
    chat: dict[str, Any] = field(default_factory=dict)  # the chat JSON of the newest metadata record
    members: list[dict[str, Any]] = field(default_factory=list)
    officials: set[str] = field(default_factory=set)  # the designations named in its records
    messages: dict[str, ArchivedMessage] = field(default_factory=dict)
    hosted: dict[tuple[str, str], HostedImage] = field(default_factory=dict)  # (message id, hosted id)
    references: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (message, attachment)

    @property
    def topic(self) -> str | None:
        topic = self.chat.get("topic")
        return str(topic) if topic else None

    @property
    def chat_type(self) -> str | None:
        kind = self.chat.get("chatType")
        return str(kind) if kind else None

    def ordered_messages(self) -> list[ArchivedMessage]:
        return sorted(
            self.messages.values(), key=lambda m: (parse_stamp(m.created) or _EARLIEST, m.message_id)
        )

    def member_names(self) -> dict[str, str]:
        """User id -> display name, from the members and every captured message's sender."""
        names: dict[str, str] = {}
        for member in self.members:
            if member.get("userId") and member.get("displayName"):
                names[str(member["userId"])] = str(member["displayName"])
        for message in self.messages.values():
            for version in message.versions:
                user = ((version.message.get("from") or {}).get("user")) or {}
                if user.get("id") and user.get("displayName"):
                    names.setdefault(str(user["id"]), str(user["displayName"]))
        return names

    def title(self) -> str:
        if self.topic:
            return self.topic
        names = [str(m.get("displayName") or m.get("email") or "?") for m in self.members]
        return ", ".join(names) if names else self.chat_id


@dataclass(frozen=True)
class ChatSummary:
    chat_id: str
    chat_type: str | None
    topic: str | None
    members: list[str]
    messages: int
    versions: int
    images: int
    first_message: str | None
    last_change: str | None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _metadata(vault: Vault, records: list[Record]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The chat JSON and members of the newest of a chat's metadata records."""
    best: tuple[str, dict[str, Any], list[dict[str, Any]]] | None = None
    for record in records:
        if record.blob_sha256 is None:
            continue
        document = json.loads(vault.read_blob(record.blob_sha256))
        chat = document.get("chat") or {}
        stamp = str(chat.get("lastUpdatedDateTime") or "")
        if best is None or stamp > best[0]:
            best = (stamp, chat, list(document.get("members") or []))
    return ({}, []) if best is None else (best[1], best[2])


def _records_by_chat(vault: Vault, kind: str, chat_id: str | None) -> dict[str, list[Record]]:
    grouped: dict[str, list[Record]] = defaultdict(list)
    for record in vault.iter_records(kind):
        if record.source.get("system") != "microsoft-teams":
            continue
        cid = str(record.source.get("chat_id") or "")
        if chat_id is None or cid == chat_id:
            grouped[cid].append(record)
    return grouped


def list_chats(vault: Vault) -> list[ChatSummary]:
    """Every chat the vault holds something of, with its message and version counts."""
    metadata = _records_by_chat(vault, "chat-metadata", None)
    versions = _records_by_chat(vault, "chat-message-version", None)
    images = _records_by_chat(vault, "hosted-content", None)
    summaries = []
    for chat_id in sorted(set(metadata) | set(versions)):
        chat, members = _metadata(vault, metadata.get(chat_id, []))
        held = {(r.source.get("message_id"), r.source.get("version")) for r in versions.get(chat_id, [])}
        stamps = sorted(str(v) for _, v in held if v)
        created = sorted(
            str(r.source.get("created")) for r in versions.get(chat_id, []) if r.source.get("created")
        )
        summaries.append(
            ChatSummary(
                chat_id=chat_id,
                chat_type=chat.get("chatType"),
                topic=chat.get("topic"),
                members=[str(m.get("displayName") or m.get("email") or "?") for m in members],
                messages=len({m for m, _ in held}),
                versions=len(held),
                images=len(
                    {
                        (r.source.get("message_id"), r.source.get("hosted_content_id"))
                        for r in images.get(chat_id, [])
                    }
                ),
                first_message=created[0] if created else None,
                last_change=stamps[-1] if stamps else None,
            )
        )
    return summaries


def load_chat(vault: Vault, chat_id: str) -> ArchivedChat:
    """Everything the vault holds of one chat; raises :class:`ChatNotFoundError` if nothing."""
    metadata = _records_by_chat(vault, "chat-metadata", chat_id).get(chat_id, [])
    versions = _records_by_chat(vault, "chat-message-version", chat_id).get(chat_id, [])
    if not metadata and not versions:
        raise ChatNotFoundError(chat_id)
    archived = ArchivedChat(chat_id)
    archived.chat, archived.members = _metadata(vault, metadata)
    for record in metadata + versions:
        if record.designation and record.designation.get("official"):
            archived.officials.add(str(record.designation["official"]))
    seen: set[tuple[str, str]] = set()
    for record in versions:
        message_id = str(record.source.get("message_id"))
        key = (message_id, str(record.source.get("version")))
        if key in seen or record.blob_sha256 is None:  # one version captured for several accounts
            continue
        seen.add(key)
        document = json.loads(vault.read_blob(record.blob_sha256))
        archived.messages.setdefault(message_id, ArchivedMessage(message_id)).versions.append(
            MessageVersion(record, document)
        )
    for message in archived.messages.values():
        message.versions.sort(key=lambda v: (v.moment or _EARLIEST, v.version))
    for record in _records_by_chat(vault, "hosted-content", chat_id).get(chat_id, []):
        if record.blob_sha256 is None:
            continue
        key = (str(record.source.get("message_id")), str(record.source.get("hosted_content_id")))
        archived.hosted.setdefault(
            key,
            HostedImage(
                key[1], record.media_type or "application/octet-stream", record.blob_sha256, record.size
            ),
        )
    for record in _records_by_chat(vault, "source-event", chat_id).get(chat_id, []):
        if record.source.get("event") == "reference-attachment-not-captured":
            key = (str(record.source.get("message_id")), str(record.source.get("attachment_id")))
            archived.references.setdefault(key, dict(record.source))
    return archived
