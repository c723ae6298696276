"""A full EWS capture of the ``small`` tenant, every official on premises: the vault equals truth
(every folder, hidden ones, Recoverable Items and the online archive, every SHA-256), locally and on
Ceph RGW; then add, move, delete and purge between runs give exactly those changes, and an idle run
asks each folder's ``SyncFolderItems`` once (counted at the simulator).

A move through EWS is recorded as a deletion in the old folder and a new item in the new one. That
is what Exchange reports: an item's EWS id is valid in its folder only (``MoveItem`` answers with
the moved item's new id), each folder is synchronised on its own, and ``SyncFolderItems`` shows the
move as a ``Delete`` of the old id in the old folder and a ``Create`` with the new id in the new one
(learn.microsoft.com: "Mailbox synchronization and EWS in Exchange", "MoveItem operation", "Changes
(Items)"). The bytes do not change: the moved item's record points at the blob already held, and
no blob is written again.
"""

from __future__ import annotations

from typing import Any

import pytest

from capstone.capture.engine import RunResult
from capstone.capture.state import CaptureState
from capstone.services import open_vault, state_engine
from capstone.settings import Settings
from connectors.simulator.server import RunningSimulator
from tests.capture.conftest import run_capture, vault_location
from tests.capture.ews_world import (
    capture_windows,
    ews_folders,
    ews_held,
    ews_record_folders,
    ews_settings,
    ews_truth,
    private_ews_items,
    register_on_premises,
    sync_calls,
)
from vault.verify import verify_vault

MAYOR = "burgemeester@gemeente-demo.nl"  # on hold, with an online archive


def _mail_runs(settings: Settings) -> dict[str, RunResult]:
    runs = run_capture(settings)
    assert {r.source for r in runs} == {"ews-mail"}, [(r.account, r.source) for r in runs]
    return {r.account: r for r in runs}


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def on_premises(
    request: pytest.FixtureRequest,
    settings: Settings,
    simulator: RunningSimulator,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[Settings, set[str]]:
    configured = ews_settings(settings, simulator, **vault_location(request, monkeypatch))
    open_vault(configured, create=True)
    return configured, register_on_premises(configured, simulator.ews_url)


@pytest.mark.slow
def test_full_ews_capture_equals_truth(
    on_premises: tuple[Settings, set[str]], simulator: RunningSimulator
) -> None:
    settings, accounts = on_premises
    runs = _mail_runs(settings)
    assert set(runs) == accounts
    assert all(r.status == "complete" and r.connector == "ews" for r in runs.values()), [
        (r.account, r.status, r.error, r.uncapturable) for r in runs.values()
    ]

    truth = simulator.truth()
    expected = ews_truth(truth, capture_windows(settings), accounts)
    vault = open_vault(settings)
    held = ews_held(vault)
    assert held == expected  # every item, every SHA-256: the MIME byte for byte
    assert {kind for _, kind, _ in held} == {"primary", "archive"}
    paths = ews_folders(truth, accounts)
    recorded = ews_record_folders(vault)
    assert {k: recorded[k] for k in held} == {k: paths[k] for k in held}
    # Every folder that holds an item to capture was walked: hidden ones, Recoverable Items
    # (DiscoveryHolds included), calendar, contacts and tasks, in the primary mailbox and the archive.
    assert {(k[0], k[1], paths[k]) for k in expected} == {(k[0], k[1], recorded[k]) for k in held}
    walked = {(kind, path) for (_, kind, _), path in recorded.items()}
    for wanted in (
        ("primary", "Recoverable Items/Deletions"),
        ("primary", "Recoverable Items/Purges"),
        ("primary", "Recoverable Items/DiscoveryHolds"),
        ("primary", "Calendar"),
        ("primary", "Contacts"),
        ("primary", "Tasks"),
    ):
        assert wanted in walked, wanted
    assert any(kind == "archive" and path.startswith("Recoverable Items/") for kind, path in walked)
    # Provenance: EWS ids are folder-bound, so no immutable id is claimed.
    record = next(r for r in vault.iter_records("mail-message") if r.source["mailbox_kind"] == "archive")
    assert record.source["system"] == "microsoft-exchange" and record.source["immutable_id"] is None
    assert record.source["capture_source"] == "ews-archive"
    assert record.capture["connector"] == "ews-mail"

    exclusions = {(r.source["mailbox"], r.source["item_id"]) for r in vault.iter_records("exclusion")}
    assert exclusions == private_ews_items(truth, accounts)
    assert all(r.blob_sha256 is None for r in vault.iter_records("exclusion"))
    report = verify_vault(vault)
    assert report.all_well, report.to_json()


def _items(sim: RunningSimulator, folder: str) -> list[dict[str, Any]]:
    mailbox = next(m for m in sim.truth()["mailboxes"] if m["address"] == MAYOR and m["kind"] == "primary")
    return [i for i in mailbox["items"] if i["folderPath"] == folder]


@pytest.mark.slow
def test_incremental_ews_capture_records_exactly_the_changes(
    settings: Settings, simulator: RunningSimulator
) -> None:
    configured = ews_settings(settings, simulator)
    open_vault(configured, create=True)
    accounts = register_on_premises(configured, simulator.ews_url)
    assert all(r.status == "complete" for r in _mail_runs(configured).values())
    vault = open_vault(configured)
    before = ews_held(vault)
    blobs_before = vault.stats()["by_prefix"]["blobs"]["objects"]

    inbox = _items(simulator, "Inbox")
    purge_target = _items(simulator, "Recoverable Items/Purges")[0]
    added = simulator.mutate({"op": "add-message", "mailbox": MAYOR, "folder": "Inbox", "subject": "Nieuw"})
    moved = simulator.mutate({"op": "move", "item": inbox[0]["ewsId"], "folder": "Inbox/Projecten"})
    deleted = simulator.mutate({"op": "delete", "item": inbox[1]["ewsId"]})  # to Deleted Items
    simulator.mutate({"op": "purge", "item": purge_target["ewsId"]})  # on hold: Purges -> gone
    new_ids = {added["item"]["ewsId"], moved["item"]["ewsId"], deleted["item"]["ewsId"]}
    gone_ids = {inbox[0]["ewsId"], inbox[1]["ewsId"], purge_target["ewsId"]}
    assert not new_ids & gone_ids  # EWS ids are folder-bound: a moved item has a new one

    second = _mail_runs(configured)
    mayor = second[MAYOR]
    assert mayor.status == "complete", (mayor.error, mayor.uncapturable)
    assert all(
        r.counters["items"] == 0 and r.counters["deletions"] == 0 for a, r in second.items() if a != MAYOR
    )
    # Three new records (the new message, and the moved and the deleted one under their new ids),
    # three deletions in the source (the old ids, the purged item), and one new blob only.
    assert mayor.counters["items"] == 3 and mayor.counters["deletions"] == 3 and mayor.counters["moves"] == 0
    assert vault.stats()["by_prefix"]["blobs"]["objects"] == blobs_before + 1

    vault = open_vault(configured)
    held = ews_held(vault)
    new = {k: v for k, v in held.items() if k not in before}
    assert set(new) == {(MAYOR, "primary", i) for i in new_ids}
    truth = simulator.truth()
    expected = ews_truth(truth, capture_windows(configured), accounts)
    for key, sha in new.items():
        assert sha == expected[key]
    assert new[(MAYOR, "primary", moved["item"]["ewsId"])] == before[(MAYOR, "primary", inbox[0]["ewsId"])]
    assert new[(MAYOR, "primary", deleted["item"]["ewsId"])] == before[(MAYOR, "primary", inbox[1]["ewsId"])]
    recorded = ews_record_folders(vault)
    assert recorded[(MAYOR, "primary", moved["item"]["ewsId"])] == "Inbox/Projecten"
    assert recorded[(MAYOR, "primary", deleted["item"]["ewsId"])] == "Deleted Items"
    # The vault keeps what the source no longer has; everything else equals truth.
    assert set(held) == set(expected) | {(MAYOR, "primary", i) for i in gone_ids}
    events = [
        r
        for r in vault.iter_records("source-event")
        if r.source.get("event") == "deleted-in-source" and r.capture["run_id"] == mayor.run_id
    ]
    assert sorted((r.source["item_id"], r.source["captured"]) for r in events) == sorted(
        (i, True) for i in gone_ids
    )
    assert not [r for r in vault.iter_records("observation") if r.source.get("event") == "located"]
    # The state: the old ids marked deleted in the source, the new ones captured with the old blobs.
    rows = CaptureState(state_engine(configured)).items(MAYOR, "ews-primary", [*gone_ids, *new_ids])
    assert {i for i in gone_ids if rows[i].deleted_in_source} == gone_ids
    assert all(rows[i].state == "captured" and not rows[i].deleted_in_source for i in new_ids)

    # An idle run: at most one SyncFolderItems per folder (each folder's stored sync state says
    # "nothing new" in one page), no content fetched, nothing written but each run's manifest.
    syncs, items_before = sync_calls(simulator), simulator.sim.request_counts.get("ews:GetItem", 0)
    objects = vault.stats()["objects"]
    third = _mail_runs(configured)
    assert all(r.status == "complete" and r.counters["items"] == 0 for r in third.values())
    idle = {f: n - syncs.get(f, 0) for f, n in sync_calls(simulator).items() if n > syncs.get(f, 0)}
    assert idle and max(idle.values()) == 1, idle
    folders = {f["ewsId"] for m in truth["mailboxes"] if m["address"] in accounts for f in m["folders"]}
    assert set(idle) <= folders
    state = CaptureState(state_engine(configured))
    cursors = sum(
        len(state.folder_paths(a, kind)) for a in accounts for kind in ("ews-primary", "ews-archive")
    )
    assert len(idle) == cursors == sum(r.delta_requests for r in third.values())
    assert simulator.sim.request_counts.get("ews:GetItem", 0) == items_before
    assert open_vault(configured).stats()["objects"] == objects + len(third)
    assert verify_vault(open_vault(configured)).all_well
