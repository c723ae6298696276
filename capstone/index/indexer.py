"""Feeding the index from the vault, and only from the vault.

:func:`update_index` reads the vault segments that hold searchable records (mail, calendar events,
contacts, tasks, export items, chat message versions) and that the index has not finished yet, streams each record's blob, extracts its
documents (:mod:`capstone.index.extract`) and writes them in batches. Records (and whole segments) are
marked done only after their documents are written, so an interrupted update repeats at most one
batch, and repeating it changes nothing (documents are replaced by ``doc_id``). Segments are
write-once, so a finished segment never needs reading again: an update after a capture run reads
just that run's segments. :func:`rebuild_index` clears the index and reads everything again.

Example::

    report = update_index(vault, open_index(settings.search_index_url))
    print(report.records_indexed, report.documents, report.seconds)
"""

from __future__ import annotations

import json
import multiprocessing
import os
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from multiprocessing.pool import AsyncResult, Pool
from pathlib import Path
from typing import Any, BinaryIO, Protocol, runtime_checkable

from capstone.index import sandbox
from capstone.index.extract import CHAT_KINDS, INDEXED_KINDS, READ_KINDS, documents_for
from capstone.index.model import IndexDocument, SearchIndex
from capstone.logging import get_logger
from vault import layout, make_store
from vault.records import Record, sha256_hex
from vault.store import ObjectStore
from vault.vault import Vault

log = get_logger("index")

BATCH_DOCUMENTS = 2000
BATCH_BYTES = 32 * 1024 * 1024  # extracted text held before a write
AUTO_WORKERS_FROM = 64  # segments to index from which ``workers=None`` extracts in other processes
MAX_AUTO_WORKERS = 4


@dataclass
class IndexReport:
    records_seen: int = 0  # searchable records read from the vault's unfinished segments
    records_indexed: int = 0  # of those, written to the index by this update
    records_skipped: int = 0  # already indexed before
    records_failed: int = 0  # blob unreadable now: left for the next update
    records_unverified: int = 0  # listed by no manifest (outside the vault's chain): not indexed
    documents: int = 0
    notes: int = 0  # documents that carry an extraction note (encrypted PDF, too large, ...)
    segments_total: int = 0
    segments_done: int = 0
    seconds: float = 0.0
    rebuilt: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


ProgressCallback = Callable[[IndexReport], None]


@runtime_checkable
class SegmentTracking(Protocol):
    """Backends that remember finished vault segments (both built-in ones do)."""

    def indexed_segments(self) -> set[str]: ...

    def mark_segments(self, keys: Iterable[str]) -> None: ...


def _segment_lines(vault: Vault, key: str) -> Iterator[tuple[Record, str]]:
    """A segment's records, each with the SHA-256 of its line (what a manifest lists)."""
    with vault.store.open(key) as handle:
        data = handle.read()
    for line in data.splitlines():
        if line.strip():
            yield Record.from_document(json.loads(line)), sha256_hex(line)


class _ChatDirectory:
    """The newest ``chat-metadata`` document per chat id (members, topic), read on demand."""

    def __init__(self, vault: Vault) -> None:
        self.vault = vault
        self._latest: dict[str, tuple[str, str]] | None = None
        self._cache: dict[str, dict[str, Any] | None] = {}

    def _load(self) -> dict[str, tuple[str, str]]:
        if self._latest is None:
            latest: dict[str, tuple[str, str]] = {}
            for record in self.vault.iter_records("chat-metadata"):
                chat_id = str((record.source or {}).get("chat_id") or "")
                captured = str((record.capture or {}).get("captured_at") or "")
                if (
                    chat_id
                    and record.blob_sha256
                    and (chat_id not in latest or captured >= latest[chat_id][0])
                ):
                    latest[chat_id] = (captured, record.blob_sha256)
            self._latest = latest
        return self._latest

    def get(self, chat_id: str) -> dict[str, Any] | None:
        if chat_id in self._cache:
            return self._cache[chat_id]
        entry = self._load().get(chat_id)
        meta: dict[str, Any] | None = None
        if entry is not None:
            try:
                loaded = json.loads(self.vault.read_blob(entry[1]))
                meta = loaded if isinstance(loaded, dict) else None
            except (OSError, KeyError, ValueError) as exc:
                log.warning("index_chat_metadata_unreadable", chat_id=chat_id, error=type(exc).__name__)
        self._cache[chat_id] = meta
        return meta


BlobOpener = Callable[[str], BinaryIO]
# What one record gave: its documents, or the name of the error that kept its blob from being read.
Outcome = list[IndexDocument] | str
Pending = list[tuple[Record, dict[str, Any] | None]]  # a segment's records to index, chat metadata


def _documents(open_blob: BlobOpener, record: Record, chat_meta: dict[str, Any] | None) -> Outcome:
    """A record's documents; the error's name when its blob cannot be read (retried next time)."""
    try:
        if record.blob_sha256 is None or record.kind not in READ_KINDS:
            return documents_for(record, None, chat_meta)  # opaque export: its metadata is all we index
        with open_blob(record.blob_sha256) as stream:
            return documents_for(record, stream, chat_meta)
    except (OSError, KeyError) as exc:
        return type(exc).__name__


# -- extraction in worker processes -----------------------------------------------------------------
# Reading blobs and extracting text is half of a build, writing the index the other half; with
# ``workers`` the first half runs in other processes (each opens the store by its URL; the catalog
# and the index stay with the main process), so a rebuild uses more than one core.

_worker_store: ObjectStore | None = None


def _worker_init(store_url: str, staging_dir: str, limits: sandbox.SandboxLimits, ledger: str | None) -> None:
    global _worker_store
    _worker_store = make_store(store_url, staging_dir=Path(staging_dir))
    sandbox.configure(limits, Path(ledger) if ledger else None)  # the parent's extraction limits


def _worker_open(sha256: str) -> BinaryIO:
    assert _worker_store is not None
    return _worker_store.open(layout.blob_key(sha256))


def _worker_extract(pending: Pending) -> list[Outcome]:
    return [_documents(_worker_open, record, meta) for record, meta in pending]


def auto_workers(segments: int) -> int:
    """Extraction processes for ``segments`` to index: none for a small update (starting processes
    costs more than it saves), else one per spare core, at most :data:`MAX_AUTO_WORKERS`."""
    if segments < AUTO_WORKERS_FROM:
        return 0
    return max(0, min((os.cpu_count() or 1) - 1, MAX_AUTO_WORKERS))


def update_index(
    vault: Vault,
    index: SearchIndex,
    *,
    progress: ProgressCallback | None = None,
    batch_documents: int = BATCH_DOCUMENTS,
    workers: int | None = 0,
) -> IndexReport:
    """Index the vault's searchable records the index does not hold yet.

    ``workers``: processes that read blobs and extract text while this one writes the index (0: all
    in this process; None: :func:`auto_workers`). The index is the same either way."""
    started = time.monotonic()
    report = IndexReport()
    tracking = isinstance(index, SegmentTracking)
    done_segments = index.indexed_segments() if isinstance(index, SegmentTracking) else set()
    done_records = set() if tracking else index.indexed_records()
    segments: set[str] = set()
    for kind in INDEXED_KINDS:
        segments.update(vault.catalog.segments_of_kind(kind))
    todo = sorted(segments - done_segments)
    report.segments_total = len(todo)
    chats = _ChatDirectory(vault)
    processes = auto_workers(len(todo)) if workers is None else workers
    log.info("index_update_started", segments=len(todo), backend=type(index).__name__, workers=processes)

    docs: list[IndexDocument] = []
    record_ids: list[str] = []
    finished: list[str] = []
    held = 0

    def flush() -> None:
        nonlocal docs, record_ids, finished, held
        if docs:
            index.add(docs)
        if record_ids:
            index.mark_records(record_ids)
        if finished and isinstance(index, SegmentTracking):
            index.mark_segments(finished)
        docs, record_ids, finished, held = [], [], [], 0

    unverified: set[str] = set()  # segments with records outside the chain: read again next time

    def pending(key: str) -> Pending:
        out: Pending = []
        lines = [(r, sha) for r, sha in _segment_lines(vault, key) if r.kind in INDEXED_KINDS]
        listed = vault.catalog.listed_records([r.record_id for r, _ in lines])
        for record, line_sha in lines:
            report.records_seen += 1
            if listed.get(record.record_id) != line_sha:
                report.records_unverified += 1
                unverified.add(key)
                log.warning("index_record_unverified", record_id=record.record_id, segment=key)
                continue
            if record.record_id in done_records:
                report.records_skipped += 1
                continue
            chat_id = str((record.source or {}).get("chat_id") or "")
            out.append((record, chats.get(chat_id) if record.kind in CHAT_KINDS else None))
        return out

    def absorb(key: str, records: Pending, outcomes: list[Outcome]) -> None:
        nonlocal held
        complete = True
        for (record, _), produced in zip(records, outcomes, strict=True):
            if isinstance(produced, str):
                report.records_failed += 1
                complete = False
                log.error(
                    "index_record_unreadable", record_id=record.record_id, kind=record.kind, error=produced
                )
                continue
            docs.extend(produced)
            record_ids.append(record.record_id)
            report.records_indexed += 1
            report.documents += len(produced)
            report.notes += sum(1 for d in produced if d.notes)
            held += sum(len(d.body) for d in produced)
            if len(docs) >= batch_documents or held >= BATCH_BYTES:
                flush()
        if complete and key not in unverified:
            finished.append(key)
        report.segments_done += 1
        if progress is not None:
            report.seconds = time.monotonic() - started
            progress(report)

    if processes <= 0:
        for key in todo:
            records = pending(key)
            absorb(key, records, [_documents(vault.open_blob, r, meta) for r, meta in records])
    else:
        # spawn, not fork: the parent may hold threads (boto3) and open database connections.
        context = multiprocessing.get_context("spawn")
        # The workers only read; their stores never stage an upload.
        init = (vault.store.url, tempfile.gettempdir(), *sandbox.worker_config())
        with context.Pool(processes, _worker_init, init) as pool:
            _extract_in(pool, 2 * processes, todo, pending, absorb)
    flush()
    index.mark_completed(datetime.now(UTC))  # a pass over the whole vault: searches may trust it
    report.seconds = time.monotonic() - started
    log.info(
        "index_update_finished",
        records=report.records_indexed,
        documents=report.documents,
        failed=report.records_failed,
        seconds=round(report.seconds, 2),
    )
    return report


def _extract_in(
    pool: Pool,
    window: int,
    todo: list[str],
    pending: Callable[[str], Pending],
    absorb: Callable[[str, Pending, list[Outcome]], None],
) -> None:
    """Segments to the pool in order, at most ``window`` at a time (memory stays bounded), each
    absorbed in order as its extraction returns."""
    in_flight: deque[tuple[str, Pending, AsyncResult[list[Outcome]]]] = deque()
    for key in todo:
        records = pending(key)
        in_flight.append((key, records, pool.apply_async(_worker_extract, (records,))))
        if len(in_flight) >= window:
            done_key, done_records, result = in_flight.popleft()
            absorb(done_key, done_records, result.get())
    while in_flight:
        done_key, done_records, result = in_flight.popleft()
        absorb(done_key, done_records, result.get())


def rebuild_index(
    vault: Vault,
    index: SearchIndex,
    *,
    progress: ProgressCallback | None = None,
    batch_documents: int = BATCH_DOCUMENTS,
    workers: int | None = None,
) -> IndexReport:
    """Clear the index and index the whole vault again (``workers`` as in :func:`update_index`)."""
    started = time.monotonic()
    index.clear()
    report = update_index(vault, index, progress=progress, batch_documents=batch_documents, workers=workers)
    optimize = getattr(index, "optimize", None)
    if callable(optimize):
        optimize()
    report.rebuilt = True
    report.seconds = time.monotonic() - started
    return report
