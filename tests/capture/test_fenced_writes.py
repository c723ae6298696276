"""The record writes of a capture worker whose lease was taken over (issue 20, fencing), without
servers: what ``test_workers.py::test_a_worker_paused_past_its_lease_cannot_commit_after_the_take_over``
needs of the vault and of :class:`~capstone.capture.fencewrites.FencedWrites`.

A stale worker that wakes up writes lines with the same record ids as the new holder's but other
bytes (its own ``captured_at``), often after the new holder has ended the run. Those lines must
end up in the chain: the new holder's manifest lists the same record *ids* and must not make the
stale worker's catalog believe its own lines are listed."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from capstone.capture.fencewrites import FencedWrites
from capstone.capture.leases import Fence, LeaseLost, fenced
from vault import Record, Vault, layout, open_vault
from vault.verify import verify_vault

RUN = "20261205T090408Z-run"


def _vault(root: Path, host: str) -> Vault:
    return open_vault(
        f"file://{root / 'vault'}", cache_dir=root / host, staging_dir=root / f"{host}-staging", create=True
    )


def _chat_line(item: str, captured_at: str, run_id: str = RUN) -> Record:
    return Record(
        kind="chat-message-version",
        source={"chat_id": "c1", "item_id": item},
        capture={"run_id": run_id, "captured_at": captured_at, "host": "h"},
    )


def test_the_stale_writer_s_own_lines_stay_unlisted_until_it_lists_them(tmp_path: Path) -> None:
    holder, stale = _vault(tmp_path, "holder"), _vault(tmp_path, "stale")
    try:
        # The new holder captures the items and ends the run.
        listed = holder.put_records([_chat_line("m1", "t2"), _chat_line("m2", "t2")])
        holder.write_manifest(RUN, listed)
        # The stale worker, continued, writes the same items again (its catalog never saw them).
        late = stale.put_records([_chat_line("m1", "t3"), _chat_line("m2", "t3")])
        assert all(ref.created for ref in late)
        assert [r.record_id for r in late] == [r.record_id for r in listed]  # same ids, other lines
        assert all(a.record_sha256 != b.record_sha256 for a, b in zip(late, listed, strict=True))
        report = verify_vault(stale)
        assert len(report.unlisted) == 2  # the late lines, outside the chain so far
        stale.sync_catalog()  # what the chain guard's catch-up does before an append
        assert stale.catalog.unmanifested_count(RUN) == 2  # same ids listed, but not these lines
        manifest = stale.list_unlisted(RUN, kind="fenced-writes")
        assert manifest is not None and manifest.record_count == 2
        assert verify_vault(stale).all_well
        assert stale.list_unlisted(RUN, kind="fenced-writes") is None  # nothing left: no empty manifest
        holder.sync_catalog()
        assert holder.list_unlisted(RUN, kind="fenced-writes") is None
    finally:
        holder.close()
        stale.close()


def test_a_lost_lease_refuses_further_writes_and_waits_for_those_under_way(tmp_path: Path) -> None:
    vault = _vault(tmp_path, "worker")
    writes = FencedWrites()
    vault.records_guard = writes
    fence = Fence("a@x", 3, "w1")
    try:
        vault.put_records([_chat_line("free", "t0", run_id="other")])  # outside any lease: untouched
        with fenced(fence):
            vault.put_records([_chat_line("m1", "t1")])
        entered, leave = threading.Event(), threading.Event()

        def under_way() -> None:  # a thread of a cancelled task, in the middle of a record write
            with fenced(fence), writes() as note:
                entered.set()
                leave.wait(10)
                note({"late-run"})

        thread = threading.Thread(target=under_way)
        thread.start()
        assert entered.wait(10)
        runs, ended = writes.stop(fence, timeout=0.2)
        assert not ended  # the write under way is waited for, not forgotten
        leave.set()
        runs, ended = writes.stop(fence, timeout=10)
        thread.join(10)
        assert ended and runs == {RUN, "late-run"}
        segments = len(list(vault.store.list(layout.SEGMENT_PREFIX)))
        with fenced(fence), pytest.raises(LeaseLost):
            vault.put_records([_chat_line("m2", "t4")])
        assert len(list(vault.store.list(layout.SEGMENT_PREFIX))) == segments  # refused before the PUT
        with fenced(Fence("a@x", 4, "w2")):  # the new holder's lease writes as before
            assert vault.put_records([_chat_line("m2", "t5")])[0].created
        writes.refuse(Fence("b@x", 1, "w1"))  # found taken over by the renewer: refused at once
        with fenced(Fence("b@x", 1, "w1")), pytest.raises(LeaseLost):
            vault.put_records([_chat_line("m3", "t6")])
    finally:
        vault.close()
