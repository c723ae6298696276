"""Incremental capture: exactly the changes, moves without new blobs, deletions as events."""

from __future__ import annotations

from typing import Any

from capstone.capture.state import CaptureState
from capstone.services import state_engine
from tests.capture.conftest import (
    JSON_KINDS,
    CaptureWorld,
    truth_content,
    truth_json_content,
    vault_content,
    vault_json_content,
)
from vault.verify import verify_vault

MAYOR = "burgemeester@gemeente-demo.nl"
# Sources whose requests count for the user's mailbox: /users/{id}, and the export API's requests to
# the primary mailbox's id (the archive is a mailbox of its own).
USER_KINDS = ("primary", "primary-json", "primary-export")


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
        cursors = sum(len(state.folder_paths(account, kind)) for kind in USER_KINDS)
        assert result.delta_requests == cursors, (account, result.delta_requests, cursors)
        assert result.content_requests == 0 and result.counters["items"] == 0
    assert world.vault().stats()["objects"] == objects + len(every_run)  # one manifest per run, nothing else
    assert verify_vault(world.vault()).all_well


def _graph_items(world: CaptureWorld, graph_type: str) -> list[dict[str, Any]]:
    mailbox = next(
        m for m in world.sim.truth()["mailboxes"] if m["address"] == MAYOR and m["kind"] == "primary"
    )
    return [i for i in mailbox["items"] if (i.get("graph") or {}).get("type") == graph_type]


def test_event_task_and_contact_changes_as_graph_json(world: CaptureWorld) -> None:
    assert all(r.status == "complete" for r in world.capture())
    events, tasks = _graph_items(world, "event"), _graph_items(world, "todoTask")
    [contact] = _graph_items(world, "contact")
    edited, redated, done, deleted = events[0], events[1], tasks[0], tasks[1]
    mutate = world.sim.mutate
    mutate(
        {
            "op": "edit-item",
            "item": edited["immutableId"],
            "subject": "Afspraak: verzet",
            "location": "Trouwzaal",
        }
    )
    # Into another calendarView range (2028-2032): a new version there, no deletion in the old one.
    mutate(
        {
            "op": "edit-item",
            "item": redated["immutableId"],
            "start": "2029-03-01T09:00:00Z",
            "end": "2029-03-01T10:00:00Z",
        }
    )
    mutate({"op": "edit-item", "item": done["immutableId"], "status": "completed"})
    mutate({"op": "delete", "item": deleted["immutableId"]})  # to Deleted Items: gone from the To Do list
    # A second calendar (no v1.0 delta: reported) and a private contact folder (excluded).
    mutate({"op": "create-folder", "mailbox": MAYOR, "parent": "Calendar", "name": "Bestuursagenda",
            "folderClass": "IPF.Appointment"})  # fmt: skip
    mutate(
        {
            "op": "create-folder",
            "mailbox": MAYOR,
            "parent": "Contacts",
            "name": "Privé",
            "folderClass": "IPF.Contact",
        }
    )
    mutate({"op": "move", "item": contact["immutableId"], "folder": "Contacts/Privé"})

    second = {r.account: r for r in world.capture()}
    mayor = second[MAYOR]
    assert mayor.status == "complete", mayor.reconciliation
    vault = world.vault()
    in_run = [
        r for kind in (*JSON_KINDS, "mail-message") for r in vault.iter_records(kind)
        if r.capture["run_id"] == mayor.run_id
    ]  # fmt: skip
    new = {(r.kind, r.source["item_id"]) for r in in_run}
    assert new == {
        ("calendar-event", edited["immutableId"]),
        ("calendar-event", redated["immutableId"]),
        ("task", done["immutableId"]),
    }
    # Each change is a new version next to the old one, byte-exact as the tenant serves it now.
    expected = truth_json_content(world.sim.truth(), world.windows())
    held = vault_json_content(vault)
    for kind, item in (("calendar-event", edited), ("calendar-event", redated), ("task", done)):
        key = (MAYOR, kind, item["immutableId"])
        assert len(held[key]) == 2 and expected[key] in held[key]
    moved = next(r for r in in_run if r.source["item_id"] == redated["immutableId"])
    assert moved.source["collection"]["view_start"] == "2028-01-01T00:00:00Z"
    events_json = [
        r for r in vault.iter_records("source-event")
        if r.source.get("capture_source") == "primary-json" and r.source["event"] == "deleted-in-source"
    ]  # fmt: skip
    assert [(r.source["item_id"], r.source["captured"]) for r in events_json] == [
        (deleted["immutableId"], True)
    ]
    exclusions = [r for r in vault.iter_records("exclusion") if r.source["capture_source"] == "primary-json"]
    assert [(r.source["item_id"], r.source["folder_path"]) for r in exclusions] == [
        (contact["immutableId"], "Contacts/Privé")
    ]
    [json_part] = [
        m for m in (mayor.reconciliation or {})["mailboxes"] if m["mailbox_kind"] == "primary-json"
    ]
    assert [c["name"] for c in json_part["not_captured_as_json"]] == ["Bestuursagenda"]
    assert all(r.counters["items"] == 0 for a, r in second.items() if a != MAYOR)
    assert verify_vault(vault).all_well
