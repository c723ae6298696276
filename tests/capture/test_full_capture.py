"""A full capture of the small tenant equals the simulator's truth."""

from __future__ import annotations

import json

from tests.capture.conftest import (
    JSON_KINDS,
    CaptureWorld,
    private_items,
    truth_content,
    truth_json_content,
    vault_content,
    vault_json_content,
)
from vault.verify import verify_vault


def test_full_capture_matches_truth(any_vault_world: CaptureWorld) -> None:
    world = any_vault_world
    results = world.capture()
    accounts = world.accounts()
    assert {r.account for r in results} == accounts
    assert all(r.status == "complete" for r in results), [(r.account, r.status, r.error) for r in results]

    truth = world.sim.truth()
    expected = truth_content(truth, world.windows())
    held = vault_content(world.vault())
    assert set(held) == set(expected)
    # Mail: the MIME stored byte-exact. Calendar/contact and archive items: the opaque export stream.
    mime = vault_content(world.vault(), ("mail-message",))
    assert mime == {k: expected[k] for k in mime}
    exported = vault_content(world.vault(), ("mailbox-export-item", "archive-export-item"))
    assert set(mime) | set(exported) == set(expected) and not set(mime) & set(exported)

    # Every calendar event, contact and To Do task once more as Graph JSON: exactly the canonical
    # bytes the tenant serves, next to its full-fidelity export stream.
    expected_json = truth_json_content(truth, world.windows())
    assert {kind for _, kind, _ in expected_json} == set(JSON_KINDS)
    assert vault_json_content(world.vault()) == {key: {sha} for key, sha in expected_json.items()}
    assert {(a, "primary", i) for a, _, i in expected_json} <= set(exported)
    event = next(iter(world.vault().iter_records("calendar-event")))
    assert event.source["collection"]["collection"] == "calendarView" and event.source["start"]
    assert event.source["capture_source"] == "primary-json" and event.source["change_key"]
    assert json.loads(world.vault().read_blob(event.blob_sha256 or ""))["id"] == event.source["item_id"]
    json_parts = [
        m
        for r in results
        for m in (r.reconciliation or {})["mailboxes"]
        if m["mailbox_kind"] == "primary-json"
    ]
    assert len(json_parts) == len(results) and all(
        p["complete"] and not p["not_captured_as_json"] for p in json_parts
    )

    # Every folder was walked, hidden and Recoverable Items folders included.
    paths = {
        (m["address"], m["kind"], i["immutableId"]): i["folderPath"]
        for m in truth["mailboxes"]
        for i in m["items"]
    }
    folders_with_items = {(key[0], paths[key]) for key in mime}
    captured_folders = {
        (r.source["mailbox"], r.source["folder_path"]) for r in world.vault().iter_records("mail-message")
    }
    assert folders_with_items == captured_folders
    assert any(path.startswith("Recoverable Items/") for _, path in captured_folders)

    # Private items: not fetched, each exclusion recorded without content.
    exclusions = {(r.source["mailbox"], r.source["item_id"]) for r in world.vault().iter_records("exclusion")}
    assert exclusions == private_items(truth, accounts)
    assert all(r.blob_sha256 is None for r in world.vault().iter_records("exclusion"))

    report = verify_vault(world.vault())
    assert report.all_well, report.to_json()


def test_records_carry_provenance(world: CaptureWorld) -> None:
    world.capture(designation_id=None)
    record = next(iter(world.vault().iter_records("mail-message")))
    assert record.source["system"] == "microsoft-graph"
    assert record.source["immutable_id"] == record.source["item_id"]
    for key in ("folder_path", "internet_message_id", "change_key", "last_modified"):
        assert key in record.source
    for key in ("run_id", "connector", "connector_version", "captured_at", "host"):
        assert record.capture[key]
    assert record.designation is not None and record.designation["decision_reference"]
    assert record.retention_class and record.retain_until
