"""Registry events into the vault: each event is an archival record of kind ``registry-event``, so the
registry's history survives the loss of the database (see :meth:`Registry.restore`).

The event document travels inside its record (``extra.event``, its SHA-256 in ``source``), not as a
blob of its own: a batch of events is one write-once segment, so one durable write (one fsync on a
local vault, one request on S3) per :data:`SEGMENT_EVENTS` events instead of one per event (issue 16:
a 100 000-row import spent most of its time in 100 000 fsyncs). The segment's SHA-256 and the
manifest, which lists each record's line hash, protect the events as a blob's hash did. Records of
the earlier form (the event as a blob) are still read back.

The service commits an event to the database first and archives it afterwards, then notes in
``registry_event_archive`` which record holds it. Events without such a note are archived again by
the next registry command; the record id depends only on the event (its id and content), so a second
attempt after a crash finds the record already in the vault and writes nothing twice.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from capstone import __version__
from capstone.registry.model import Designation, RegistryEvent

if TYPE_CHECKING:
    from capstone.settings import Settings
    from vault import Record, RecordRef, Vault

RECORD_KIND = "registry-event"
SOURCE_SYSTEM = "capstone-registry"
CONNECTOR = "capstone-registry"


@dataclass(frozen=True)
class ArchiveItem:
    """One event to archive, with the designation's state right after it (for the record's summary)."""

    event: RegistryEvent
    designation: Designation


@dataclass(frozen=True)
class ArchiveReceipt:
    event_id: str
    record_id: str
    run_id: str


Archive = Callable[[Sequence[ArchiveItem]], Sequence[ArchiveReceipt]]


def event_bytes(event: RegistryEvent) -> bytes:
    from vault.records import canonical_json

    return canonical_json(event.to_document())


SEGMENT_EVENTS = 10_000


def event_record(event: RegistryEvent, designation: Designation, *, run_id: str, now: datetime) -> Record:
    """The ``registry-event`` record of ``event``: its id depends only on the event (id and content)."""
    from vault import Record
    from vault.records import canonical_json, sha256_hex

    document = event.to_document()
    event_sha256 = sha256_hex(canonical_json(document))  # the same bytes as event_bytes(event)
    return Record(
        kind=RECORD_KIND,
        source={
            "system": SOURCE_SYSTEM,
            "event_id": event.event_id,
            "designation_id": event.designation_id,
            "version": event.version,
            "event_type": event.event_type.value,
            "event_sha256": event_sha256,
        },
        capture={
            "run_id": run_id,
            "actor": event.actor,
            "recorded_at": event.recorded_at.astimezone(UTC).isoformat(),
            "captured_at": now.isoformat(),
            "connector": CONNECTOR,
            "connector_version": __version__,
            "host": socket.gethostname(),
        },
        media_type="application/json",
        designation=designation.record_reference(),
        extra={"event": document},
    )


def archive_to_vault(vault: Vault, items: Sequence[ArchiveItem]) -> list[ArchiveReceipt]:
    """Write ``items`` as ``registry-event`` records, :data:`SEGMENT_EVENTS` to a segment, and one
    manifest of kind ``registry`` after the last segment. Crash safe: the database notes events as
    archived only after the manifest; a run killed before it leaves records that the retry finds by
    their ids (writing nothing twice) and closes with an ``interrupted-run`` manifest, so ``vault
    verify`` finds every record in the chain."""
    if not items:
        return []
    now = datetime.now(UTC)
    run_id = f"registry-{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    refs: list[RecordRef] = []
    for start in range(0, len(items), SEGMENT_EVENTS):
        batch = items[start : start + SEGMENT_EVENTS]
        refs += vault.put_records(
            [event_record(i.event, i.designation, run_id=run_id, now=now) for i in batch]
        )
    summary = {
        "events": len(refs),
        "new": sum(1 for r in refs if r.created),
        "designations": len({i.event.designation_id for i in items}),
    }
    vault.close_interrupted_runs(refs, run_id=run_id, prefix="registry-")  # a run killed before this
    vault.write_manifest(run_id, refs, kind="registry", summary=summary)
    return [
        ArchiveReceipt(item.event.event_id, ref.record_id, run_id)
        for item, ref in zip(items, refs, strict=True)
    ]


def vault_archive(open_vault: Callable[[], Vault]) -> Archive:
    """An archive that opens the vault on first use (commands that archive nothing never open it)."""
    opened: list[Vault] = []

    def archive(items: Sequence[ArchiveItem]) -> Sequence[ArchiveReceipt]:
        if not items:
            return []
        if not opened:
            opened.append(open_vault())
        return archive_to_vault(opened[0], items)

    return archive


def settings_archive(settings: Settings) -> Archive:
    """The archive for the configured vault (``CAPSTONE_VAULT``)."""

    def opener() -> Vault:
        from capstone.services import open_vault

        return open_vault(settings)

    return vault_archive(opener)


def events_in_vault(vault: Vault) -> Iterator[tuple[RegistryEvent, str]]:
    """Every registry event the vault holds, with its record id, each verified against its SHA-256."""
    import json

    from vault import VaultIntegrityError
    from vault.records import canonical_json, sha256_hex

    for record in vault.iter_records(kind=RECORD_KIND):
        document: dict[str, Any]
        if record.blob_sha256 is not None:  # the earlier form: the event as a blob
            document = json.loads(vault.read_blob(record.blob_sha256))
        elif isinstance(record.extra.get("event"), dict):
            document = record.extra["event"]
            if sha256_hex(canonical_json(document)) != record.source.get("event_sha256"):
                raise VaultIntegrityError(
                    f"registry-event record {record.record_id} does not match its SHA-256: it was altered"
                )
        else:
            continue
        yield RegistryEvent.from_document(document), record.record_id
