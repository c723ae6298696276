"""EWS with exchangelib itself: impersonation, distinguished folders (Recoverable Items, archive),
FindFolder, SyncFolderHierarchy, SyncFolderItems with sync states, GetItem with MimeContent."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from exchangelib import BASIC, IMPERSONATION, Account, Build, Configuration, Credentials, Version
from exchangelib.errors import ErrorAccessDenied, ErrorItemNotFound, UnauthorizedError
from exchangelib.folders import FolderCollection
from exchangelib.properties import ItemId

from connectors.simulator.server import RunningSimulator
from connectors.simulator.state import SimulatorConfig

SERVICE_USER = "svc-capstone@gemeente-demo.nl"
SERVICE_PASSWORD = next(iter(SimulatorConfig().ews_users.values()))
BURGEMEESTER = "burgemeester@gemeente-demo.nl"
GRIFFIER = "griffier@gemeente-demo.nl"


def account(sim: RunningSimulator, address: str, password: str = SERVICE_PASSWORD) -> Account:
    config = Configuration(
        service_endpoint=sim.ews_url,
        credentials=Credentials(SERVICE_USER, password),
        auth_type=BASIC,
        version=Version(build=Build(15, 1)),
    )
    return Account(address, config=config, autodiscover=False, access_type=IMPERSONATION)


def test_distinguished_folders_and_hierarchy(sim: RunningSimulator, truth: dict[str, Any]) -> None:
    acc = account(sim, BURGEMEESTER)
    assert acc.root.name == "Root"
    assert acc.msg_folder_root.name == "Top of Information Store"
    assert acc.inbox.name == "Inbox" and acc.sent.name == "Sent Items" and acc.trash.name == "Deleted Items"
    assert acc.recoverable_items_root.name == "Recoverable Items"
    for folder in (
        acc.recoverable_items_deletions,
        acc.recoverable_items_purges,
        acc.recoverable_items_versions,
    ):
        assert folder.total_count >= 1
    # the archive mailbox
    assert acc.archive_root.name == "Root"
    assert acc.archive_inbox.total_count >= 1
    archive_box = next(
        m for m in truth["mailboxes"] if m["address"] == BURGEMEESTER and m["kind"] == "archive"
    )
    assert acc.archive_msg_folder_root.id in {
        f["id"].replace("-", "+").replace("_", "/") for f in archive_box["folders"]
    }
    # FindFolder (deep) from the root: every folder of the mailbox, hidden ones included
    primary = next(m for m in truth["mailboxes"] if m["address"] == BURGEMEESTER and m["kind"] == "primary")
    names = {f.name for f in acc.root.walk()}
    assert names == {f["displayName"] for f in primary["folders"] if f["parentId"]}
    # SyncFolderHierarchy from the root
    changes = list(acc.root.sync_hierarchy())
    assert {c for c, _ in changes} == {"create"}
    assert len(changes) == len(primary["folders"]) - 1
    assert acc.root.folder_sync_state
    assert list(acc.root.sync_hierarchy(sync_state=acc.root.folder_sync_state)) == []


def test_sync_items_and_mime_byte_exact(sim: RunningSimulator, truth: dict[str, Any]) -> None:
    acc = account(sim, GRIFFIER)
    box = next(m for m in truth["mailboxes"] if m["address"] == GRIFFIER and m["kind"] == "primary")
    by_ews = {i["ewsId"]: i for i in box["items"]}
    seen: dict[str, Any] = {}
    folders = [acc.inbox, acc.sent, acc.trash, acc.recoverable_items_deletions, acc.calendar, acc.tasks]
    for folder in folders:
        for change, item in folder.sync_items(only_fields=["id", "changekey"], max_changes_returned=2):
            assert change == "create"
            seen[item.id] = item
        assert folder.item_sync_state
    expected = {
        i["ewsId"]
        for i in box["items"]
        if i["folderPath"]
        in {"Inbox", "Sent Items", "Deleted Items", "Recoverable Items/Deletions", "Calendar", "Tasks"}
    }
    assert set(seen) == expected and any(by_ews[i]["itemClass"] == "IPM.Task" for i in seen)
    fetched = list(acc.fetch(list(seen.values()), only_fields=["mime_content"]))
    for item in fetched:
        assert hashlib.sha256(item.mime_content).hexdigest() == by_ews[item.id]["sha256"]
    exported = acc.export(list(seen.values())[:3])
    assert all(isinstance(e, str) and e for e in exported)


def test_incremental_sync_after_changes(fresh_sim: Any) -> None:
    with fresh_sim() as sim:
        acc = account(sim, GRIFFIER)
        inbox = acc.inbox
        first = list(inbox.sync_items(only_fields=["id", "changekey"], max_changes_returned=100))
        state = inbox.item_sync_state
        victim = first[0][1]
        result = sim.mutate({"op": "delete", "item": victim.id})
        sim.mutate({"op": "add-message", "mailbox": GRIFFIER, "folder": "Inbox", "subject": "Via EWS gezien"})
        changes = list(inbox.sync_items(sync_state=state, only_fields=["id", "changekey"]))
        kinds = sorted(c for c, _ in changes)
        assert kinds == ["create", "delete"]
        deleted = next(i for c, i in changes if c == "delete")
        assert deleted.id == victim.id
        # the moved item has a new EWS id in Deleted Items; the old one no longer resolves
        moved_id = result["item"]["ewsId"]
        assert moved_id != victim.id
        gone = list(acc.fetch([ItemId(victim.id)], only_fields=["mime_content"]))
        assert isinstance(gone[0], ErrorItemNotFound)
        fresh = list(acc.fetch([ItemId(moved_id)], only_fields=["mime_content"]))
        assert fresh[0].mime_content == sim.tenant.item_ref(moved_id).mime_bytes()


def test_impersonation_and_credentials(sim: RunningSimulator) -> None:
    griffier = account(sim, GRIFFIER)
    other_inbox = account(sim, BURGEMEESTER).inbox
    # impersonating the griffier does not open the burgemeester's folders
    result = list(FolderCollection(account=griffier, folders=[other_inbox]).get_folders())
    assert isinstance(result[0], ErrorAccessDenied)
    with pytest.raises(UnauthorizedError):
        _ = account(sim, GRIFFIER, password="wrong").root
