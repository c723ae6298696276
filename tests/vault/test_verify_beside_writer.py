"""``vault verify`` beside a capture that keeps writing (``capture run --continuous``): it judges one
snapshot, so what is written while it runs is never reported missing or outside the chain."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.vault.conftest import VaultFactory
from vault.verify import verify_vault

REPO = Path(__file__).resolve().parents[2]

_WRITER = r"""
import sys
from pathlib import Path
from vault import Record, RetentionPolicy, open_vault

url, cache, stop = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
vault = open_vault(url, cache_dir=cache, staging_dir=cache / "staging", retention=RetentionPolicy())
n = 0
while not stop.exists():
    n += 1
    run = f"run-{n}"
    (cache / "current.tmp").write_text(run)  # the run in progress, as a state database would say
    (cache / "current.tmp").replace(cache / "current")
    blob = vault.put_blob(f"bericht {n}".encode() * 50, media_type="message/rfc822")
    record = Record(
        kind="mail-message",
        source={"system": "test", "mailbox": "a@example.org", "item_id": f"item-{n}", "folder_path": "Inbox"},
        capture={"run_id": run, "connector": "test", "connector_version": "0",
                 "captured_at": "2026-11-22T00:00:00Z"},
        blob_sha256=blob.sha256, size=blob.size, media_type="message/rfc822",
    )
    vault.write_manifest(run, vault.put_records([record]))
    print(n, flush=True)
"""


@pytest.mark.slow
def test_verify_beside_a_writer_judges_one_snapshot(
    make_vault: VaultFactory, vault_url: str, tmp_path: Path
) -> None:
    make_vault().close()
    stop = tmp_path / "stop"
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, vault_url, str(tmp_path / "cache"), str(stop)],
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None
        for _ in range(3):  # a few manifests first
            assert writer.stdout.readline().strip()
        vault = make_vault(create=False)  # the same host: the catalog the writer keeps up to date
        overlapped, deadline = 0, time.monotonic() + 120
        while overlapped < 3:  # until three runs of verify overlapped with new manifests
            assert time.monotonic() < deadline, "the writer appended no manifests while verify ran"
            before = vault.catalog.max_manifest_seq_seen()
            report = verify_vault(
                vault, runs_in_progress=lambda: {(tmp_path / "cache" / "current").read_text()}
            )
            after = vault.catalog.max_manifest_seq_seen()
            overlapped += after > before
            assert report.all_well, report.to_json()
            assert report.manifests >= before and report.records >= report.manifests
    finally:
        stop.touch()
        writer.communicate(timeout=120)
    assert writer.returncode == 0
    final = verify_vault(make_vault(create=False, cache="afterwards"))
    assert final.all_well and final.records_after_snapshot == 0 and final.unlisted == []
