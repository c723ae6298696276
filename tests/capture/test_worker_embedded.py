"""``capstone capture worker`` on the embedded default (SQLite state, local vault): the same code path
as on PostgreSQL, one worker. It captures every due account once, releases its leases, shows itself
in ``capture status``, and a second pass finds nothing due."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from capstone.capture.runner import capture_status
from capstone.capture.workers import CaptureWorker, WorkerOptions
from tests.capture.conftest import CaptureWorld, truth_content, vault_content
from vault.verify import verify_vault


@pytest.mark.slow
def test_one_worker_on_sqlite_captures_every_account_once(world: CaptureWorld) -> None:
    options = WorkerOptions(
        concurrency=3,
        interval=timedelta(hours=1),
        chat_max_age=timedelta(hours=1),
        lease_seconds=30,
        poll_seconds=0.2,
        exit_when_idle=True,
    )
    worker = CaptureWorker(world.settings, options)
    report = asyncio.run(worker.run())
    assert report.lost == 0
    assert report.captured == len(world.accounts())
    assert report.results and all(r.status == "complete" for r in report.results)
    vault = world.vault()
    assert set(vault_content(vault)) == set(truth_content(world.sim.truth(), world.windows()))
    assert verify_vault(vault).all_well
    status = capture_status(world.settings)
    (shown,) = status["workers"]["workers"]
    assert shown["worker_id"] == report.worker_id and shown["state"] == "stopped"
    assert shown["accounts_done"] == report.captured and shown["leases"] == []
    assert status["workers"]["queue"]["due_now"] == 0
    # Nothing is due again before the interval: a second worker ends at once, capturing nothing.
    again = asyncio.run(CaptureWorker(world.settings, options).run())
    assert again.captured == 0 and again.results == []
