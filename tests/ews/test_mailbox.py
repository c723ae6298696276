"""The complete mailbox through the EWS connector: distinguished folders (Recoverable Items with
DiscoveryHolds, the archive and its Recoverable Items), SyncFolderItems page by page with
MaxChangesReturned and IncludesLastItemInRange, SyncFolderHierarchy, reconciliation listings, and
every item's MimeContent byte-exact against truth."""

from __future__ import annotations

import math
from typing import Any

import pytest

from connectors.base import ChangePage, SourceError
from connectors.ews.connection import EwsConnection
from connectors.ews.mailbox import EwsMailbox
from connectors.simulator.server import RunningSimulator
from tests.ews.conftest import BURGEMEESTER, GRIFFIER, connect, mailbox_truth, run

RECOVERABLE = {
    "Recoverable Items/Deletions",
    "Recoverable Items/Purges",
    "Recoverable Items/Versions",
    "Recoverable Items/DiscoveryHolds",
}


async def _all_pages(box: EwsMailbox, folder_id: str, cursor: str | None = None) -> list[ChangePage]:
    pages = []
    while True:
        page = await box.folder_changes(folder_id, cursor)
        pages.append(page)
        if page.complete:
            return pages
        assert page.next_cursor and page.next_cursor != cursor
        cursor = page.next_cursor


async def _capture(box: EwsMailbox) -> dict[str, tuple[str, int, str]]:
    """item id -> (folder path, size, sha256) of every item, MIME streamed."""
    out: dict[str, tuple[str, int, str]] = {}
    for folder in await box.list_folders():
        for page in await _all_pages(box, folder.folder_id):
            for change in page.changes:
                assert not change.removed

                async def discard(_: bytes) -> None:
                    return None

                fetched = await box.fetch_mime(change.item_id, discard)
                out[change.item_id] = (folder.path, fetched.size, fetched.sha256)
    return out


@pytest.fixture(scope="module")
def connection(sim: RunningSimulator) -> Any:
    conn = connect(sim)
    yield conn
    conn.close()


@pytest.mark.parametrize("kind", ["primary", "archive"])
def test_folders_match_truth(connection: EwsConnection, truth: dict[str, Any], kind: str) -> None:
    folders = run(EwsMailbox(connection, BURGEMEESTER, kind).list_folders())  # type: ignore[arg-type]
    box = mailbox_truth(truth, BURGEMEESTER, kind)
    expected = {
        f["path"]: f
        for f in box["folders"]
        if f["parentId"] and f["distinguishedName"] != "searchfolders"  # no root, no search folders
    }
    got = {f.path: f for f in folders}
    assert set(got) == set(expected)
    assert set(got) >= RECOVERABLE
    for path, info in got.items():
        assert info.hidden == (not expected[path]["ipm"]), path
        assert info.total_items == expected[path]["itemCount"], path
        assert info.mailbox_kind == kind
    assert got["Recoverable Items/DiscoveryHolds"].total_items == 1


@pytest.mark.parametrize("kind", ["primary", "archive"])
def test_every_item_byte_exact(connection: EwsConnection, truth: dict[str, Any], kind: str) -> None:
    """Messages, calendar items, contacts and tasks, Recoverable Items and the archive: the
    SHA-256 and size of each streamed MimeContent equal truth's."""
    captured = run(_capture(EwsMailbox(connection, BURGEMEESTER, kind)))  # type: ignore[arg-type]
    box = mailbox_truth(truth, BURGEMEESTER, kind)
    expected = {i["ewsId"]: (i["folderPath"], i["size"], i["sha256"]) for i in box["items"]}
    assert captured == expected
    classes = {i["itemClass"] for i in box["items"]}
    if kind == "primary":
        assert {"IPM.Appointment", "IPM.Contact", "IPM.Task"} <= classes


def test_large_item_streams_in_blocks(connection: EwsConnection, truth: dict[str, Any]) -> None:
    items = [i for m in truth["mailboxes"] for i in m["items"] if m["kind"] == "primary"]
    big = max(items, key=lambda i: i["size"])
    assert big["size"] > 4 * 1024 * 1024
    owner = next(m["address"] for m in truth["mailboxes"] if big in m["items"])
    blocks: list[int] = []

    async def write(block: bytes) -> None:
        blocks.append(len(block))

    fetched = run(EwsMailbox(connection, owner).fetch_mime(big["ewsId"], write))
    assert (fetched.size, fetched.sha256) == (big["size"], big["sha256"])
    assert len(blocks) > 4 and max(blocks) < big["size"] // 4  # decoded as it arrived, not whole


def test_paging_with_max_changes_returned(sim: RunningSimulator, truth: dict[str, Any]) -> None:
    connection = connect(sim, page_size=2)
    try:
        box = EwsMailbox(connection, GRIFFIER)
        folders = {f.path: f for f in run(box.list_folders())}
        inbox = folders["Inbox"]
        before = connection.stats.operations.get("SyncFolderItems", 0)
        pages = run(_all_pages(box, inbox.folder_id))
        calls = connection.stats.operations["SyncFolderItems"] - before
    finally:
        connection.close()
    expected = {i["ewsId"] for i in mailbox_truth(truth, GRIFFIER)["items"] if i["folderPath"] == "Inbox"}
    assert len(expected) > 4
    assert all(len(p.changes) <= 2 for p in pages)
    assert [p.complete for p in pages] == [False] * (len(pages) - 1) + [True]
    assert pages[-1].final_cursor and all(p.final_cursor is None for p in pages[:-1])
    assert len(pages) == calls == math.ceil(len(expected) / 2)
    assert {c.item_id for p in pages for c in p.changes} == expected


def test_first_pages_side_by_side(connection: EwsConnection, truth: dict[str, Any]) -> None:
    box = EwsMailbox(connection, GRIFFIER)
    folders = run(box.list_folders())
    pages = run(box.first_pages({f.folder_id: None for f in folders} | {"AAMkAGJvZ3Vz": None}))
    assert isinstance(pages["AAMkAGJvZ3Vz"], SourceError)  # a bad folder fails alone
    ids = {c.item_id for f in folders for c in pages[f.folder_id].changes}  # type: ignore[union-attr]
    assert ids == {i["ewsId"] for i in mailbox_truth(truth, GRIFFIER)["items"]}


def test_reconciliation_listing(connection: EwsConnection, truth: dict[str, Any]) -> None:
    box = EwsMailbox(connection, BURGEMEESTER, "archive")
    folders = run(box.list_folders())
    listed = set().union(*(run(box.list_item_ids(f.folder_id)) for f in folders))
    assert listed == {i["ewsId"] for i in mailbox_truth(truth, BURGEMEESTER, "archive")["items"]}


def test_stale_item_and_unknown_mailbox_are_source_errors(connection: EwsConnection) -> None:
    box = EwsMailbox(connection, GRIFFIER)

    async def discard(_: bytes) -> None:
        return None

    with pytest.raises(SourceError) as missing:
        run(box.fetch_mime("AAMkAGJvZ3VzAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", discard))
    assert missing.value.status in (400, 404)
    with pytest.raises(SourceError) as nobody:
        run(EwsMailbox(connection, "niemand@gemeente-demo.nl").list_folders())
    assert nobody.value.code == "ErrorNonExistentMailbox"
