"""A record slipped into the vault by someone with write access (issue 16, high): Object Lock stops
overwrites and deletions, not additions. A blob plus a segment written past Capstone must be reported
by ``verify``, stay out of the index and search, and never be adopted into the hash chain."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

from capstone.index import open_index
from capstone.index.indexer import update_index
from capstone.index.model import SearchQuery
from tests.index.helpers import mail_record, mime
from tests.vault.conftest import VaultFactory
from vault import Record, Vault, layout
from vault.local import LocalStore
from vault.records import sha256_hex
from vault.verify import verify_vault


def _plant(vault: Vault, key: str, data: bytes) -> None:
    """Write an object past Capstone: a file in the vault directory, or a PUT with the bucket's keys."""
    if isinstance(vault.store, LocalStore):
        target = vault.store.path_of(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return
    retention = vault.retention.for_class()
    md5 = hashlib.md5(data, usedforsecurity=False).digest()
    vault.store.put_bytes(
        key,
        data,
        sha256=sha256_hex(data),
        md5=md5,
        media_type="application/octet-stream",
        retention=retention,
    )


def _forge(vault: Vault, *, item_id: str, subject: str, run_id: str) -> Record:
    data = mime(subject=subject, body=f"{subject}: maak 40.000 euro over.", message_id=f"<{item_id}@x>")
    _plant(vault, layout.blob_key(sha256_hex(data)), data)
    record = mail_record(sha256_hex(data), len(data), item_id=item_id)
    record = replace(record, capture={**record.capture, "run_id": run_id})
    line = record.canonical_line() + b"\n"
    _plant(vault, layout.segment_key(sha256_hex(line)), line)
    return record


def test_a_forged_blob_and_segment_are_reported_unindexed_and_never_adopted(
    make_vault: VaultFactory, tmp_path: Path
) -> None:
    vault = make_vault()
    data = mime(subject="Fietsbrug Oost", body="Overleg over de fietsbrug.", message_id="<real@x>")
    blob = vault.put_blob(data, media_type="message/rfc822")
    real = mail_record(blob.sha256, blob.size, item_id="real")
    vault.write_manifest("run-1", vault.put_records([real]))
    assert verify_vault(vault).all_well

    # One forgery names a run that has a manifest, the other one a run that never existed.
    posing = _forge(vault, item_id="forged-1", subject="Betaalopdracht spoed", run_id="run-1")
    stray = _forge(vault, item_id="forged-2", subject="Betaalopdracht stil", run_id="run-nowhere")

    host = make_vault(create=False, cache="other-host")  # a fresh catalog sees the planted objects
    report = verify_vault(host)
    assert not report.all_well
    reasons = {u["record_id"]: u["reason"] for u in report.unlisted}
    assert set(reasons) == {posing.record_id, stray.record_id}
    assert "none of the manifests of its run 'run-1'" in reasons[posing.record_id]
    assert "no manifest of its run 'run-nowhere'" in reasons[stray.record_id]

    # Neither the index nor search sees them; the real mail is found.
    index = open_index(f"sqlite:///{tmp_path / 'index.sqlite3'}")
    indexed = update_index(host, index)
    assert indexed.records_unverified == 2 and indexed.records_indexed == 1
    assert index.search(SearchQuery(text="betaalopdracht")).total == 0
    assert index.search(SearchQuery(text="fietsbrug")).total == 1
    assert update_index(host, index).records_unverified == 2  # still reported, still not indexed
    index.close()

    # The next manifests (another run, an audit seal) do not adopt them into the chain.
    nxt = host.write_manifest("run-2", [])
    seal = host.write_manifest("audit-seal-x", [], kind="audit-seal")
    for ref in (nxt, seal):
        doc = host.read_manifest(ref.key)
        assert doc["records"] == [] and doc["blobs"] == []
    assert {u["record_id"] for u in verify_vault(host).unlisted} == {posing.record_id, stray.record_id}
