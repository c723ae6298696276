"""Crash safety (a real SIGKILL of the capture process), faults and throttling, real mail."""

from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path

import pytest

from capstone.settings import Settings
from connectors.simulator.faults import FaultSpec
from connectors.simulator.server import run_simulator
from connectors.simulator.state import SimulatorConfig
from connectors.simulator.throttle import ThrottleConfig
from tests.capture.conftest import (
    JSON_KINDS,
    CaptureWorld,
    cpython_email_corpus,
    register_sample_officials,
    simulator_settings,
    truth_content,
    truth_json_content,
    vault_content,
    vault_json_content,
)
from tests.capture.processes import final_runs, kill_at_random_moments, vault_init
from vault.verify import verify_vault


def _assert_complete_and_consistent(world: CaptureWorld) -> None:
    vault = world.vault()
    truth = world.sim.truth()
    expected = truth_content(truth, world.windows())
    held = vault_content(vault)
    assert set(held) == set(expected)
    mime = vault_content(vault, ("mail-message",))
    assert mime == {k: expected[k] for k in mime}
    # Events, contacts and tasks as Graph JSON: one version each, byte-exact.
    expected_json = truth_json_content(truth, world.windows())
    assert vault_json_content(vault) == {key: {sha} for key, sha in expected_json.items()}
    # No conflicting records: one content record per source item, whatever was replayed.
    per_item: dict[tuple[str, str, str, str], set[str | None]] = defaultdict(set)
    for kind in ("mail-message", "mailbox-export-item", "archive-export-item", *JSON_KINDS):
        for record in vault.iter_records(kind):
            src = record.source
            per_item[(kind, src["mailbox"], src["mailbox_kind"], src["item_id"])].add(record.blob_sha256)
    assert all(len(blobs) == 1 for blobs in per_item.values())
    report = verify_vault(vault)
    assert report.all_well, report.to_json()


def test_sigkill_at_random_moments_then_restart_loses_nothing(settings: Settings) -> None:
    rng = random.Random(20261122)
    # Each Graph request takes 40 ms, so a run lasts long enough to be killed in the middle.
    with run_simulator(seed=7, profile="small", latency=0.04) as sim:
        configured = simulator_settings(settings, sim)
        world = CaptureWorld(configured, sim)
        vault_init(configured)
        register_sample_officials(configured)
        kills = kill_at_random_moments(configured, rng, (2.5, 6.0))
        assert kills >= 2, "the runs ended before they could be killed: raise the simulator latency"
        runs = final_runs(configured)
        assert all(r["status"] == "complete" for r in runs)
        assert any(r["resumed"] for r in runs), "a killed run should have been resumed, not restarted"
        _assert_complete_and_consistent(world)


@pytest.mark.parametrize("kinds", ["500,503,reset,truncate", "slow"])
def test_faults_do_not_lose_items(settings: Settings, kinds: str) -> None:
    spec = FaultSpec.parse(f"seed=11,rate=0.15,kinds={kinds},slow=0.3,retry_after=0")
    with run_simulator(seed=7, profile="small", faults=spec) as sim:
        configured = simulator_settings(settings, sim)
        world = CaptureWorld(configured, sim)
        world.vault_init()
        register_sample_officials(configured)
        results = world.capture()
        if any(r.status != "complete" for r in results):
            results = world.capture()  # items that failed every retry are retried by the next run
        assert all(r.status == "complete" for r in results), [(r.account, r.uncapturable) for r in results]
        _assert_complete_and_consistent(world)
        assert sum(sim.sim.faults.injected.values()) > 0  # the faults really happened


def test_throttling_is_honoured(settings: Settings) -> None:
    # A tiny per-mailbox budget on the server: the client must wait for Retry-After and finish.
    # Each mailbox needs about 60 requests, so 20 per 5 s binds unless a mailbox is captured at
    # under 4 requests/s, however loaded the machine is.
    config = SimulatorConfig(throttle=ThrottleConfig(mailbox_budget=20, mailbox_window=5.0))
    with run_simulator(seed=7, profile="small", config=config) as sim:
        configured = simulator_settings(settings, sim)
        world = CaptureWorld(configured, sim)
        world.vault_init()
        register_sample_officials(configured)
        results = world.capture(designation_id=None)
        assert all(r.status == "complete" for r in results)
        assert sum(r.throttle_waits for r in results) > 0
        _assert_complete_and_consistent(world)


def test_cpython_email_test_messages_are_captured_byte_exact(settings: Settings, tmp_path: Path) -> None:
    eml = tmp_path / "cpython-eml"
    messages = cpython_email_corpus(eml)
    imports = ((str(eml), "griffier@gemeente-demo.nl", "Inbox/CPython"),)
    with run_simulator(seed=7, profile="small", imports=imports) as sim:
        configured = simulator_settings(settings, sim)
        world = CaptureWorld(configured, sim)
        world.vault_init()
        register_sample_officials(configured)
        results = world.capture()
        assert all(r.status == "complete" for r in results)
        vault = world.vault()
        captured = {
            vault.read_blob(r.blob_sha256)
            for r in vault.iter_records("mail-message")
            if r.source["folder_path"] == "Inbox/CPython" and r.blob_sha256
        }
        assert len(messages) > 40
        assert captured == {path.read_bytes() for path in messages}
