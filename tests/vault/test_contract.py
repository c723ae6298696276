"""The vault contract: every backend must pass these, on a local directory and on Ceph RGW."""

from __future__ import annotations

import hashlib
import io
import json
import os
from datetime import UTC, datetime, timedelta

import pytest

from tests.vault.conftest import VaultFactory
from vault import Record, VaultConflictError, VaultNotInitialisedError, layout
from vault.records import sha256_hex
from vault.verify import verify_vault


def _record(n: int, blob_sha: str, size: int, run: str = "run-1") -> Record:
    return Record(
        kind="mail-message",
        source={"system": "test", "mailbox": "a@example.org", "item_id": f"item-{n}", "folder_path": "Inbox"},
        capture={
            "run_id": run,
            "connector": "test",
            "connector_version": "0",
            "captured_at": "2026-11-22T00:00:00Z",
        },
        blob_sha256=blob_sha,
        size=size,
        media_type="message/rfc822",
    )


def _object_count(vault_obj: object) -> int:
    store = vault_obj.store  # type: ignore[attr-defined]
    return sum(1 for prefix in ("blobs/", "segments/", "manifests/") for _ in store.list(prefix))


class _ChunkedReader(io.RawIOBase):
    """A stream of ``size`` pseudo-random bytes that is never held in memory whole."""

    def __init__(self, size: int, seed: bytes = b"x") -> None:
        self.remaining = size
        self.block = hashlib.sha256(seed).digest() * 32768  # 1 MiB
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self.remaining, len(self.block))
        if n <= 0:
            return 0
        buffer[:n] = self.block[:n]
        self.digest.update(self.block[:n])
        self.remaining -= n
        return n


def test_open_before_init_is_refused(make_vault: VaultFactory) -> None:
    with pytest.raises(VaultNotInitialisedError, match="vault init"):
        make_vault(create=False)


def test_init_is_idempotent_and_writes_a_descriptor(make_vault: VaultFactory) -> None:
    first = make_vault()
    second = make_vault(cache="other-cache")
    assert first.descriptor == second.descriptor
    assert second.descriptor["format"] == "capstone-vault/1"
    reopened = make_vault(create=False)
    assert reopened.descriptor["created_at"] == first.descriptor["created_at"]


def test_blobs_are_content_addressed_and_stored_once(make_vault: VaultFactory) -> None:
    vault = make_vault()
    data = b"From: a@example.org\r\nSubject: test\r\n\r\nhello\r\n"
    first = vault.put_blob(data, media_type="message/rfc822")
    again = vault.put_blob(io.BytesIO(data), media_type="message/rfc822")
    assert first.created and not again.created
    assert first.sha256 == again.sha256 == sha256_hex(data)
    assert first.key == layout.blob_key(first.sha256)
    assert vault.read_blob(first.sha256) == data
    info = vault.store.head(first.key)
    assert info is not None and info.sha256 == first.sha256 and info.size == len(data)


def test_large_blob_streams_and_reads_back_identical(make_vault: VaultFactory) -> None:
    vault = make_vault()
    source = _ChunkedReader(24 * 1024 * 1024 + 17)
    ref = vault.put_blob(source, media_type="application/octet-stream")  # type: ignore[arg-type]
    assert ref.size == 24 * 1024 * 1024 + 17
    assert ref.sha256 == source.digest.hexdigest()
    sink = hashlib.sha256()

    class _Sink(io.RawIOBase):
        def write(self, b: bytes) -> int:  # type: ignore[override]
            sink.update(b)
            return len(b)

    assert vault.copy_blob_to(ref.sha256, _Sink()) == ref.size  # type: ignore[arg-type]
    assert sink.hexdigest() == ref.sha256


def test_objects_carry_retention_of_their_class(make_vault: VaultFactory) -> None:
    vault = make_vault()
    ref = vault.put_blob(b"retained", media_type="text/plain")
    info = vault.store.head(ref.key)
    assert info is not None and info.retain_until is not None
    expected = datetime.now(UTC) + timedelta(days=365 * 10)
    assert abs((info.retain_until - expected).total_seconds()) < 3 * 86400


def test_replaying_records_writes_nothing_new(make_vault: VaultFactory) -> None:
    vault = make_vault()
    blobs = [vault.put_blob(f"message {n}".encode(), media_type="message/rfc822") for n in range(5)]
    records = [_record(n, b.sha256, b.size) for n, b in enumerate(blobs)]
    refs = vault.put_records(records)
    assert all(r.created for r in refs)
    assert len({r.segment_key for r in refs}) == 1  # one PUT for the batch
    vault.write_manifest("run-1", refs, summary={"items": 5})
    before = _object_count(vault)

    # Same process, replay in a later run: same record ids, nothing written.
    replay = vault.put_records([_record(n, b.sha256, b.size, run="run-2") for n, b in enumerate(blobs)])
    assert [r.record_id for r in replay] == [r.record_id for r in refs]
    assert not any(r.created for r in replay)
    # Another host with an empty catalog: it syncs from the store and still writes nothing.
    other = make_vault(create=False, cache="host-b")
    replay2 = other.put_records([_record(n, b.sha256, b.size, run="run-3") for n, b in enumerate(blobs)])
    assert not any(r.created for r in replay2)
    assert _object_count(vault) == before
    # The first capture wins: the stored record names run-1.
    stored = other.get_record(refs[0].record_id)
    assert stored is not None and stored.capture["run_id"] == "run-1"


def test_records_are_individually_verifiable(make_vault: VaultFactory) -> None:
    vault = make_vault()
    blob = vault.put_blob(b"item", media_type="text/plain")
    (ref,) = vault.put_records([_record(1, blob.sha256, blob.size)])
    manifest = vault.write_manifest("run-1", [ref])
    doc = vault.read_manifest(manifest.key)
    assert doc["records"] == [[ref.record_id, ref.record_sha256, ref.segment_key]]
    with vault.store.open(ref.segment_key) as handle:
        lines = handle.read().splitlines()
    (line,) = [ln for ln in lines if json.loads(ln)["record_id"] == ref.record_id]
    assert sha256_hex(line) == ref.record_sha256
    record = vault.get_record(ref.record_id)
    assert record is not None and record.retain_until is not None and record.retention_class


def test_manifests_form_a_hash_chain(make_vault: VaultFactory) -> None:
    vault = make_vault()
    shas = []
    for run in range(3):
        blob = vault.put_blob(f"run {run}".encode(), media_type="text/plain")
        refs = vault.put_records([_record(run, blob.sha256, blob.size, run=f"run-{run}")])
        shas.append(vault.write_manifest(f"run-{run}", refs))
    assert [m.seq for m in shas] == [1, 2, 3]
    third = vault.read_manifest(shas[2].key)
    assert third["previous"]["sha256"] == shas[1].sha256
    with vault.store.open(shas[1].key) as handle:
        assert sha256_hex(handle.read()) == shas[1].sha256
    report = verify_vault(vault)
    assert report.all_well, report.to_json()
    assert report.manifests == 3 and report.records == 3 and report.blobs_checked == 3
    # A second host continues the same chain.
    other = make_vault(create=False, cache="host-b")
    fourth = other.write_manifest("run-4", [])
    assert fourth.seq == 4 and other.read_manifest(fourth.key)["previous"]["sha256"] == shas[2].sha256


def test_different_bytes_under_an_existing_key_are_refused(make_vault: VaultFactory) -> None:
    vault = make_vault()
    ref = vault.put_blob(b"original", media_type="text/plain")
    forged = b"forged!!"
    retention = vault.retention.for_class()
    md5 = hashlib.md5(forged, usedforsecurity=False).digest()
    with pytest.raises(VaultConflictError, match=r"never overwrites|different"):
        vault.store.put_bytes(
            ref.key, forged, sha256=sha256_hex(forged), md5=md5, media_type="text/plain", retention=retention
        )
    assert vault.read_blob(ref.sha256) == b"original"


def test_stats_count_records_by_kind_and_runs(make_vault: VaultFactory) -> None:
    vault = make_vault()
    blob = vault.put_blob(b"x", media_type="text/plain")
    refs = vault.put_records([_record(1, blob.sha256, blob.size)])
    vault.write_manifest("run-1", refs, kind="capture-run")
    stats = vault.stats()
    assert stats["records_by_kind"] == {"mail-message": 1}
    assert stats["runs"] == {"capture-run": 1}
    assert stats["by_prefix"]["blobs"]["objects"] == 1
    assert stats["worm"] == vault.store.url.startswith("s3://")


def test_staging_leaves_nothing_behind(make_vault: VaultFactory) -> None:
    vault = make_vault()
    vault.put_blob(io.BytesIO(b"a" * 3_000_000), media_type="application/octet-stream")
    staging = vault.store.staging_dir()
    assert [p for p in os.listdir(staging) if not p.startswith(".")] == []
    assert [p for p in os.listdir(staging) if p.startswith(".tmp")] == []


def test_records_of_a_killed_run_join_only_its_own_manifest_when_it_resumes(make_vault: VaultFactory) -> None:
    crashed = make_vault()
    blob = crashed.put_blob(b"written before the crash", media_type="text/plain")
    (ref,) = crashed.put_records([_record(7, blob.sha256, blob.size, run="run-killed")])
    # The process dies here, before its manifest. A new process (fresh catalog) runs another run:
    survivor = make_vault(create=False, cache="after-restart")
    other = survivor.write_manifest("run-next", [])
    assert survivor.read_manifest(other.key)["records"] == []  # never adopted by another run
    report = verify_vault(survivor)
    assert not report.all_well
    assert [(u["record_id"], u["run_id"]) for u in report.unlisted] == [(ref.record_id, "run-killed")]
    assert "no manifest of its run" in report.unlisted[0]["reason"]
    # The killed run resumes under its own id: its manifest lists the record, once.
    resumed = survivor.write_manifest("run-killed", [])
    listed = {entry[0] for entry in survivor.read_manifest(resumed.key)["records"]}
    assert listed == {ref.record_id}
    assert blob.sha256 in survivor.read_manifest(resumed.key)["blobs"]
    again = survivor.write_manifest("run-killed", [])
    assert survivor.read_manifest(again.key)["records"] == []
    assert verify_vault(survivor).all_well


def test_blob_writer_commits_or_leaves_nothing(make_vault: VaultFactory) -> None:
    vault = make_vault()
    with vault.blob_writer(media_type="message/rfc822") as writer:
        for part in (b"From: a\r\n", b"\r\n", b"body\r\n"):
            writer.write(part)
        ref = writer.commit()
    assert vault.read_blob(ref.sha256) == b"From: a\r\n\r\nbody\r\n"
    with vault.blob_writer(media_type="message/rfc822") as abandoned:
        abandoned.write(b"half a message")  # never committed: e.g. the download was cut off
    assert [i.key for i in vault.store.list("blobs/")] == [ref.key]
    assert [p for p in os.listdir(vault.store.staging_dir()) if p.startswith(".tmp")] == []


def test_checkpoints_bound_manifests_and_list_every_record_once(make_vault: VaultFactory) -> None:
    vault = make_vault()
    written: list[str] = []
    checkpoints = []
    for batch in range(5):  # a long run, batch by batch, keeping no refs of its own
        blobs = [vault.put_blob(f"m {batch}.{n}".encode(), media_type="text/plain") for n in range(3)]
        refs = vault.put_records([_record(batch * 3 + n, b.sha256, b.size) for n, b in enumerate(blobs)])
        written += [r.record_id for r in refs]
        checkpoint = vault.checkpoint("run-1", threshold=4)
        if checkpoint is not None:
            checkpoints.append(checkpoint)
    final = vault.write_manifest("run-1", summary={"items": 15})
    assert [c.record_count for c in checkpoints] == [6, 6]  # 3, 6 -> cut; 9, 12 -> cut; 15 waits
    assert final.record_count == 3
    listed = []
    for ref in [*checkpoints, final]:
        doc = vault.read_manifest(ref.key)
        listed += [entry[0] for entry in doc["records"]]
        assert len(doc["blobs"]) == len(doc["records"])  # every record here brought its own blob
    assert sorted(listed) == sorted(written)  # each record in exactly one manifest
    assert vault.read_manifest(checkpoints[0].key)["kind"] == "checkpoint"
    assert vault.checkpoint("run-1", threshold=1) is None  # nothing awaits a manifest
    report = verify_vault(vault)
    assert report.all_well, report.to_json()
    assert report.manifests == 3 and report.records == 15
