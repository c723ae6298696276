"""Registry events into the vault: each event is an archival record of kind ``registry-event``, so the
registry's history survives the loss of the database (see :meth:`Registry.restore`).

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
    from vault import BlobRef, Vault

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


def archive_to_vault(vault: Vault, items: Sequence[ArchiveItem]) -> list[ArchiveReceipt]:
    """Write ``items`` as ``registry-event`` records (one segment) and a manifest of kind ``registry``."""
    from vault import Record

    if not items:
        return []
    now = datetime.now(UTC)
    run_id = f"registry-{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    records = []
    for item, blob in zip(items, _put_blobs(vault, [event_bytes(i.event) for i in items]), strict=True):
        event = item.event
        records.append(
            Record(
                kind=RECORD_KIND,
                source={
                    "system": SOURCE_SYSTEM,
                    "event_id": event.event_id,
                    "designation_id": event.designation_id,
                    "version": event.version,
                    "event_type": event.event_type.value,
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
                blob_sha256=blob.sha256,
                size=blob.size,
                media_type="application/json",
                designation=item.designation.record_reference(),
            )
        )
    refs = vault.put_records(records)
    summary = {
        "events": len(refs),
        "new": sum(1 for r in refs if r.created),
        "designations": len({i.event.designation_id for i in items}),
    }
    vault.write_manifest(run_id, refs, kind="registry", summary=summary)
    return [
        ArchiveReceipt(item.event.event_id, ref.record_id, run_id)
        for item, ref in zip(items, refs, strict=True)
    ]


ARCHIVE_THREADS = 16


def _put_blobs(vault: Vault, blobs: Sequence[bytes]) -> list[BlobRef]:
    """Store many small blobs; a large import's thousands of events are written by several threads,
    so their durable writes (each an fsync on a local vault, a request on S3) overlap."""
    if len(blobs) < 2 * ARCHIVE_THREADS:
        return [vault.put_blob(data, media_type="application/json") for data in blobs]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(ARCHIVE_THREADS, thread_name_prefix="registry-archive") as pool:
        return list(pool.map(lambda data: vault.put_blob(data, media_type="application/json"), blobs))


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

    for record in vault.iter_records(kind=RECORD_KIND):
        if record.blob_sha256 is None:
            continue
        document: dict[str, Any] = json.loads(vault.read_blob(record.blob_sha256))
        yield RegistryEvent.from_document(document), record.record_id
