"""The import-run service: one run per export file, all or nothing, with provenance and a manifest.

For every file: (1) the parser reads the whole export once and refuses it with one line if any of it
is unreadable: nothing is written; (2) the original file is stored in the vault as received (an
``import-source`` record), so nothing is lost if a parser is wrong; (3) each message becomes a record
whose id follows from its stable identity (chat, sender, time, text hash, ordinal among identical
ones), so a second, overlapping export adds only what is new, and a killed import run again writes
each message exactly once; (4) a reconciliation compares the messages in the source with the
records the vault holds for them; (5) a manifest (``phone-import-run`` / ``mailbox-import-run``)
closes the run in the vault's hash chain. The role is checked and each import audited here, not in
the CLI.

Example::

    service = ImportService(settings, vault, registry, guard)
    reports = service.import_phone("d-123", "iPhone dienst 06-12345678", [Path("chat.zip")])
"""

from __future__ import annotations

import contextlib
import hashlib
import mimetypes
import socket
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from capstone import __version__
from capstone.access import ARCHIVIST
from capstone.access.guard import Guard
from capstone.imports.model import (
    MAILBOX_RUN_KIND,
    PHONE_DOCUMENT_FORMAT,
    PHONE_KIND,
    PHONE_MEDIA_KIND,
    PHONE_RUN_KIND,
    SOURCE_KIND,
    ImportRefused,
    PhoneExport,
    PhoneMessage,
)
from capstone.logging import get_logger
from capstone.registry.model import Designation
from capstone.registry.service import Registry
from capstone.retention.service import extend_exclusions, join_exclusion
from vault import BlobRef, Record, RecordRef, Vault
from vault.records import canonical_json
from vault.vault import CHECKPOINT_RECORDS

log = get_logger("imports")

BATCH = 1000  # messages per vault segment
BLOB_THREADS = 8
# Processes that read, hash and write the messages of a large MBOX into a local vault
# (``vault.spans``): one per core of the 2-core reference host. 0: the importing process does.
WRITER_PROCESSES = 2
DEFAULT_TIMEZONE = "Europe/Amsterdam"

Progress = Callable[[str, int, int], None]  # (file, messages done, messages in the file)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def new_run_id(prefix: str) -> str:
    return f"{prefix}-{_now().strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:8]}"


def sha256_of_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def media_type_of(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def resolve_designation(registry: Registry, ref: str) -> Designation:
    """A designation by its id, the official's personnel number or exact name (case-insensitive);
    an ambiguous or unknown reference is an error naming the candidates."""
    designations = registry.designations()
    for designation in designations:
        if designation.designation_id == ref:
            return designation
    wanted = " ".join(ref.split()).casefold()
    matches = [
        d
        for d in designations
        if (d.personnel_number and d.personnel_number.casefold() == wanted) or d.name.casefold() == wanted
    ]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise ValueError(f"no designated official {ref!r} (give a designation id, personnel number or name)")
    ids = ", ".join(f"{d.designation_id} ({d.start_date}..{d.end_date or ''})" for d in matches)
    raise ValueError(f"{ref!r} matches several designations: {ids}; give the designation id")


@dataclass
class Reconciliation:
    source_messages: int  # what the validating pass counted in the export
    declared: int | None  # what the export says it holds (SMS Backup's count), if it says
    parsed: int  # what the writing pass read
    held: int  # messages whose record the vault holds after the run (new + known + changed)
    media_referenced: int
    media_stored: int
    media_missing: list[str] = field(default_factory=list)  # referenced, not in the export

    @property
    def complete(self) -> bool:
        counts = self.source_messages == self.parsed == self.held
        return counts and (self.declared is None or self.declared == self.source_messages)


class _Reconciled(Protocol):
    @property
    def complete(self) -> bool: ...


class _ImportReport:
    """What a phone and a mailbox import report share: complete when its reconciliation is, and
    a JSON document that says so (a mixin of the two dataclasses)."""

    reconciliation: _Reconciled | None

    @property
    def complete(self) -> bool:
        return self.reconciliation is not None and self.reconciliation.complete

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = asdict(self)  # type: ignore[call-overload]
        doc["complete"] = self.complete
        if self.reconciliation is not None:
            doc["reconciliation"]["complete"] = self.reconciliation.complete
        return doc


@dataclass
class FileReport(_ImportReport):
    path: str
    format: str
    run_id: str
    source_sha256: list[str]
    designation_id: str
    official: str
    device: str
    new: int = 0
    known: int = 0  # already held (an overlapping earlier export)
    changed: int = 0  # held with other content (a new version)
    excluded: int = 0  # messages an open privé/partijpolitiek exclusion of their chat names (issue 21)
    chats: int = 0
    reconciliation: Reconciliation | None = None
    manifest_key: str | None = None
    seconds: float = 0.0


def message_identity(message: PhoneMessage, designation_id: str, ordinal: int) -> dict[str, Any]:
    """What makes a message the same message in every export of it (see the module docstring)."""
    return {
        "system": message.system.value,
        "designation_id": designation_id,
        "chat_id": message.chat_id,
        "sender": message.sender,
        "sent_at": message.sent_at.isoformat(),
        "text_sha256": message.text_sha256(),
        "ordinal": ordinal,
    }


def message_key(identity: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(identity)).hexdigest()


class ImportService:
    def __init__(
        self, vault: Vault, registry: Registry, guard: Guard, *, writer_processes: int = WRITER_PROCESSES
    ) -> None:
        self.vault = vault
        self.registry = registry
        self.guard = guard
        # Processes that write a large MBOX's messages into a local vault (see vault.spans).
        self.writer_processes = writer_processes
        self._host = socket.gethostname()
        # Background work of an import: the MBOX reconciliation count while the import reads on.
        self._pool = ThreadPoolExecutor(BLOB_THREADS, thread_name_prefix="import-blob")
        # Mailbox imports: writer threads each write a batch's blobs (a group commit) while the next
        # is read; with two, one batch is staged while the other one's sync waits for the disk.
        self._writer = ThreadPoolExecutor(MAIL_WRITERS, thread_name_prefix="import-writer")
        self._recorder = ThreadPoolExecutor(1, thread_name_prefix="import-recorder")  # ... its records

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._writer.shutdown(wait=True)
        self._recorder.shutdown(wait=True)

    # -- historic mailboxes ------------------------------------------------------------------------

    def import_mailbox(
        self,
        designation_ref: str,
        root: Path,
        *,
        folder_prefix: str | None = None,
        progress: Progress | None = None,
    ) -> MailboxReport:
        """Import an MBOX file, a folder of EML/MBOX/MSG/PST files, an MSG or a PST for one
        designation: one run, all or nothing (a file that cannot be read refuses the whole source)."""
        from capstone.imports.model import ImportRefused

        role = self.guard.require(
            "import-mailbox", None, ARCHIVIST, designation=designation_ref, source=str(root)
        )
        designation = resolve_designation(self.registry, designation_ref)
        try:
            report = _import_mailbox(self, designation, root, folder_prefix=folder_prefix, progress=progress)
        except ImportRefused as exc:
            self.guard.record(
                "import-mailbox", None, "refused", role, source=str(root), reason=str(exc),
                designation_id=designation.designation_id,
            )  # fmt: skip
            raise
        self.guard.record(
            "import-mailbox", None, "allowed", role, source=str(root), run_id=report.run_id,
            designation_id=designation.designation_id, sha256=report.source_sha256, new=report.new_messages,
            known=report.known, duplicates_of_capture=report.duplicates_of_capture, complete=report.complete,
        )  # fmt: skip
        return report

    # -- phone chats -------------------------------------------------------------------------------

    def import_phone(
        self,
        official: str,
        device: str,
        paths: Sequence[Path],
        *,
        timezone: str = DEFAULT_TIMEZONE,
        chat_title: str | None = None,
        progress: Progress | None = None,
    ) -> list[FileReport]:
        """Import phone chat exports for one official; each file is its own run (all or nothing)."""
        from capstone.imports.detect import open_phone_export

        role = self.guard.require("import-phone", None, ARCHIVIST, official=official, device=device)
        if not device.strip():
            raise ValueError("--device must name the phone (e.g. 'iPhone dienst 06-12345678')")
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {timezone!r} (e.g. Europe/Amsterdam)") from None
        designation = resolve_designation(self.registry, official)
        reports = []
        for path in paths:
            export = open_phone_export(
                path, timezone=timezone, own_name=designation.name, chat_title=chat_title
            )
            try:
                report = self._import_export(export, designation, device, progress)
            except ImportRefused as exc:
                self.guard.record(
                    "import-phone", None, "refused", role, file=str(path), reason=str(exc),
                    designation_id=designation.designation_id,
                )  # fmt: skip
                raise
            finally:
                export.close()
            self.guard.record(
                "import-phone", None, "allowed", role, file=str(path), run_id=report.run_id,
                designation_id=designation.designation_id, device=device, sha256=report.source_sha256,
                new=report.new, known=report.known, changed=report.changed, excluded=report.excluded,
                complete=report.complete,
            )  # fmt: skip
            reports.append(report)
        return reports

    def _capture(self, run_id: str, importer: str, device: str, source: dict[str, Any]) -> dict[str, Any]:
        now = _now().isoformat()
        return {
            "run_id": run_id,
            "connector": importer,
            "connector_version": __version__,
            "captured_at": now,
            "imported_at": now,
            "imported_by": self.guard.actor.name,
            "host": self._host,
            "device": device,
            "source_file": source,
        }

    def store_originals(
        self, files: Iterable[Path], *, system: str, designation: Designation, capture: dict[str, Any]
    ) -> tuple[list[dict[str, Any]], list[Record]]:
        """Each original file into the vault as received, with an ``import-source`` record; returns
        what was stored (name, SHA-256, size) and the records."""
        stored = []
        records = []
        for file in files:
            with file.open("rb") as handle:
                blob = self.vault.put_blob(handle, media_type=media_type_of(file.name))
            identity = {"system": system, "designation_id": designation.designation_id, "sha256": blob.sha256}
            records.append(
                Record(
                    kind=SOURCE_KIND,
                    source={**identity, "file_name": file.name, "size": blob.size},
                    source_identity=identity,
                    capture=capture,
                    designation=designation.record_reference(),
                    blob_sha256=blob.sha256,
                    size=blob.size,
                    media_type=media_type_of(file.name),
                )
            )
            stored.append({"name": file.name, "sha256": blob.sha256, "size": blob.size})
        if records:
            self.close_interrupted(self.vault.put_records(records), capture)
        return stored, records

    def close_interrupted(self, refs: Sequence[RecordRef], capture: dict[str, Any]) -> None:
        """An import killed before its manifest left records outside the chain; a rerun that meets
        them closes that run (see :meth:`vault.Vault.close_interrupted_runs`)."""
        run_id = str(capture["run_id"])
        prefix = run_id.rsplit("-", 2)[0] + "-"  # import-<system>-
        for manifest in self.vault.close_interrupted_runs(refs, run_id=run_id, prefix=prefix):
            log.info("interrupted_import_closed", manifest=manifest.key, closed_by=run_id)

    def _held_keys(self, system: str, designation_id: str) -> dict[str, set[str]]:
        """Message key -> blob hashes of the versions the vault holds for this official and system."""
        held: dict[str, set[str]] = {}
        for record in self.vault.iter_records(PHONE_KIND):
            source = record.source or {}
            if source.get("system") == system and source.get("designation_id") == designation_id:
                held.setdefault(str(source.get("message_key")), set()).add(str(record.blob_sha256))
        return held

    def _import_export(
        self, export: PhoneExport, designation: Designation, device: str, progress: Progress | None
    ) -> FileReport:
        started = _now()
        summary = export.validate()  # raises ImportRefused: nothing written yet
        system = export.system.value
        run_id = new_run_id(f"import-{system}")
        originals = export.originals()
        first = {"name": export.path.name, "format": system}
        capture = self._capture(run_id, f"{system}-export", device, first)
        stored, sources = self.store_originals(
            originals, system=system, designation=designation, capture=capture
        )
        capture["source_file"] = {**first, "files": stored}
        report = FileReport(
            path=str(export.path),
            format=system,
            run_id=run_id,
            source_sha256=[s["sha256"] for s in stored],
            designation_id=designation.designation_id,
            official=designation.name,
            device=device,
            chats=len(summary.chats),
        )
        log.info("import_started", run_id=run_id, format=system, messages=summary.messages)
        held = self._held_keys(system, designation.designation_id)
        participants = {chat: sorted(s for s in senders if s) for chat, senders in summary.chats.items()}
        ordinals: dict[bytes, int] = {}
        media_stored = 0
        missing: list[str] = []
        parsed = held_after = 0
        media_pending: list[Record] = []
        excluded_by: dict[str, int] = {}  # open exclusion -> messages of this run it names
        pending: list[
            tuple[bytes, dict[str, Any], dict[str, Any], str]
        ] = []  # document, source, identity, key

        def flush() -> None:
            nonlocal held_after
            # The batch's message documents as one group commit (durable when it returns; the
            # records that reference them are written after).
            blobs = self.vault.put_blobs([doc for doc, _, _, _ in pending], media_type="application/json")
            messages = [
                Record(
                    kind=PHONE_KIND,
                    source=source,
                    source_identity=identity,
                    capture=capture,
                    designation=designation.record_reference(),
                    blob_sha256=blob.sha256,
                    size=blob.size,
                    media_type="application/json",
                )
                for (_, source, identity, _), blob in zip(pending, blobs, strict=True)
            ]
            written = self.vault.put_records(media_pending + messages)
            self.close_interrupted(written, capture)
            # An excluded chat stays excluded: its new messages join the exclusion (issue 21).
            covered = extend_exclusions(self.registry.engine, media_pending + messages)
            for record in messages:
                for exclusion_id in covered.get(record.record_id, ()):
                    excluded_by[exclusion_id] = excluded_by.get(exclusion_id, 0) + 1
                report.excluded += record.record_id in covered
            refs: list[RecordRef] = written[len(media_pending) :]
            for record, (_, _, _, key), ref in zip(messages, pending, refs, strict=True):
                held_after += 1
                versions = held.get(key)
                if not ref.created:
                    report.known += 1
                elif versions and record.blob_sha256 not in versions:
                    report.changed += 1
                else:
                    report.new += 1
                held.setdefault(key, set()).add(str(record.blob_sha256))
            pending.clear()
            media_pending.clear()
            self.vault.checkpoint(run_id)

        for message in export.messages():
            parsed += 1
            base = hashlib.sha256(
                canonical_json(message_identity(message, designation.designation_id, 0))
            ).digest()[:16]
            ordinal = ordinals.get(base, 0)
            ordinals[base] = ordinal + 1
            identity = message_identity(message, designation.designation_id, ordinal)
            key = message_key(identity)
            media_docs, media_records = self._media(export, message, designation, capture, missing)
            media_stored += sum(1 for m in media_docs if m.get("sha256"))
            document = {
                "format": PHONE_DOCUMENT_FORMAT,
                "system": system,
                "chat_id": message.chat_id,
                "chat_title": message.chat_title,
                "sender": message.sender,
                "sent_at": message.sent_at.isoformat(),
                "timezone": str(message.sent_at.tzinfo),
                "text": message.text,
                "system_message": message.system_message,
                "deleted": message.deleted,
                "media_omitted": message.media_omitted,
                "media": media_docs,
                "details": message.details,
            }
            source = {
                **identity,
                "message_key": key,
                "chat_title": message.chat_title,
                "participants": participants.get(message.chat_id, []),
                "device": device,
                "observed_for": device,
            }
            media_pending.extend(media_records)
            pending.append((canonical_json(document), source, identity, key))
            if len(pending) >= BATCH:
                flush()
                if progress is not None:
                    progress(str(export.path), parsed, summary.messages)
        if pending:
            flush()
        if progress is not None:
            progress(str(export.path), parsed, summary.messages)
        for exclusion_id, count in excluded_by.items():
            if count == parsed:  # the export held nothing else: its original goes with the chat
                join_exclusion(self.registry.engine, exclusion_id, sources)
        report.reconciliation = Reconciliation(
            source_messages=summary.messages,
            declared=summary.declared,
            parsed=parsed,
            held=held_after,
            media_referenced=summary.media_referenced,
            media_stored=media_stored,
            media_missing=missing[:100],
        )
        report.seconds = (_now() - started).total_seconds()
        manifest = self.vault.write_manifest(
            run_id,
            kind=PHONE_RUN_KIND,
            summary={
                "format": system,
                "file": export.path.name,
                "source_sha256": report.source_sha256,
                "designation_id": designation.designation_id,
                "official": designation.name,
                "device": device,
                "imported_by": self.guard.actor.name,
                "started_at": started.isoformat(),
                "new": report.new,
                "known": report.known,
                "changed": report.changed,
                "excluded": report.excluded,
                "reconciliation": {**asdict(report.reconciliation), "complete": report.complete},
            },
        )
        report.manifest_key = manifest.key
        log.info(
            "import_finished", run_id=run_id, new=report.new, known=report.known, changed=report.changed,
            complete=report.complete,
        )  # fmt: skip
        return report

    def _media(
        self,
        export: PhoneExport,
        message: PhoneMessage,
        designation: Designation,
        capture: dict[str, Any],
        missing: list[str],
    ) -> tuple[list[dict[str, Any]], list[Record]]:
        docs: list[dict[str, Any]] = []
        records: list[Record] = []
        inline = {m.name: m for m in message.inline_media}
        for name in message.media:
            media_type = inline[name].media_type if name in inline else media_type_of(name)
            if name in inline:
                blob = self.vault.put_blob(inline[name].data, media_type=media_type)
            else:
                stream = export.open_media(name)
                if stream is None:
                    missing.append(name)
                    docs.append({"name": name, "sha256": None, "missing": True})
                    continue
                with stream:
                    blob = self.vault.put_blob(stream, media_type=media_type)
            docs.append({"name": name, "sha256": blob.sha256, "size": blob.size, "media_type": media_type})
            identity = {
                "system": message.system.value,
                "designation_id": designation.designation_id,
                "chat_id": message.chat_id,
                "name": name,
                "sha256": blob.sha256,
            }
            records.append(
                Record(
                    kind=PHONE_MEDIA_KIND,
                    source=identity,
                    source_identity=identity,
                    capture=capture,
                    designation=designation.record_reference(),
                    blob_sha256=blob.sha256,
                    size=blob.size,
                    media_type=media_type,
                )
            )
        return docs, records


# -- historic mailboxes ----------------------------------------------------------------------------------

MAIL_BATCH = 500  # messages per group commit of their blobs, and records per segment
MAIL_BATCH_BYTES = 16 << 20  # ... or fewer, when their bytes reach this (memory: about five batches)
MAIL_WRITERS = 2  # batches whose blobs are written at the same time (group commits in parallel)
# MBOX bytes of an import from which its messages are written by processes of their own (below it,
# starting them would cost more than they save).
SPAN_PROCESSES_FROM = 64 << 20


@dataclass
class MailboxReconciliation:
    source_messages: int  # what the validating pass counted
    parsed: int  # what the writing pass read
    held: int  # messages whose record the vault holds after the run (new + known)
    declared: int | None = None

    @property
    def complete(self) -> bool:
        return self.source_messages == self.parsed == self.held


@dataclass
class MailboxReport(_ImportReport):
    path: str
    format: str
    run_id: str
    source_sha256: list[str]  # the original files stored whole (MSG, PST); MBOX and EML: per message
    designation_id: str
    official: str
    new_messages: int = 0
    known: int = 0  # this import's record already held (a repeated import)
    duplicates_of_capture: int = 0  # same bytes (SHA-256) already in the vault from capture or another import
    converted: int = 0  # MSG/PST messages converted to MIME
    folders: int = 0
    duplicates: list[dict[str, str]] = field(default_factory=list)  # the first 100: folder and SHA-256
    reconciliation: MailboxReconciliation | None = None
    manifest_key: str | None = None
    seconds: float = 0.0
    writer_processes: int = 0  # processes that wrote an MBOX's messages (0: the importing process)


def _import_mailbox(
    service: ImportService,
    designation: Designation,
    root: Path,
    *,
    folder_prefix: str | None,
    progress: Progress | None,
) -> MailboxReport:
    import time

    from capstone.imports.mailbox import MailboxSource, MailItem
    from capstone.imports.occurrences import Occurrences
    from vault.spans import FileSpan, span_writer

    clock = time.monotonic()
    source = MailboxSource.open(root, folder_prefix)
    # Raises ImportRefused: nothing written yet. An MBOX's messages are counted meanwhile.
    hurry = threading.Event()  # set once every message is read: a count still at work is done here
    counting = source.validate_counting(service._pool, hurry)
    kinds = sorted({kind for kind, _ in source.files})
    run_id = new_run_id("import-mailbox")
    vault = service.vault
    account = designation.accounts[0].primary_smtp if designation.accounts else ""
    capture = service._capture(run_id, "mailbox-import", "", {"name": root.name, "format": "+".join(kinds)})
    stored, _ = service.store_originals(
        source.originals(), system="mailbox-import", designation=designation, capture=capture
    )
    capture["source_file"] = {"name": root.name, "format": "+".join(kinds), "files": stored}
    report = MailboxReport(
        path=str(root),
        format="+".join(kinds),
        run_id=run_id,
        source_sha256=[s["sha256"] for s in stored],
        designation_id=designation.designation_id,
        official=designation.name,
    )
    folders: set[str] = set()
    # Ordinals of identical copies, and the blobs this run's records reference (not duplicates of
    # capture): on disk, not in memory (see capstone.imports.occurrences).
    occurrences = Occurrences()
    in_flight: deque[Future[None]] = deque()  # batches whose blobs or records are being written
    batch: list[MailItem] = []
    batch_bytes = 0
    parsed = held = 0

    # An MBOX's messages come as spans of its file, read where they are written (by processes of
    # their own for a large MBOX in a local vault, see vault.spans); other messages as bytes. A
    # batch holds one or the other.
    mbox_bytes = sum(path.stat().st_size for kind, path in source.files if kind == "mbox")

    def submit() -> None:
        """A batch's blobs to the writer thread: one group commit (durable when it returns)."""
        nonlocal batch, batch_bytes
        contents = [item.data for item in batch]
        if isinstance(contents[0], FileSpan):
            located = [content for content in contents if isinstance(content, FileSpan)]
            blobs = service._writer.submit(spans.put, located, media_type="message/rfc822")
        else:
            datas = [content for content in contents if isinstance(content, bytes)]
            blobs = service._writer.submit(vault.put_blobs, datas, media_type="message/rfc822")
        in_flight.append(service._recorder.submit(complete, batch, blobs))
        batch, batch_bytes = [], 0

    # Records waiting for a segment: folder, record, blob referenced by another record. Their blobs
    # are durable; they are written MAIL_BATCH at a time (a segment, its fsyncs and catalog rows
    # per MAIL_BATCH records, however few messages a batch of large ones holds).
    pending: list[tuple[str, Record, bool]] = []
    since_checkpoint = 0  # records this run created that no manifest lists yet

    def complete(items: list[MailItem], future: Future[list[BlobRef]]) -> None:
        """In the recorder thread, batch after batch in order: the records of a batch once its
        blobs are durable."""
        blobs = future.result()
        referenced = vault.catalog.referenced_blobs({blob.sha256 for blob in blobs})
        met = occurrences.meet(
            [(item.folder_path, blob.sha256) for item, blob in zip(items, blobs, strict=True)]
        )
        for item, blob, (ordinal, met_before) in zip(items, blobs, met, strict=True):
            sha = blob.sha256
            identity = {
                "system": "mailbox-import",
                "designation_id": designation.designation_id,
                "folder_path": item.folder_path,
                "sha256": sha,
                "ordinal": ordinal,
            }
            record = Record(
                kind="mail-message",
                source={
                    **identity,
                    "mailbox": account,
                    "mailbox_kind": "import",
                    "file": item.file,
                    "position": item.position,
                    "converted_from": item.converted_from,
                },
                source_identity=identity,
                capture=capture,
                designation=reference,
                blob_sha256=sha,
                size=blob.size,
                media_type="message/rfc822",
            )
            # A blob this run met before is its own, not a duplicate of what capture holds.
            pending.append((item.folder_path, record, sha in referenced and not met_before))
        if len(pending) >= MAIL_BATCH:
            write_records()

    def write_records() -> None:
        """In the recorder thread: the pending records as one segment."""
        nonlocal held, since_checkpoint
        if not pending:
            return
        duplicates = [(folder, record) for folder, record, duplicate in pending if duplicate]
        known = vault.catalog.find_records([r.record_id for _, r in duplicates]) if duplicates else {}
        for folder, record in duplicates:
            if record.record_id not in known:
                report.duplicates_of_capture += 1
                if len(report.duplicates) < 100:
                    report.duplicates.append({"folder": folder, "sha256": str(record.blob_sha256)})
        refs = vault.put_records([r for _, r, _ in pending])
        pending.clear()
        service.close_interrupted(refs, capture)
        for ref in refs:
            held += 1
            if ref.created:
                report.new_messages += 1
                since_checkpoint += 1
            else:
                report.known += 1
        # Only this run writes records of this run: its own count says when a checkpoint is due
        # (no count over the catalog after every segment).
        if since_checkpoint >= CHECKPOINT_RECORDS:
            vault.checkpoint(run_id)
            since_checkpoint = 0
        if progress is not None:
            # The total once the count is in (a moment after the start), until then what is known.
            progress(str(root), held, counting.result() if counting.done() else max(parsed, held + 1))

    # Reading and splitting here; a batch's blobs hashed, written and made durable at once by a
    # writer thread (two batches at a time; for a large MBOX in a local vault the thread hands its
    # batch to a writer process) while the next batch is read; its records written by
    # the recorder thread, batch after batch in order, once they are durable. At most
    # MAIL_WRITERS + 1 batches are under way besides the one being read.
    reference = designation.record_reference()
    spans = span_writer(vault, processes=service.writer_processes if mbox_bytes >= SPAN_PROCESSES_FROM else 0)
    report.writer_processes = spans.processes
    try:
        for item in source.items():
            parsed += 1
            folders.add(item.folder_path)
            if item.converted_from:
                report.converted += 1
            if batch and isinstance(item.data, FileSpan) != isinstance(batch[0].data, FileSpan):
                submit()  # spans and bytes go to different writers: a batch holds one kind
            batch.append(item)
            batch_bytes += item.size
            if len(batch) >= MAIL_BATCH or batch_bytes >= MAIL_BATCH_BYTES:
                submit()
                while len(in_flight) > MAIL_WRITERS + 1 or (in_flight and in_flight[0].done()):
                    in_flight.popleft().result()  # raises what the batch's writing raised
        hurry.set()
        if batch:
            submit()
        in_flight.append(service._recorder.submit(write_records))  # what is left: the last segment
        while in_flight:
            in_flight.popleft().result()
    finally:  # on an error: no records go on being written behind the caller's back
        for future in in_flight:
            future.cancel()
        for future in in_flight:
            with contextlib.suppress(BaseException):
                future.result()
        occurrences.close()
        spans.close()
    report.folders = len(folders)
    report.reconciliation = MailboxReconciliation(source_messages=counting.result(), parsed=parsed, held=held)
    report.seconds = round(time.monotonic() - clock, 3)
    manifest = vault.write_manifest(
        run_id,
        kind=MAILBOX_RUN_KIND,
        summary={
            "format": report.format,
            "source": root.name,
            "source_sha256": report.source_sha256,
            "designation_id": designation.designation_id,
            "official": designation.name,
            "imported_by": service.guard.actor.name,
            "new": report.new_messages,
            "known": report.known,
            "duplicates_of_capture": report.duplicates_of_capture,
            "converted": report.converted,
            "folders": sorted(folders)[:1000],
            "reconciliation": {**asdict(report.reconciliation), "complete": report.complete},
        },
    )
    report.manifest_key = manifest.key
    return report
