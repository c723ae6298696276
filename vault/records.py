"""Provenance records: what the vault knows about each captured item.

A record is canonical JSON. Its id is derived from its *identity* (kind, blob hash, source identity),
never from when or by which run it was captured, so replaying a capture yields the same ids and the
vault writes nothing new. Records are packed into write-once segment objects; the run manifest lists
each record's id and the SHA-256 of its canonical line, so every record is individually verifiable.

Example::

    record = Record(
        kind="mail-message",
        blob_sha256=blob.sha256, size=blob.size, media_type="message/rfc822",
        source={"system": "graph", "tenant": "...", "mailbox": "...", "item_id": "...", "folder_path": "..."},
        capture={"run_id": "...", "connector": "graph-mail", "connector_version": "0.1.0",
                 "captured_at": "2026-11-22T10:00:00Z", "host": "worker-1"},
        designation={"designation_id": "...", "official": "...", "function": "...", "decision_reference": "..."},
        retention_class="archiefwet-overbrenging",
    )
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import orjson

RECORD_FORMAT = "capstone-record/1"

# Record kinds used across Capstone. Free-form strings are allowed; these are the known ones.
KNOWN_KINDS = (
    "mail-message",
    "calendar-event",  # Graph JSON of a calendar event (where no MIME is offered)
    "contact",  # Graph JSON of a contact
    "task",  # Graph JSON of a Microsoft To Do task
    "mailbox-export-item",  # primary mailbox's non-mail items: opaque full-fidelity export stream
    "archive-export-item",  # online archive: opaque full-fidelity export stream
    "attachment",
    "chat-message-version",
    "chat-metadata",
    "hosted-content",
    "observation",  # e.g. an item seen in a new folder after a move (no new blob)
    "source-event",  # e.g. a deletion seen in the source
    "exclusion",  # a private item excluded from content capture (no content)
    "registry-event",
    "audit-seal",
    "sample",
)


def canonical_json(document: Any) -> bytes:
    """Deterministic JSON bytes: sorted keys, no insignificant white space, UTF-8.

    The definition is the standard library's ``json.dumps(document, sort_keys=True,
    separators=(",", ":"), ensure_ascii=False)`` encoded as UTF-8: record ids and the SHA-256 of
    every record line rest on these bytes, so they must never change. ``orjson`` writes the very
    same bytes, about ten times faster (a bulk import encodes two documents per message), for the
    values whose text the two agree on: dicts with string keys, lists, tuples, strings, integers,
    booleans and None (``tests/vault/test_canonical_json.py`` compares them). A document holding
    anything else (a float, whose text differs; a subclass) is encoded by ``json``, as is one
    ``orjson`` refuses (an integer beyond 64 bits, a lone surrogate)."""
    if _plain(document):
        try:
            return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:
            pass
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


_SCALARS = frozenset({str, int, bool, type(None)})


def _plain(document: Any) -> bool:
    """Only dicts with string keys, lists, tuples and scalars of :data:`_SCALARS` (exact types),
    each container met once: one met again (shared, or a cycle, which ``json`` refuses with its own
    error) is left to ``json``, and the walk ends on any input."""
    pending = [document]
    seen: set[int] = set()
    while pending:
        value = pending.pop()
        kind = type(value)
        if kind is dict or kind is list or kind is tuple:
            if id(value) in seen:
                return False
            seen.add(id(value))
            if kind is dict:
                for key in value:
                    if type(key) is not str:
                        return False
                pending.extend(value.values())
            else:
                pending.extend(value)
        elif kind not in _SCALARS:
            return False
    return True


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Record:
    """One provenance record. ``source`` must identify the item in its source system."""

    kind: str
    source: dict[str, Any]
    capture: dict[str, Any]
    blob_sha256: str | None = None
    size: int | None = None
    media_type: str | None = None
    designation: dict[str, Any] | None = None
    retention_class: str | None = None
    retain_until: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # The part of ``source`` that identifies the item (default: all of it). Location and version
    # details (folder, change key) stay in ``source`` but out of the identity, so an item that moves
    # keeps its record id and a replay writes nothing new.
    source_identity: dict[str, Any] | None = None

    def identity(self) -> dict[str, Any]:
        key = self.source if self.source_identity is None else self.source_identity
        return {"kind": self.kind, "blob_sha256": self.blob_sha256, "source": key}

    @cached_property
    def record_id(self) -> str:
        """Computed once per record (a large batch asks for it several times); a record is immutable."""
        return sha256_hex(canonical_json(self.identity()))

    def with_retention(self, retention_class: str, retain_until: str) -> Record:
        """This record with its retention filled in; the id (which retention is not part of) is
        carried over rather than computed again."""
        filled = replace(self, retention_class=retention_class, retain_until=retain_until)
        if "record_id" in self.__dict__:
            filled.__dict__["record_id"] = self.__dict__["record_id"]
        return filled

    def to_document(self) -> dict[str, Any]:
        return {
            "format": RECORD_FORMAT,
            "record_id": self.record_id,
            "kind": self.kind,
            "blob_sha256": self.blob_sha256,
            "size": self.size,
            "media_type": self.media_type,
            "source": self.source,
            "capture": self.capture,
            "designation": self.designation,
            "retention_class": self.retention_class,
            "retain_until": self.retain_until,
            "extra": self.extra,
            "source_identity": self.source_identity,
        }

    def canonical_line(self) -> bytes:
        return canonical_json(self.to_document())

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> Record:
        if document.get("format") != RECORD_FORMAT:
            raise ValueError(f"not a {RECORD_FORMAT} document")
        return cls(
            kind=document["kind"],
            source=document["source"],
            capture=document["capture"],
            blob_sha256=document.get("blob_sha256"),
            size=document.get("size"),
            media_type=document.get("media_type"),
            designation=document.get("designation"),
            retention_class=document.get("retention_class"),
            retain_until=document.get("retain_until"),
            extra=document.get("extra") or {},
            source_identity=document.get("source_identity"),
        )


@dataclass(frozen=True)
class RecordRef:
    """Where a record lives: its id, the hash of its canonical line, and its segment."""

    record_id: str
    record_sha256: str
    segment_key: str
    kind: str
    blob_sha256: str | None
    created: bool  # False when the vault already held this record id
