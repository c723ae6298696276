"""A capture worker stopped while it holds the manifest chain (issue 20): the others go on.

A worker appends a manifest holding the chain head's row lock (``FOR UPDATE``); stopped there
(SIGSTOP, a long pause, a partition) it would keep that lock for as long as its connection lives,
and every other worker's append would wait for it. A fenced transaction may idle no longer than its
fence's ``stall_seconds`` (``idle_in_transaction_session_timeout``): the server then ends the
stalled session, another writer appends, and the stalled one, when it runs again, stops with
``LeaseLost`` right before its PUT, so no manifest key ever gets a second version.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert

from capstone.capture.tables import capture_leases
from capstone.services import open_vault, state_engine
from capstone.settings import Settings
from vault.verify import verify_vault

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(300)]

STALL_SECONDS = 2.0
ROOT = Path(__file__).resolve().parents[2]

STALLED_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from capstone.capture.leases import Fence, LeaseLost, fenced
    from capstone.services import open_vault
    from capstone.settings import Settings

    settings = Settings(home=Path(sys.argv[1]), vault=sys.argv[2], db_url=sys.argv[3])
    vault = open_vault(settings)
    guard = vault.manifest_guard

    def held(vault_):  # the chain guard, with a stop inside it (where a worker may be paused)
        context = guard(vault_)
        class Stalling:
            def __enter__(self):
                confirm = context.__enter__()
                print("holding", flush=True)
                time.sleep(float(sys.argv[5]))  # SIGSTOPped in here by the test
                return confirm
            def __exit__(self, *exc):
                return context.__exit__(*exc)
        return Stalling()

    vault.manifest_guard = held
    try:
        with fenced(Fence(sys.argv[4], 1, "stalled", stall_seconds=float(sys.argv[6]))):
            vault.write_manifest("run-stalled", [], kind="test")
    except LeaseLost:
        print("lease-lost", flush=True)
        sys.exit(3)
    print("appended", flush=True)
    """
)


def test_a_writer_stopped_inside_the_chain_lock_neither_blocks_nor_forks_the_chain(
    tmp_path: Path, pg_db_url: str
) -> None:
    vault_url = f"file://{tmp_path / 'vault'}"
    settings = Settings(home=tmp_path / "home", vault=vault_url, db_url=pg_db_url)
    engine = state_engine(settings)
    account = "burgemeester@gemeente-demo.nl"
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(capture_leases).values(
                account=account, active=True, due_at=now, holder="stalled", token=1,
                acquired_at=now, renewed_at=now, expires_at=now + timedelta(minutes=5),
            )
        )  # fmt: skip
    vault = open_vault(settings, create=True)
    first = vault.write_manifest("run-before", [], kind="test")
    assert first.seq == 1

    env = os.environ | {"PYTHONPATH": str(ROOT)}
    stalled = subprocess.Popen(
        [sys.executable, "-c", STALLED_WRITER, str(tmp_path / "stalled-home"), vault_url, pg_db_url,
         account, "1.0", str(STALL_SECONDS)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
    )  # fmt: skip
    try:
        assert stalled.stdout is not None
        assert stalled.stdout.readline().strip() == "holding"  # in the chain lock, before its PUT
        stalled.send_signal(signal.SIGSTOP)
        started = time.monotonic()
        # Another writer (no fence: capture run, or a worker whose lease is fine) appends: it waits
        # for the stalled one's session to end on the server, not for ever.
        second = vault.write_manifest("run-after", [], kind="test")
        waited = time.monotonic() - started
        assert second.seq == 2
        assert waited < STALL_SECONDS + 30, waited
    finally:
        stalled.send_signal(signal.SIGCONT)
    out, err = stalled.communicate(timeout=120)
    # Woken up, it finds its session ended right before its PUT: LeaseLost, nothing written.
    assert stalled.returncode == 3, (out, err[-3000:])
    assert "lease-lost" in out
    manifests = sorted(p.name for p in (tmp_path / "vault" / "manifests").rglob("*") if p.is_file())
    assert len(manifests) == 2, manifests  # seq 1 and 2, each once: no key PUT by the stalled writer
    vault.sync_catalog()
    head = vault.catalog.head_manifest()
    assert head is not None and head[0] == 2
    assert verify_vault(vault).all_well
    vault.close()
