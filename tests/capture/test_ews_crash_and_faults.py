"""EWS capture under a real SIGKILL at random moments, and under faults and storms of Exchange's
throttling errors: the restarted or repeated capture equals truth and the vault verifies clean.
CPython's email test corpus through EWS, byte for byte."""

from __future__ import annotations

import random
import threading
from collections import Counter
from pathlib import Path

import pytest

from capstone.services import open_vault
from capstone.settings import Settings
from connectors.simulator.ews.throttle import STORM_CODES
from connectors.simulator.faults import FaultSpec
from connectors.simulator.server import RunningSimulator, run_simulator
from tests.capture.conftest import cpython_email_corpus, run_capture
from tests.capture.ews_world import (
    capture_windows,
    ews_env,
    ews_held,
    ews_settings,
    ews_truth,
    register_on_premises,
)
from tests.capture.processes import final_runs, kill_at_random_moments, vault_init
from vault.verify import verify_vault

GRIFFIER = "griffier@gemeente-demo.nl"


def _assert_equals_truth(settings: Settings, sim: RunningSimulator, accounts: set[str]) -> None:
    vault = open_vault(settings)
    expected = ews_truth(sim.truth(), capture_windows(settings), accounts)
    assert ews_held(vault) == expected  # ews_held also checks one blob per (mailbox, item id)
    # One content record per source item, however many times a page was replayed.
    per_item = Counter(
        (r.source["mailbox"], r.source["mailbox_kind"], r.source["item_id"])
        for r in vault.iter_records("mail-message")
    )
    assert max(per_item.values()) == 1
    report = verify_vault(vault)
    assert report.all_well, report.to_json()


@pytest.mark.slow
def test_sigkill_during_ews_capture_then_restart_equals_truth(settings: Settings) -> None:
    rng = random.Random(20261205)
    # Each EWS request takes 40 ms: a run lasts long enough to be killed in the middle of it.
    with run_simulator(seed=7, profile="small", latency=0.04) as sim:
        configured = ews_settings(settings, sim)
        vault_init(configured)
        accounts = register_on_premises(configured, sim.ews_url)
        # Counted from the moment a run is under way (the run takes about 5 s here): counted from the
        # process's start, a loaded machine's slow imports let every kill land before any run existed,
        # leaving nothing to resume (it failed so once in a full `make test`).
        kills = kill_at_random_moments(configured, rng, (0.5, 1.5), from_run_start=True, **ews_env())
        assert kills >= 3, "the runs ended before they could be killed: raise the simulator latency"
        runs = final_runs(configured, **ews_env())
        assert {r["source"] for r in runs} == {"ews-mail"}
        assert all(r["status"] == "complete" for r in runs), [(r["account"], r["error"]) for r in runs]
        assert any(r["resumed"] for r in runs), "a killed run should have been resumed, not restarted"
        sim.sim.config.latency = 0.0
        _assert_equals_truth(configured, sim, accounts)


def _storms(sim: RunningSimulator, stop: threading.Event) -> None:
    """Two storms of each of Exchange's throttling errors (ten refusals in a row), one every 0.7 s
    while the capture runs."""
    for n in range(2 * len(STORM_CODES)):
        if stop.wait(0.7):
            return
        sim.sim.ews_throttle.storm(10, STORM_CODES[n % len(STORM_CODES)], back_off_ms=50)


@pytest.mark.slow
def test_ews_capture_completes_through_faults_and_throttling_storms(settings: Settings) -> None:
    spec = FaultSpec.parse("seed=17,rate=0.1,kinds=500,503,reset,truncate,retry_after=0,paths=/EWS")
    with run_simulator(seed=7, profile="small", faults=spec) as sim:
        sim.sim.ews_throttle.config.max_concurrency = 4  # a server configured below our limit of 10
        configured = ews_settings(settings, sim)
        open_vault(configured, create=True)
        accounts = register_on_premises(configured, sim.ews_url)
        stop = threading.Event()
        storms = threading.Thread(target=_storms, args=(sim, stop), daemon=True)
        storms.start()
        try:
            runs = run_capture(configured)
            if any(r.status != "complete" for r in runs):
                runs = run_capture(configured)  # what failed every retry is taken by the next run
        finally:
            stop.set()
            storms.join()
        assert all(r.status == "complete" for r in runs), [(r.account, r.uncapturable) for r in runs]
        refused = sim.sim.ews_throttle.stats()["refused"]
        assert isinstance(refused, dict)
        assert {code for code in STORM_CODES if refused.get(code)} == set(STORM_CODES), refused
        assert refused.get("MaxConcurrency", 0) > 0 or refused["ErrorServerBusy"] > 0
        assert sum(sim.sim.faults.injected.values()) > 0  # the faults really happened
        sim.sim.faults.spec = FaultSpec()
        _assert_equals_truth(configured, sim, accounts)


def test_cpython_email_test_messages_through_ews_are_byte_exact(settings: Settings, tmp_path: Path) -> None:
    messages = cpython_email_corpus(tmp_path / "cpython-eml")
    imports = ((str(tmp_path / "cpython-eml"), GRIFFIER, "Inbox/CPython"),)
    with run_simulator(seed=7, profile="small", imports=imports) as sim:
        configured = ews_settings(settings, sim)
        open_vault(configured, create=True)
        register_on_premises(configured, sim.ews_url, {GRIFFIER})
        runs = [r for r in run_capture(configured) if r.account == GRIFFIER]
        assert [(r.source, r.status) for r in runs] == [("ews-mail", "complete")]
        vault = open_vault(configured)
        captured = [
            vault.read_blob(r.blob_sha256)
            for r in vault.iter_records("mail-message")
            if r.source["folder_path"] == "Inbox/CPython" and r.blob_sha256
        ]
        assert all(r.source["system"] == "microsoft-exchange" for r in vault.iter_records("mail-message")
                   if r.source["mailbox"] == GRIFFIER)  # fmt: skip
        assert len(messages) > 40
        assert sorted(captured) == sorted(path.read_bytes() for path in messages)
