"""An export killed with ``kill -9`` leaves its partial folder (``.<out>.partial-<pid>-…``) beside
``--out``; the next export removes it, names it in its report and its audit entry, and leaves the
partial folder of an export that is still being written (its process alive) alone (issue 15)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

from capstone.access import Actor
from capstone.audit.log import AuditLog
from capstone.index import open_index
from capstone.index.indexer import update_index
from capstone.index.model import SearchQuery
from capstone.services import open_vault, state_engine
from capstone.settings import Settings
from capstone.woo.scope import CaseScope
from capstone.woo.service import WooService
from tests.index.helpers import mail_record, mime

OFFICIAL = "Marieke van Dalen"  # the official of tests.index.helpers' mayor

KILLED_EXPORT = """
import os, signal, sys, tempfile
staging = tempfile.mkdtemp(prefix=f".{sys.argv[2]}.partial-{os.getpid()}-", dir=sys.argv[1])
os.makedirs(os.path.join(staging, "documents", "00001"))
with open(os.path.join(staging, "documents", "00001", "00001.eml"), "wb") as half:
    half.write(b"Subject: half written")
    half.flush()
    print(staging, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
"""


def _indexed_mail(settings: Settings) -> None:
    vault = open_vault(settings, create=True)
    try:
        data = mime(subject="Fietsbrug", body="Over de fietsbrug.", message_id="<stale-1@test>")
        blob = vault.put_blob(data, media_type="message/rfc822")
        record = mail_record(blob.sha256, blob.size, item_id="item-1")
        record = replace(record, capture={**record.capture, "captured_at": datetime.now(UTC).isoformat()})
        vault.write_manifest("t", vault.put_records([record]))
        index = open_index(settings.search_index_url)
        try:
            update_index(vault, index)
            index.mark_completed(datetime.now(UTC))
        finally:
            index.close()
    finally:
        vault.close()


def test_the_next_export_removes_what_a_killed_export_left(settings: Settings, tmp_path: Path) -> None:
    _indexed_mail(settings)
    exports = tmp_path / "exports"
    exports.mkdir()
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_EXPORT, str(exports), "export-1"], capture_output=True, text=True
    )
    assert killed.returncode == -signal.SIGKILL
    left = Path(killed.stdout.strip())
    assert left.is_dir() and left.name.startswith(".export-1.partial-")
    busy = exports / f".export-9.partial-{os.getpid()}-busy"  # an export this (live) process writes
    busy.mkdir()

    woo = WooService(settings.model_copy(update={"user": "wim", "roles": {"wim": ["woo-officer"]}}),
                     Actor("wim", frozenset({"woo-officer"})))  # fmt: skip
    woo.open_case(ref="WOO-2026-15", received=date(2026, 11, 1), subject="fietsbrug",
                  scope=CaseScope(officials=(OFFICIAL,)))  # fmt: skip
    report = woo.export("WOO-2026-15", exports / "export-2", SearchQuery(text="fietsbrug"))
    assert report.documents == 1 and report.stale_removed == [str(left)]
    assert not left.exists() and busy.is_dir()
    assert sorted(p.name for p in exports.iterdir()) == [busy.name, "export-2"]
    entry = [e for e in AuditLog(state_engine(settings)).entries() if e.action == "export"][-1]
    assert entry.detail["stale_partials_removed"] == [str(left)]
    assert woo.verify_export(exports / "export-2").ok
