"""``verify``: re-read objects, recompute SHA-256, walk the manifest chain.

What it proves:

* every blob's bytes hash to the SHA-256 in its key (all blobs, or a random sample of ``sample``);
* every segment hashes to its key, and every record line in it is well-formed;
* manifests form an unbroken chain: sequence numbers without gaps (up to the highest ever seen by
  this catalog), each one's ``previous.sha256`` equal to the SHA-256 of the manifest before it;
* every record a manifest lists is present with the same SHA-256, and every blob a record
  references exists;
* every record in a segment is listed by a manifest: a record no manifest lists (one slipped into
  the vault by someone with write access, or one of a killed run that has not resumed yet) is
  reported in ``unlisted``, with whether a manifest of its run exists at all.

Every problem is reported with the key that has it; nothing is repaired. A key with more than one
version (two writers in different processes raced for it; the store keeps the oldest) is reported in
``second_versions``.

``verify`` judges one snapshot, so it can run beside a capture that keeps writing: the manifests are
listed once (after reading the highest sequence number the catalog has seen, so a manifest removed
from the end of the chain is still missed), the chain is judged up to the highest of that listing, and
segments and blobs are listed after it (everything a manifest lists was written before it). Only the
records of segments that existed before the snapshot are judged for being listed by a manifest; a
manifest written while ``verify`` ran counts for them too, and later records wait for the next run.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import deque
from collections.abc import Callable, Collection, Generator, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

from vault import layout
from vault.records import sha256_hex
from vault.removals import accounted_removals
from vault.vault import Vault

ProgressCallback = Callable[[int, int, str], None]
_CHUNK = 1 << 20
# Objects read at once: against S3 each read is a round trip, so one at a time would leave the server
# idle. Results are still judged one by one, in key order; at most this many are held.
READERS = 16


_K = TypeVar("_K")
_R = TypeVar("_R")


def _read_ahead(
    read: Callable[[_K], _R], keys: Iterable[_K], readers: int
) -> Generator[tuple[_K, _R | KeyError], None, None]:
    """``(key, read(key))`` in the order of ``keys``, up to ``readers`` reads in flight; a missing
    object (KeyError) is yielded as such, any other error raised in order."""

    def attempt(key: _K) -> _R | KeyError:
        try:
            return read(key)
        except KeyError as exc:
            return exc

    with ThreadPoolExecutor(max(readers, 1), thread_name_prefix="verify-read") as pool:
        window: deque[tuple[_K, Future[_R | KeyError]]] = deque()
        try:
            for key in keys:
                window.append((key, pool.submit(attempt, key)))
                if len(window) >= readers:
                    done_key, future = window.popleft()
                    yield done_key, future.result()
            while window:
                done_key, future = window.popleft()
                yield done_key, future.result()
        finally:
            for _, future in window:
                future.cancel()


@dataclass
class VerifyReport:
    vault: str
    worm: bool
    checked: int = 0
    ok: int = 0
    corrupted: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    chain_breaks: list[dict[str, Any]] = field(default_factory=list)
    blobs_checked: int = 0
    blobs_total: int = 0
    segments: int = 0
    records: int = 0
    manifests: int = 0
    unreferenced_blobs: int = 0
    sampled: bool = False
    removed_with_record: int = 0  # blobs absent, accounted for by an exclusion or destruction record
    unlisted: list[dict[str, Any]] = field(default_factory=list)  # records outside the chain
    second_versions: list[dict[str, Any]] = field(default_factory=list)  # keys written twice
    records_after_snapshot: int = 0  # records of segments written after the snapshot (judged next time)
    in_progress: dict[str, int] = field(default_factory=dict)  # run -> its records awaiting a manifest

    @property
    def all_well(self) -> bool:
        return not (self.corrupted or self.missing or self.chain_breaks or self.unlisted)

    def to_json(self) -> dict[str, Any]:
        document = asdict(self)
        document["all_well"] = self.all_well
        return document


def _hash_stream(vault: Vault, key: str) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with vault.store.open(key) as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def verify_vault(
    vault: Vault,
    *,
    sample: int | None = None,
    progress: ProgressCallback | None = None,
    runs_in_progress: Callable[[], Collection[str]] | None = None,
) -> VerifyReport:
    """Verify the vault (see the module's docstring). ``runs_in_progress``: asked after the snapshot,
    the runs still writing (e.g. the capture runs the state database holds open); their records no
    manifest lists yet are counted in ``in_progress``, not reported as outside the chain."""
    report = VerifyReport(vault=vault.store.url, worm=vault.worm)
    # One snapshot (see the module's docstring): the order of these listings matters.
    highest_seen = vault.catalog.max_manifest_seq_seen()
    settled = {info.key for info in vault.store.list(layout.SEGMENT_PREFIX)}
    manifest_infos = list(vault.store.list(layout.MANIFEST_PREFIX))
    segment_infos = list(vault.store.list(layout.SEGMENT_PREFIX))
    blob_infos = list(vault.store.list(layout.BLOB_PREFIX))
    known_manifests = vault.catalog.known_manifests()
    blob_keys = [info.key for info in blob_infos]
    segment_keys = [info.key for info in segment_infos]
    manifest_keys = [info.key for info in manifest_infos]
    report.second_versions = [
        {"key": info.key, "versions": info.versions}
        for info in (*blob_infos, *segment_infos, *manifest_infos)
        if info.versions > 1
    ]
    report.blobs_total = len(blob_keys)
    present_blobs = {layout.sha_of_blob_key(k) for k in blob_keys}

    to_check = blob_keys
    if sample is not None and sample < len(blob_keys):
        to_check = sorted(random.sample(blob_keys, sample))
        report.sampled = True
    total = len(to_check) + len(segment_keys) + len(manifest_keys)
    done = 0

    def tick(key: str) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total, key)

    def corrupt(key: str) -> None:
        report.corrupted.append(key)

    def read_bytes(key: str) -> bytes:
        with vault.store.open(key) as handle:
            return handle.read()

    # 1. blobs
    for key, hashed in _read_ahead(lambda k: _hash_stream(vault, k), to_check, READERS):
        report.checked += 1
        expected = layout.sha_of_blob_key(key)
        if isinstance(hashed, KeyError):
            report.missing.append(key)
            tick(key)
            continue
        actual, _ = hashed
        if actual != expected:
            corrupt(key)
        else:
            report.ok += 1
        report.blobs_checked += 1
        tick(key)

    # 2. segments and their records
    records: dict[str, set[str]] = {}  # record_id -> sha256 of its lines
    lines: list[_Line] = []  # every record line, for the check that a manifest lists it
    referenced_blobs: set[str] = set()
    for key, read in _read_ahead(read_bytes, segment_keys, READERS):
        report.checked += 1
        expected = layout.sha_of_segment_key(key)
        if isinstance(read, KeyError):
            report.missing.append(key)
            tick(key)
            continue
        data = read
        if expected is None or sha256_hex(data) != expected:
            corrupt(key)
            tick(key)
            continue
        well_formed = True
        for line in data.splitlines():
            try:
                doc = json.loads(line)
                record_id = doc["record_id"]
            except (ValueError, KeyError, TypeError):
                well_formed = False
                continue
            records.setdefault(record_id, set()).add(sha256_hex(line))
            lines.append(_Line(key, record_id, sha256_hex(line), _run_of(doc)))
            if doc.get("blob_sha256"):
                referenced_blobs.add(doc["blob_sha256"])
            report.records += 1
        if well_formed:
            report.ok += 1
        else:
            corrupt(key)
        report.segments += 1
        tick(key)

    # 3. the manifest chain
    by_seq: dict[int, str] = {}
    for key in manifest_keys:
        seq = layout.seq_of_manifest_key(key)
        if seq is not None:
            by_seq[seq] = key
    highest = max([*by_seq, highest_seen], default=0)
    previous_sha: str | None = None
    previous_seq = 0
    listed: set[tuple[str, str]] = set()  # (record_id, record_sha256) some manifest lists
    runs: set[str] = set()  # run ids that have a manifest
    manifest_reads = _read_ahead(
        read_bytes, [by_seq[seq] for seq in range(1, highest + 1) if seq in by_seq], READERS
    )
    for seq in range(1, highest + 1):
        key = layout.manifest_key(seq)
        if seq not in by_seq:
            report.missing.append(key)
            report.chain_breaks.append({"seq": seq, "key": key, "reason": "manifest missing"})
            previous_sha = None
            previous_seq = seq
            continue
        report.checked += 1
        read_key, manifest = next(manifest_reads)
        assert read_key == key
        if isinstance(manifest, KeyError):
            raise manifest  # listed a moment ago, gone now: as when read one by one
        data = manifest
        sha = sha256_hex(data)
        try:
            doc = json.loads(data)
            listed_prev = doc.get("previous")
            listed_records = doc["records"]
            if doc.get("seq") != seq:
                raise ValueError("sequence number does not match the key")
        except (ValueError, KeyError, TypeError):
            corrupt(key)
            report.chain_breaks.append({"seq": seq, "key": key, "reason": "manifest unreadable or altered"})
            previous_sha, previous_seq = None, seq
            tick(key)
            continue
        known_sha = known_manifests.get(seq, (key, sha))[1]
        problem = False
        if known_sha != sha:
            corrupt(key)
            problem = True
            report.chain_breaks.append({"seq": seq, "key": key, "reason": "manifest altered since written"})
        if previous_sha is not None and (listed_prev or {}).get("sha256") != previous_sha:
            problem = True
            report.chain_breaks.append(
                {"seq": seq, "key": key, "reason": f"previous hash does not match manifest {previous_seq}"}
            )
            prev_key = layout.manifest_key(previous_seq)
            if prev_key not in report.corrupted:
                corrupt(prev_key)
        if seq == 1 and listed_prev is not None:
            problem = True
            report.chain_breaks.append(
                {"seq": seq, "key": key, "reason": "first manifest names a predecessor"}
            )
        runs.add(str(doc.get("run_id")))
        for record_id, record_sha, segment in listed_records:
            listed.add((record_id, record_sha))
            if record_sha not in records.get(record_id, set()):
                target = segment if segment not in report.corrupted else None
                if target and target not in report.missing:
                    report.missing.append(target)
                problem = True
        if not problem:
            report.ok += 1
        report.manifests += 1
        previous_sha, previous_seq = sha, seq
        tick(key)
    manifest_reads.close()  # every listed manifest was read: its readers end here

    judged = [entry for entry in lines if entry.segment in settled]
    report.records_after_snapshot = len(lines) - len(judged)
    if any((entry.record_id, entry.sha256) not in listed for entry in judged):
        # Asked before the manifests are listed again: a run that ends in between has its manifest
        # in that listing; one that goes on holds its unlisted records legitimately.
        open_runs = set(runs_in_progress()) if runs_in_progress is not None else set()
        listed |= _listed_since(vault, highest, runs)
        for entry in judged:
            if (entry.record_id, entry.sha256) not in listed and entry.run_id in open_runs:
                listed.add((entry.record_id, entry.sha256))
                report.in_progress[entry.run_id] = report.in_progress.get(entry.run_id, 0) + 1
    _check_unlisted(report, judged, listed, runs)

    # 4. blobs referenced by records but absent (unless a removal record accounts for them)
    absent = _unaccounted(vault, report, referenced_blobs - present_blobs)
    for blob_sha in sorted(absent):
        missing_key = layout.blob_key(blob_sha)
        if missing_key not in report.missing:
            report.missing.append(missing_key)
    report.unreferenced_blobs = len(present_blobs - referenced_blobs - {None})
    report.corrupted = sorted(set(report.corrupted))
    report.missing = sorted(set(report.missing))
    return report


def _listed_since(vault: Vault, highest: int, runs: set[str]) -> set[tuple[str, str]]:
    """Records listed by manifests written after the snapshot (beyond ``highest``); their runs join
    ``runs``. Those manifests are judged by the next ``verify``, not by this one."""
    listed: set[tuple[str, str]] = set()
    for info in vault.store.list(layout.MANIFEST_PREFIX):
        seq = layout.seq_of_manifest_key(info.key)
        if seq is None or seq <= highest:
            continue
        try:
            doc = vault.read_manifest(info.key)
            listed.update((str(entry[0]), str(entry[1])) for entry in doc["records"])
            runs.add(str(doc.get("run_id")))
        except (KeyError, ValueError, TypeError, IndexError):
            continue
    return listed


def _unaccounted(vault: Vault, report: VerifyReport, absent: set[str]) -> set[str]:
    """The retention lifecycle (issue 21): a blob missing with an exclusion or destruction record in
    the chain is accounted for; missing without one is still an error."""
    if not absent:
        return absent
    accounted = set(accounted_removals(vault)) & absent
    report.removed_with_record = len(accounted)
    return absent - accounted


@dataclass(frozen=True)
class _Line:
    segment: str
    record_id: str
    sha256: str
    run_id: str


def _run_of(doc: dict[str, Any]) -> str:
    capture = doc.get("capture")
    run = capture.get("run_id") if isinstance(capture, dict) else None
    return run if isinstance(run, str) else ""


def _check_unlisted(
    report: VerifyReport, lines: list[_Line], listed: set[tuple[str, str]], runs: set[str]
) -> None:
    """Report every record line no manifest lists. Object Lock stops overwrites, not additions: a
    blob plus a segment written by hand is only caught here. A record of a run without any manifest
    is either a forgery or a killed run that has not resumed; either way it is outside the chain."""
    for line in lines:
        if (line.record_id, line.sha256) in listed:
            continue
        reason = (
            f"listed by no manifest, and no manifest of its run {line.run_id!r} exists"
            if line.run_id not in runs
            else f"listed by none of the manifests of its run {line.run_id!r}"
        )
        report.unlisted.append(
            {"record_id": line.record_id, "segment": line.segment, "run_id": line.run_id, "reason": reason}
        )
