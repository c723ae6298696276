"""The Vault: content-addressed blobs, provenance records in segments, and a chain of manifests,
on top of any :class:`~vault.store.ObjectStore`.

Example::

    vault = Vault.open(LocalStore(Path("/srv/capstone/vault")), catalog_path=Path("cache/vault.sqlite"))
    blob = vault.put_blob(open("message.eml", "rb"), media_type="message/rfc822")
    refs = vault.put_records([Record(kind="mail-message", source={...}, capture={...},
                                     blob_sha256=blob.sha256, size=blob.size, media_type="message/rfc822")])
    vault.write_manifest("run-42", refs, kind="capture-run", summary={"items": 1})
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from vault import layout
from vault.catalog import Catalog
from vault.errors import (
    VaultConflictError,
    VaultError,
    VaultIntegrityError,
    VaultNotInitialisedError,
    VaultWriteError,
)
from vault.manifest import ManifestRef, build_manifest
from vault.records import Record, RecordRef, canonical_json, sha256_hex
from vault.retention import RetentionPolicy
from vault.store import BatchItem, ObjectStore, Retention, StoreCapabilities

DESCRIPTOR_FORMAT = "capstone-vault/1"
_CHUNK = 1 << 20  # 1 MiB: the unit of streaming; memory stays flat whatever the blob size
_MANIFEST_RETRIES = 20

# ``vault.records_guard``: a context manager entered around every record write. Raising on entry
# refuses the write; the callable it yields is told the run ids (``capture.run_id``) of the records
# of a segment before the segment is written (e.g. a capture worker that lost its lease refuses its
# further writes, waits for those under way, and lists in the chain the runs they wrote into).
RecordsGuard = Callable[[], AbstractContextManager[Callable[[set[str]], None]]]

# ``vault.manifest_guard``: a context manager entered around every manifest append (it may bring
# the catalog's chain head up to date). What it yields, when not None, is called right before each
# manifest PUT: it may refuse the PUT (raise) when the writer no longer holds what the guard gave it.
ManifestConfirm = Callable[[], None]
ManifestGuard = Callable[["Vault"], AbstractContextManager[ManifestConfirm | None]]


def _unnoted(runs: set[str]) -> None:
    return None


SPOOL_IN_MEMORY = 1 << 20  # blobs up to 1 MiB are spooled in memory, larger ones in a file
HASH_THREADS = 2  # hashing a batch of blobs (put_blobs) on the cores there are
CHECKPOINT_RECORDS = 10_000  # records per checkpoint manifest: bounds manifest size and writer memory


@dataclass(frozen=True)
class BlobRef:
    sha256: str
    size: int
    key: str
    created: bool


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class Vault:
    """Write-once archival storage. Thread-safe; one instance per process and vault."""

    def __init__(
        self,
        store: ObjectStore,
        *,
        catalog_path: Path | None = None,
        retention: RetentionPolicy | None = None,
    ) -> None:
        self.store = store
        self.retention = retention or RetentionPolicy()
        self.catalog = Catalog(catalog_path)
        # A store that can (S3) remembers in the catalog which content-addressed keys exist, so a new
        # blob costs one PUT and a known one none, instead of asking the server before every write.
        use_presence = getattr(store, "use_presence", None)
        if callable(use_presence):
            use_presence(self.catalog)
        self._write_lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        # Its own lock: a batch's hashing must not wait while another thread writes a segment
        # under the write lock (measured: 5 % of an import's blob-writer time went waiting there).
        self._pool_lock = threading.Lock()
        self._manifest_lock = threading.Lock()
        self._descriptor: dict[str, Any] | None = None
        # Serialises manifest appends between processes (e.g. many capture workers on one state
        # database): see :data:`ManifestGuard`.
        self.manifest_guard: ManifestGuard | None = None
        # Entered around every record write (see :data:`RecordsGuard`): may refuse it, and is told
        # the runs whose records a segment holds before that segment is written.
        self.records_guard: RecordsGuard | None = None

    # -- opening -----------------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        store: ObjectStore,
        *,
        catalog_path: Path | None = None,
        retention: RetentionPolicy | None = None,
        sync: bool = True,
    ) -> Vault:
        """Open an initialised vault: validate the store, read its descriptor, sync the catalog."""
        store.check()
        vault = cls(store, catalog_path=catalog_path, retention=retention)
        vault._load_descriptor()
        if sync:
            vault.sync_catalog()
        return vault

    @classmethod
    def initialise(
        cls,
        store: ObjectStore,
        *,
        catalog_path: Path | None = None,
        retention: RetentionPolicy | None = None,
    ) -> Vault:
        """Create or validate the container and write the descriptor (idempotent)."""
        capabilities = store.initialise()
        vault = cls(store, catalog_path=catalog_path, retention=retention)
        existing = store.head(layout.DESCRIPTOR_KEY)
        if existing is None:
            descriptor = {
                "format": DESCRIPTOR_FORMAT,
                "created_at": _now().isoformat(),
                "worm": capabilities.worm,
                "capabilities": {
                    "checksum_sha256": capabilities.checksum_sha256,
                    "notes": list(capabilities.notes),
                },
                "layout": {
                    "blobs": layout.BLOB_PREFIX,
                    "segments": layout.SEGMENT_PREFIX,
                    "manifests": layout.MANIFEST_PREFIX,
                },
            }
            data = canonical_json(descriptor)
            vault._put_small(layout.DESCRIPTOR_KEY, data, "application/json", vault.retention.for_class())
        vault._load_descriptor()
        vault.sync_catalog()
        return vault

    def _load_descriptor(self) -> None:
        try:
            with self.store.open(layout.DESCRIPTOR_KEY) as handle:
                descriptor: dict[str, Any] = json.loads(handle.read())
        except KeyError:
            raise VaultNotInitialisedError(
                f"{self.store.url} holds no Capstone vault yet; run `capstone vault init`"
            ) from None
        if descriptor.get("format") != DESCRIPTOR_FORMAT:
            raise VaultNotInitialisedError(f"{self.store.url} holds an unknown vault format")
        caps = descriptor.get("capabilities", {})
        self.store.use_capabilities(
            StoreCapabilities(
                worm=bool(descriptor.get("worm")) and self.store.capabilities.worm,
                checksum_sha256=bool(caps.get("checksum_sha256")),
                notes=tuple(caps.get("notes", ())),
            )
        )
        self._descriptor = descriptor

    @property
    def descriptor(self) -> dict[str, Any]:
        if self._descriptor is None:
            self._load_descriptor()
        assert self._descriptor is not None
        return self._descriptor

    @property
    def worm(self) -> bool:
        return self.store.capabilities.worm

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        self.catalog.close()

    # -- catalog -----------------------------------------------------------------------------------

    def sync_catalog(self) -> int:
        """Bring the local catalog up to date with the store. Returns the number of new objects seen."""
        new = 0
        known_segments = self.catalog.known_segments()
        for info in self.store.list(layout.SEGMENT_PREFIX):
            if info.key in known_segments:
                continue
            sha = layout.sha_of_segment_key(info.key)
            if sha is None:
                continue
            data = self._read_all(info.key)
            if sha256_hex(data) != sha:
                continue  # corrupted segment: left for `verify` to report, never trusted
            self.catalog.add_segment(info.key, sha, len(data), _segment_entries(data))
            self.catalog.add_record_runs(_segment_runs(data))
            new += 1
        for key in self.catalog.segments_of_runless_unlisted():
            try:
                self.catalog.add_record_runs(_segment_runs(self._read_all(key)))
            except KeyError:
                continue  # gone from the store: `verify` reports it
        known_manifests = self.catalog.known_manifests()
        for info in self.store.list(layout.MANIFEST_PREFIX):
            seq = layout.seq_of_manifest_key(info.key)
            if seq is None or seq in known_manifests:
                continue
            data = self._read_all(info.key)
            try:
                doc = json.loads(data)
            except ValueError:
                continue
            self.catalog.record_manifest(
                seq, info.key, sha256_hex(data), doc.get("run_id"), doc.get("kind"),
                ((entry[0], entry[1]) for entry in doc.get("records", [])),
            )  # fmt: skip
            new += 1
        return new

    # -- blobs -------------------------------------------------------------------------------------

    def put_blob(
        self, source: bytes | BinaryIO, *, media_type: str, retention_class: str | None = None
    ) -> BlobRef:
        """Store bytes content-addressed by SHA-256. Streams: memory stays flat for any size.

        Under a lifecycle policy a blob without a named class is locked provisionally (until the
        exclusion window has passed); ``capstone retention run`` extends it later."""
        retention = self.retention.for_blob(retention_class)
        if isinstance(source, bytes | bytearray | memoryview):
            data = bytes(source)
            sha = sha256_hex(data)
            key = layout.blob_key(sha)
            created = self._put_small(key, data, media_type, retention, sha256=sha)  # put-if-absent
            return BlobRef(sha, len(data), key, created)
        return self._put_stream(source, media_type, retention)

    def put_blobs(
        self, sources: Sequence[bytes], *, media_type: str, retention_class: str | None = None
    ) -> list[BlobRef]:
        """Store many blobs as one group commit (the bulk importers' path); a ref per source, in
        order, returned only once *every* blob of the batch is durable in the store.

        The local backend writes the batch without an fsync per blob, makes it durable with one
        sync, and only then links the blobs to their keys (see :meth:`vault.local.LocalStore.put_many`):
        no blob is ever visible under its key before its bytes are durable. On S3 each PUT is durable
        when it returns. Write the records that reference the blobs after this returns."""
        if not sources:
            return []
        retention = self.retention.for_blob(retention_class)
        datas = [bytes(source) for source in sources]
        # Once per blob (the key, the store's check and the record use this one hash), in threads:
        # hashlib releases the GIL on large buffers.
        # One task per thread over a contiguous share (not a task per blob).
        step = -(-len(datas) // HASH_THREADS)
        shares = [datas[start : start + step] for start in range(0, len(datas), step)]
        shas = [sha for share in self._hash_pool().map(_hash_all, shares) for sha in share]
        items = [
            BatchItem(layout.blob_key(sha), data, sha, media_type, retention)
            for sha, data in zip(shas, datas, strict=True)
        ]
        results = self.store.put_many(items)
        return [
            BlobRef(item.sha256, len(item.data), item.key, result.created)
            for item, result in zip(items, results, strict=True)
        ]

    def _hash_pool(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(HASH_THREADS, thread_name_prefix="vault-hash")
            return self._pool

    def blob_writer(self, *, media_type: str, retention_class: str | None = None) -> BlobWriter:
        """A writer that spools bytes chunk by chunk (e.g. from an async download), hashing as it
        goes; :meth:`BlobWriter.commit` stores the blob. Use it as a context manager."""
        return BlobWriter(self, media_type=media_type, retention=self.retention.for_blob(retention_class))

    def _put_stream(self, source: BinaryIO, media_type: str, retention: Retention) -> BlobRef:
        with BlobWriter(self, media_type=media_type, retention=retention) as writer:
            for chunk in iter(lambda: source.read(_CHUNK), b""):
                writer.write(chunk)
            return writer.commit()

    def _commit_spool(
        self, path: Path, sha256: str, md5: bytes, size: int, media_type: str, retention: Retention
    ) -> BlobRef:
        key = layout.blob_key(sha256)
        result = self.store.put_file(  # put-if-absent: the store checks for an existing object
            key, path, sha256=sha256, md5=md5, size=size, media_type=media_type, retention=retention
        )
        return BlobRef(sha256, size, key, result.created)

    def _put_small(
        self, key: str, data: bytes, media_type: str, retention: Retention, *, sha256: str | None = None
    ) -> bool:
        # The MD5 is S3's Content-MD5; a store that does not use it is spared hashing it.
        needs_md5 = getattr(self.store, "needs_md5", True)
        md5 = hashlib.md5(data, usedforsecurity=False).digest() if needs_md5 else b""
        result = self.store.put_bytes(
            key, data, sha256=sha256 or sha256_hex(data), md5=md5, media_type=media_type, retention=retention
        )
        return result.created

    def open_blob(self, sha256: str) -> BinaryIO:
        """A stream of a blob's bytes (not verified while streaming; see :meth:`read_blob`)."""
        try:
            return self.store.open(layout.blob_key(sha256))
        except KeyError:
            raise KeyError(f"blob {sha256} is not in the vault") from None

    def read_blob(self, sha256: str) -> bytes:
        """A blob's bytes, verified against its SHA-256 (for small blobs; stream large ones)."""
        data = self._read_all(layout.blob_key(sha256))
        if sha256_hex(data) != sha256:
            raise VaultIntegrityError(f"blob {sha256} does not match its SHA-256: it was altered")
        return data

    def copy_blob_to(self, sha256: str, target: BinaryIO) -> int:
        """Stream a blob into ``target`` verifying its SHA-256; raises VaultIntegrityError on mismatch."""
        digest, size = hashlib.sha256(), 0
        with self.open_blob(sha256) as handle:
            for chunk in iter(lambda: handle.read(_CHUNK), b""):
                digest.update(chunk)
                target.write(chunk)
                size += len(chunk)
        if digest.hexdigest() != sha256:
            raise VaultIntegrityError(f"blob {sha256} does not match its SHA-256: it was altered")
        return size

    def _read_all(self, key: str) -> bytes:
        with self.store.open(key) as handle:
            return handle.read()

    def _read_segment(self, key: str) -> bytes:
        """A segment the catalog knows; a clear integrity error when the vault no longer holds it."""
        try:
            return self._read_all(key)
        except KeyError:
            raise VaultIntegrityError(
                f"segment {key} is missing from the vault {self.store.url}: run `capstone vault verify`"
            ) from None

    # -- records -----------------------------------------------------------------------------------

    def put_records(self, records: Sequence[Record]) -> list[RecordRef]:
        """Write records the vault does not hold yet, packed into one write-once segment.

        Returns a ref for every input record, in order; ``created`` is False for records the vault
        already held (a replay). Records referencing a blob must come after the blob was stored.
        """
        guard = self.records_guard() if self.records_guard is not None else nullcontext(_unnoted)
        with guard as writing_runs, self._write_lock:
            unique: dict[str, Record] = {}
            for record in records:
                unique.setdefault(record.record_id, record)
            known = self.catalog.find_records(list(unique))
            fresh = [r for rid, r in unique.items() if rid not in known]
            new_refs: dict[str, RecordRef] = {}
            if fresh:
                retention_class = self.retention.longest({r.retention_class for r in fresh})
                retention = self.retention.for_class(retention_class)
                until = retention.retain_until.isoformat()
                filled = [
                    r.with_retention(r.retention_class or retention_class, r.retain_until or until)
                    for r in fresh
                ]
                lines = [r.canonical_line() for r in filled]
                data = b"\n".join(lines) + b"\n"
                seg_sha = sha256_hex(data)
                seg_key = layout.segment_key(seg_sha)
                writing_runs({_run_of(r.capture) for r in filled})
                self._put_small(seg_key, data, "application/x-ndjson", retention)
                entries = [
                    (r.record_id, sha256_hex(line), r.kind, r.blob_sha256, r.size)
                    for r, line in zip(filled, lines, strict=True)
                ]
                self.catalog.add_segment(seg_key, seg_sha, len(data), entries)
                self.catalog.add_record_runs((r.record_id, _run_of(r.capture)) for r in filled)
                for rid, rsha, kind, blob, _ in entries:
                    new_refs[rid] = RecordRef(rid, rsha, seg_key, kind, blob, created=True)
            refs: list[RecordRef] = []
            for record in records:
                rid = record.record_id
                if rid in new_refs:
                    refs.append(new_refs[rid])
                else:
                    rsha, seg, kind, blob = known[rid]
                    refs.append(RecordRef(rid, rsha, seg, kind, blob, created=False))
            return refs

    def has_record(self, record_id: str) -> bool:
        return self.catalog.record_location(record_id) is not None

    def get_record(self, record_id: str) -> Record | None:
        segment = self.catalog.record_location(record_id)
        if segment is None:
            return None
        for line in self._read_segment(segment).splitlines():
            doc = json.loads(line)
            if doc.get("record_id") == record_id:
                return Record.from_document(doc)
        return None

    def iter_records(self, kind: str | None = None) -> Iterator[Record]:
        """Every record (of ``kind``) the vault holds, segment by segment."""
        for segment in self.catalog.segments_of_kind(kind):
            for line in self._read_segment(segment).splitlines():
                doc = json.loads(line)
                if kind is None or doc.get("kind") == kind:
                    yield Record.from_document(doc)

    # -- anchors -----------------------------------------------------------------------------------

    def put_anchor(self, name: str, data: bytes, *, media_type: str = "application/json") -> bool:
        """Write the small named object ``anchors/<name>`` once (put-if-absent, locked like a
        manifest). True if it was created, False if identical bytes were already there; different
        bytes under the name are a :class:`~vault.errors.VaultConflictError` (nothing is replaced)."""
        return self._put_small(layout.anchor_key(name), data, media_type, self.retention.for_class())

    def iter_anchors(self, prefix: str) -> Iterator[tuple[str, bytes]]:
        """``(name, bytes)`` of every anchor whose name starts with ``prefix``, in name order."""
        start = layout.ANCHOR_PREFIX + prefix
        for info in self.store.list(start):
            try:
                data = self._read_all(info.key)
            except KeyError:
                continue  # removed while listing
            yield info.key[len(layout.ANCHOR_PREFIX) :], data

    # -- manifests ---------------------------------------------------------------------------------

    def write_manifest(
        self,
        run_id: str,
        refs: Sequence[RecordRef] = (),
        *,
        kind: str = "capture-run",
        summary: dict[str, Any] | None = None,
    ) -> ManifestRef:
        """Append a manifest for ``run_id`` listing the records it created, chained to the previous one.

        Listed are the records of ``refs`` and every record no manifest lists yet whose
        ``capture.run_id`` is ``run_id`` (also those this run wrote before it was killed, when it
        resumes under the same id). Records of other runs are never adopted: a record someone slipped
        into the vault stays outside the chain, and ``verify`` reports it. Writers need not keep refs:
        the catalog knows what awaits a manifest (see :meth:`checkpoint`).
        """
        manifest = self._append(run_id, refs, kind=kind, summary=summary, only_if_unlisted=False)
        assert manifest is not None
        return manifest

    def list_unlisted(
        self, run_id: str, *, kind: str, summary: dict[str, Any] | None = None
    ) -> ManifestRef | None:
        """Like :meth:`write_manifest` without refs, but only when records of ``run_id`` are still
        unlisted once the catalog is up to the chain's head (the ``manifest_guard`` brings it there):
        None when the chain already lists them all."""
        return self._append(run_id, (), kind=kind, summary=summary, only_if_unlisted=True)

    def _append(
        self,
        run_id: str,
        refs: Sequence[RecordRef],
        *,
        kind: str,
        summary: dict[str, Any] | None,
        only_if_unlisted: bool,
    ) -> ManifestRef | None:
        guard = self.manifest_guard(self) if self.manifest_guard is not None else nullcontext()
        with self._manifest_lock, guard as confirm:
            pending = {(r.record_id, r.record_sha256, r.segment_key) for r in refs if r.created}
            pending.update(self.catalog.unmanifested(run_id))
            if only_if_unlisted and not pending:
                return None
            created = sorted(pending)
            new_blobs = {r.blob_sha256 for r in refs if r.created and r.blob_sha256}
            blobs = sorted(new_blobs | self.catalog.unmanifested_blobs(run_id))
            for _ in range(_MANIFEST_RETRIES):
                head = self.catalog.head_manifest()
                seq = 1 if head is None else head[0] + 1
                previous = None if head is None else {"seq": head[0], "key": head[1], "sha256": head[2]}
                doc = build_manifest(
                    seq=seq,
                    run_id=run_id,
                    kind=kind,
                    created_at=_now().isoformat(),
                    host=socket.gethostname(),
                    previous=previous,
                    records=[list(entry) for entry in created],
                    blobs=blobs,
                    summary=summary or {},
                )
                data = canonical_json(doc)
                key = layout.manifest_key(seq)
                if confirm is not None:
                    confirm()
                try:
                    self._put_small(key, data, "application/json", self.retention.for_class())
                except VaultConflictError:
                    # Another writer took this sequence number (or our own earlier attempt, whose
                    # catalog update failed): follow it, and list only what it did not list.
                    self.sync_catalog()
                    still = {entry[0] for entry in self.catalog.unmanifested()}
                    created = [entry for entry in created if entry[0] in still]
                    continue
                sha = sha256_hex(data)
                self.catalog.record_manifest(seq, key, sha, run_id, kind, ((e[0], e[1]) for e in created))
                return ManifestRef(seq, key, sha, run_id, len(created))
        raise VaultError("could not append a manifest: the chain head kept moving (too many writers)")

    def checkpoint(self, run_id: str, *, threshold: int = CHECKPOINT_RECORDS) -> ManifestRef | None:
        """Append a ``checkpoint`` manifest once ``threshold`` records await one.

        A long run calls this after each batch, so no manifest (and no writer's memory) grows with
        the size of a mailbox: a 200,000-item run becomes a chain of bounded manifests ending in the
        run's own manifest with its summary.
        """
        if self.catalog.unmanifested_count(run_id) < threshold:
            return None
        return self.write_manifest(run_id, kind="checkpoint", summary={"checkpoint_of": run_id})

    def close_interrupted_runs(
        self, refs: Sequence[RecordRef], *, run_id: str, prefix: str
    ) -> list[ManifestRef]:
        """Give the runs that were killed before their own manifest one now, listing what they wrote.

        A rerun that meets records it did not create (``refs`` not ``created``) whose run, named
        ``prefix``…, has records no manifest lists, closes that run with an ``interrupted-run``
        manifest under the run's own id (never adopting them into ``run_id``), so ``verify`` finds
        every record in the chain. Only runs the rerun itself met are closed.
        """
        known = [r.record_id for r in refs if not r.created]
        runs = self.catalog.unlisted_runs_of(known, prefix=prefix) - {run_id} if known else set()
        return [
            self.write_manifest(run, kind="interrupted-run", summary={"closed_by": run_id})
            for run in sorted(runs)
        ]

    def read_manifest(self, key: str) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(self._read_all(key))
        return doc

    # -- reporting ---------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        prefixes = {
            "blobs": layout.BLOB_PREFIX,
            "segments": layout.SEGMENT_PREFIX,
            "manifests": layout.MANIFEST_PREFIX,
        }
        objects: dict[str, dict[str, int]] = {}
        for name, prefix in prefixes.items():
            count = size = 0
            for info in self.store.list(prefix):
                count += 1
                size += info.size
            objects[name] = {"objects": count, "bytes": size}
        return {
            "vault": self.store.url,
            "worm": self.worm,
            "notes": list(self.store.capabilities.notes),
            "objects": sum(v["objects"] for v in objects.values()),
            "bytes": sum(v["bytes"] for v in objects.values()),
            "by_prefix": objects,
            "records_by_kind": self.catalog.records_by_kind(),
            "runs": self.catalog.runs_by_kind(),
            "retention_classes": dict(self.retention.years_by_class),
            # keys two processes both wrote, as the store's last listing of its keys showed them
            "second_versions": self.catalog.second_versions(),
        }


class BlobWriter:
    """Spools a blob while hashing it; nothing is in the vault until :meth:`commit` returns.

    The first :data:`SPOOL_IN_MEMORY` bytes stay in memory, so a typical message costs no temporary
    file; a larger blob spills to a file in the store's staging directory and memory stays flat.
    Leaving the ``with`` block without committing discards the spool."""

    def __init__(self, vault: Vault, *, media_type: str, retention: Retention) -> None:
        self._vault = vault
        self.media_type = media_type
        self._retention = retention
        self._buffer: bytearray | None = bytearray()
        self._path: Path | None = None
        self._file: BinaryIO | None = None
        self._sha = hashlib.sha256()
        # S3's Content-MD5, computed only for a store that sends it (as _put_small does)
        self._md5 = hashlib.md5(usedforsecurity=False) if getattr(vault.store, "needs_md5", True) else None
        self.size = 0

    def _spill(self) -> None:
        staging = self._vault.store.staging_dir()
        try:
            fd, name = tempfile.mkstemp(prefix=".tmp-", dir=staging)
        except OSError as exc:
            raise VaultWriteError(
                f"could not spool a blob in {staging}: {exc.strerror or exc}; nothing was written"
            ) from exc
        self._path = Path(name)
        self._file = os.fdopen(fd, "wb")
        assert self._buffer is not None
        self._file.write(self._buffer)
        self._buffer = None

    def write(self, chunk: bytes) -> None:
        self._sha.update(chunk)
        if self._md5 is not None:
            self._md5.update(chunk)
        self.size += len(chunk)
        try:
            if self._buffer is not None:
                self._buffer += chunk
                if len(self._buffer) > SPOOL_IN_MEMORY:
                    self._spill()
                return
            assert self._file is not None
            self._file.write(chunk)
        except OSError as exc:
            self.discard()
            raise VaultWriteError(
                f"could not spool a blob: {exc.strerror or exc}; nothing was written"
            ) from exc

    def _md5_digest(self) -> bytes:
        return self._md5.digest() if self._md5 is not None else b""

    def commit(self) -> BlobRef:
        sha256 = self._sha.hexdigest()
        key = layout.blob_key(sha256)
        if self._buffer is not None:
            data = bytes(self._buffer)
            self._buffer = None
            result = self._vault.store.put_bytes(
                key, data, sha256=sha256, md5=self._md5_digest(), media_type=self.media_type,
                retention=self._retention,
            )  # fmt: skip
            return BlobRef(sha256, len(data), key, result.created)
        assert self._file is not None and self._path is not None
        try:
            self._file.close()
            return self._vault._commit_spool(
                self._path, sha256, self._md5_digest(), self.size, self.media_type, self._retention
            )
        finally:
            self._path.unlink(missing_ok=True)

    def discard(self) -> None:
        self._buffer = None
        if self._file is not None and not self._file.closed:
            self._file.close()
        if self._path is not None:
            self._path.unlink(missing_ok=True)

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.discard()


def _hash_all(datas: Sequence[bytes]) -> list[str]:
    return [sha256_hex(data) for data in datas]


def _segment_entries(data: bytes) -> list[tuple[str, str, str, str | None, int | None]]:
    entries = []
    for line in data.splitlines():
        if not line:
            continue
        doc = json.loads(line)
        entries.append(
            (doc["record_id"], sha256_hex(line), doc["kind"], doc.get("blob_sha256"), doc.get("size"))
        )
    return entries


def _run_of(capture: dict[str, Any] | None) -> str:
    run = (capture or {}).get("run_id")
    return run if isinstance(run, str) else ""


def _segment_runs(data: bytes) -> list[tuple[str, str]]:
    """``(record_id, run_id)`` of every record line in a segment."""
    runs = []
    for line in data.splitlines():
        if not line:
            continue
        doc = json.loads(line)
        runs.append((doc["record_id"], _run_of(doc.get("capture"))))
    return runs
