"""Incremental EWS: sync states page by page, add/move/delete/purge between rounds as exactly those
changes, an idle round as one SyncFolderItems per folder, an invalid sync state as
CursorExpiredError, and SyncFolderHierarchy for folder changes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from connectors.base import ChangePage, CursorExpiredError, FolderInfo, SourceError
from connectors.ews.mailbox import EwsMailbox
from tests.ews.conftest import GRIFFIER, connect, mailbox_truth, run


async def _round(
    box: EwsMailbox, folders: list[FolderInfo], cursors: dict[str, str | None]
) -> dict[str, list[Any]]:
    """One round over every folder from its cursor; advances ``cursors``; the changes per path."""
    seen: dict[str, list[Any]] = {}
    for folder in folders:
        cursor = cursors.get(folder.folder_id)
        while True:
            page: ChangePage = await box.folder_changes(folder.folder_id, cursor)
            seen.setdefault(folder.path, []).extend(page.changes)
            cursor = page.next_cursor or page.final_cursor
            if page.complete:
                break
        cursors[folder.folder_id] = cursor
    return {path: changes for path, changes in seen.items() if changes}


def test_add_move_delete_purge_between_rounds(fresh_sim: Callable[..., Any]) -> None:
    with fresh_sim() as sim:
        connection = connect(sim, page_size=3)
        try:
            box = EwsMailbox(connection, GRIFFIER)
            folders = run(box.list_folders())
            cursors: dict[str, str | None] = {}
            first = run(_round(box, folders, cursors))
            assert sum(len(c) for c in first.values()) == len(mailbox_truth(sim.truth(), GRIFFIER)["items"])

            # idle: exactly one SyncFolderItems per folder, no change
            before = connection.stats.operations["SyncFolderItems"]
            assert run(_round(box, folders, cursors)) == {}
            assert connection.stats.operations["SyncFolderItems"] - before == len(folders)

            inbox = [c.item_id for c in first["Inbox"]]
            added = sim.mutate(
                {"op": "add-message", "mailbox": GRIFFIER, "folder": "Inbox", "subject": "Nieuw"}
            )
            moved = sim.mutate({"op": "move", "item": inbox[0], "folder": "Archive"})
            deleted = sim.mutate({"op": "delete", "item": inbox[1]})
            purge_target = first["Recoverable Items/Purges"][0].item_id
            sim.mutate({"op": "purge", "item": purge_target})  # on hold: from Purges it is gone for good

            changes = run(_round(box, folders, cursors))
            summary = {
                path: sorted(("removed" if c.removed else "present", c.item_id) for c in items)
                for path, items in changes.items()
            }
            assert summary == {
                "Inbox": sorted(
                    [
                        ("present", added["item"]["ewsId"]),
                        ("removed", inbox[0]),
                        ("removed", inbox[1]),
                    ]
                ),
                "Archive": [("present", moved["item"]["ewsId"])],
                "Deleted Items": [("present", deleted["item"]["ewsId"])],
                "Recoverable Items/Purges": [("removed", purge_target)],
            }
            # a moved item has a new EWS id; its MIME is unchanged and its old id is gone
            old = mailbox_truth(sim.truth(), GRIFFIER)
            sha = {i["ewsId"]: i["sha256"] for i in old["items"]}

            async def discard(_: bytes) -> None:
                return None

            fetched = run(box.fetch_mime(moved["item"]["ewsId"], discard))
            assert fetched.sha256 == sha[moved["item"]["ewsId"]]
            with pytest.raises(SourceError) as stale:
                run(box.fetch_mime(inbox[0], discard))
            assert stale.value.status == 404 and stale.value.code == "ErrorItemNotFound"
        finally:
            connection.close()


def test_invalid_sync_state_is_cursor_expired(fresh_sim: Callable[..., Any]) -> None:
    with fresh_sim() as sim:
        connection = connect(sim)
        try:
            box = EwsMailbox(connection, GRIFFIER)
            inbox = next(f for f in run(box.list_folders()) if f.path == "Inbox")
            page = run(box.folder_changes(inbox.folder_id, None))
            assert page.complete and page.final_cursor
            sim.mutate({"op": "invalidate-sync-state", "mailbox": GRIFFIER, "folder": "Inbox"})
            with pytest.raises(CursorExpiredError) as expired:
                run(box.folder_changes(inbox.folder_id, page.final_cursor))
            assert expired.value.code == "ErrorInvalidSyncStateData"
            with pytest.raises(CursorExpiredError):
                run(box.folder_changes(inbox.folder_id, "bm90IGEgc3luYyBzdGF0ZQ=="))
            # a full resync from no state gives every item again
            again = run(box.folder_changes(inbox.folder_id, None))
            assert {c.item_id for c in again.changes} == {c.item_id for c in page.changes}
        finally:
            connection.close()


def test_sync_folder_hierarchy(fresh_sim: Callable[..., Any]) -> None:
    with fresh_sim() as sim:
        connection = connect(sim)
        try:
            box = EwsMailbox(connection, GRIFFIER)
            first = run(box.sync_hierarchy(None))
            assert first.complete and {c.kind for c in first.changes} == {"create"}
            names = {c.display_name for c in first.changes}
            assert {"Inbox", "Deletions", "Purges", "Versions", "DiscoveryHolds", "Privé"} <= names
            assert run(box.sync_hierarchy(first.sync_state)).changes == []
            sim.mutate({"op": "create-folder", "mailbox": GRIFFIER, "parent": "Inbox", "name": "Woo 2026"})
            later = run(box.sync_hierarchy(first.sync_state))
            assert [(c.kind, c.display_name) for c in later.changes] == [("create", "Woo 2026")]
            inbox = next(c for c in first.changes if c.display_name == "Inbox")
            assert later.changes[0].parent_id == inbox.folder_id
        finally:
            connection.close()
