"""Incremental capture: exactly the changes, moves without new blobs, deletions as events."""

from __future__ import annotations

from typing import Any

from capstone.capture.state import CaptureState
from capstone.services import state_engine
from tests.capture.conftest import CaptureWorld, truth_content, vault_content
from vault.verify import verify_vault

MAYOR = "burgemeester@gemeente-demo.nl"


def _items(world: CaptureWorld, folder: str) -> list[dict[str, Any]]:
    mailbox = next(
        m for m in world.sim.truth()["mailboxes"] if m["address"] == MAYOR and m["kind"] == "primary"
    )
    return [i for i in mailbox["items"] if i["folderPath"] == folder]


def test_next_run_captures_exactly_the_changes(world: CaptureWorld) -> None:
    first = {r.account: r for r in world.capture()}
    assert first[MAYOR].status == "complete"
    before = vault_content(world.vault())
    blobs_before = world.vault().stats()["by_prefix"]["blobs"]["objects"]

    added = world.sim.mutate({"op": "add-message", "mailbox": MAYOR, "folder": "inbox", "subject": "Nieuw"})
    inbox = _items(world, "Inbox")
    moved = world.sim.mutate({"op": "move", "item": inbox[0]["immutableId"], "folder": "Inbox/Projecten"})
    deleted = world.sim.mutate({"op": "delete", "item": inbox[1]["immutableId"]})  # to Deleted Items
    # The mailbox is on hold: a purge from Purges is the only way an item leaves it for good.
    purge_target = _items(world, "Recoverable Items/Purges")[0]
    world.sim.mutate({"op": "purge", "item": purge_target["immutableId"]})

    second = {r.account: r for r in world.capture()}
    mayor = second[MAYOR]
    assert mayor.status == "complete", mayor.reconciliation
    # Only the added message is stored: moves keep the immutable id and the blob. (Exchange gives a
    # moved item a new change key, so its MIME is read again and found identical.)
    assert mayor.counters["items"] == 1
    assert mayor.content_requests <= 1 + mayor.counters["moves"]
    assert world.vault().stats()["by_prefix"]["blobs"]["objects"] == blobs_before + 1
    assert mayor.counters["moves"] == 2 and mayor.counters["deletions"] == 1
    assert all(r.counters["items"] == 0 for a, r in second.items() if a != MAYOR)

    held = vault_content(world.vault())
    expected = truth_content(world.sim.truth(), world.windows())
    purged_key = (MAYOR, "primary", purge_target["immutableId"])
    assert purged_key not in expected and purged_key in held  # the vault keeps what the source purged
    assert set(held) == set(expected) | {purged_key}
    assert set(before) <= set(held)
    new_id = added["item"]["immutableId"]
    assert held[(MAYOR, "primary", new_id)] == expected[(MAYOR, "primary", new_id)]

    vault = world.vault()
    moves = [r for r in vault.iter_records("observation") if r.source["event"] == "located"]
    assert {(r.source["item_id"], r.source["folder_path"]) for r in moves} == {
        (moved["item"]["immutableId"], "Inbox/Projecten"),
        (deleted["item"]["immutableId"], "Deleted Items"),
    }
    deletions = [
        r for r in vault.iter_records("source-event") if r.source.get("event") == "deleted-in-source"
    ]
    assert [(r.source["item_id"], r.source["captured"]) for r in deletions] == [
        (purge_target["immutableId"], True)
    ]

    # An idle run: one delta request per folder cursor, no content fetched, nothing written.
    objects = world.vault().stats()["objects"]
    every_run = world.capture(source=None)  # mail and Teams runs
    third = {r.account: r for r in every_run if r.source == "graph-mail"}
    state = CaptureState(state_engine(world.settings))
    for account, result in third.items():
        cursors = sum(len(state.folder_paths(account, kind)) for kind in ("primary", "archive"))
        assert result.delta_requests <= cursors, (account, result.delta_requests, cursors)
        assert result.content_requests == 0 and result.counters["items"] == 0
    assert world.vault().stats()["objects"] == objects + len(every_run)  # one manifest per run, nothing else
    assert verify_vault(world.vault()).all_well
