"""Small items several to a GetItem request: Exchange answers each id in a response message of its
own, so an item deleted between the listing and the fetch (``ErrorItemNotFound``), a malformed id
or an answer whose MIME is not base64 fails alone, and its neighbours are captured byte-exact. The
simulator counts the requests."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

from exchangelib.errors import MalformedResponseError
from exchangelib.util import MNS, TNS
from lxml import etree

from capstone import __version__
from capstone.capture.sink import VaultSink
from connectors.base import ItemChange, SourceError, SourceOrigin, StoredContent
from connectors.ews.connector import _BATCH_ITEM_BYTES, EwsMailSource, plan_batches
from connectors.ews.errors import EwsTransientError, to_source_error
from connectors.ews.mailbox import EwsMailbox
from connectors.ews.mime import MimeBatchGetItem
from tests.ews.conftest import GRIFFIER, connect, mailbox_truth, run
from vault import open_vault

BOGUS = "AAMkAGJvZ3VzAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="


def _origin() -> SourceOrigin:
    return SourceOrigin(
        system="microsoft-exchange",
        mailbox=GRIFFIER,
        mailbox_kind="primary",
        capture_source="ews-primary",
        connector="ews-mail",
        connector_version=__version__,
    )


def test_plan_batches_by_reported_size() -> None:
    small = [ItemChange(item_id=f"s{n}", size=20_000) for n in range(40)]
    big = ItemChange(item_id="big", size=50 * 1024 * 1024)
    unknown = ItemChange(item_id="unknown")  # an open error retried by id: size unknown
    singles, batches = plan_batches([big, *small[:20], unknown, *small[20:]])
    assert singles == ["big", "unknown"]
    assert [len(b) for b in batches] == [16, 16, 8]
    assert [i for b in batches for i in b] == [c.item_id for c in small]
    # by bytes too: 300 KB items never share a request beyond the batch budget
    _, by_bytes = plan_batches([ItemChange(item_id=f"m{n}", size=200_000) for n in range(10)])
    assert [len(b) for b in by_bytes] == [5, 5]


def test_several_items_in_one_getitem_one_deleted_meanwhile(
    fresh_sim: Callable[..., Any], tmp_path: Path
) -> None:
    with fresh_sim() as sim:
        connection = connect(sim)
        try:
            box = EwsMailbox(connection, GRIFFIER)
            inbox = next(f for f in run(box.list_folders()) if f.path == "Inbox")
            page = run(box.folder_changes(inbox.folder_id, None))
            small = [c for c in page.changes if c.size is not None and c.size <= 64 * 1024][:6]
            assert len(small) == 6
            deleted = small[2]
            sim.mutate({"op": "delete", "item": deleted.item_id, "mailbox": GRIFFIER})
            changes = [*small, ItemChange(item_id=BOGUS, size=100)]
            assert plan_batches(changes) == ([], [[c.item_id for c in changes]])

            vault = open_vault(f"file://{tmp_path}/vault", cache_dir=tmp_path / "cache", create=True)
            source = EwsMailSource(box, _origin(), required=True)
            before = sim.sim.request_counts.get("ews:GetItem", 0)
            outcomes = run(source.fetch(changes, VaultSink(vault), concurrency=16))
            requests = sim.sim.request_counts.get("ews:GetItem", 0) - before
        finally:
            connection.close()

    assert requests == 1  # seven items, one GetItem
    assert connection.stats.operations["GetItem"] == 1
    gone = outcomes[deleted.item_id]
    assert isinstance(gone, SourceError)
    assert (gone.status, gone.code) == (404, "ErrorItemNotFound")  # the engine: a deletion race
    bad = outcomes[BOGUS]
    assert isinstance(bad, SourceError)
    assert bad.code == "ErrorInvalidIdMalformed" and bad.status != 404  # an open error
    truth = {i["ewsId"]: i for i in mailbox_truth(sim.truth(), GRIFFIER)["items"]}
    for change in small:
        if change is deleted:
            continue
        stored = outcomes[change.item_id]
        assert isinstance(stored, StoredContent), stored
        expected = truth[change.item_id]
        assert (stored.size, stored.sha256) == (expected["size"], expected["sha256"])
        assert len(vault.read_blob(stored.sha256)) == stored.size  # in the vault, verified


def test_large_items_stay_streamed_one_per_request(fresh_sim: Callable[..., Any], tmp_path: Path) -> None:
    """Items above the batch limit (and items of unknown size) go alone, streamed: one request each."""
    with fresh_sim() as sim:
        truth = sim.truth()
        connection = connect(sim)
        try:
            owner = next(m for m in truth["mailboxes"] if m["kind"] == "primary" and m["items"])
            box = EwsMailbox(connection, owner["address"])
            items = sorted(owner["items"], key=lambda i: -i["size"])[:2]
            assert items[0]["size"] > _BATCH_ITEM_BYTES
            changes = [
                ItemChange(item_id=items[0]["ewsId"], size=items[0]["size"]),
                ItemChange(item_id=items[1]["ewsId"]),  # size unknown
            ]
            vault = open_vault(f"file://{tmp_path}/vault", cache_dir=tmp_path / "cache", create=True)
            before = sim.sim.request_counts.get("ews:GetItem", 0)
            outcomes = run(
                EwsMailSource(box, _origin(), required=True).fetch(changes, VaultSink(vault), concurrency=4)
            )
            requests = sim.sim.request_counts.get("ews:GetItem", 0) - before
        finally:
            connection.close()
    assert requests == 2
    for item in items:
        stored = outcomes[item["ewsId"]]
        assert isinstance(stored, StoredContent)
        assert (stored.size, stored.sha256) == (item["size"], item["sha256"])


def _get_item_message(mime_text: str) -> Any:
    message = etree.Element(f"{{{MNS}}}GetItemResponseMessage", ResponseClass="Success")
    etree.SubElement(message, f"{{{MNS}}}ResponseCode").text = "NoError"
    item = etree.SubElement(etree.SubElement(message, f"{{{MNS}}}Items"), f"{{{TNS}}}Message")
    etree.SubElement(item, f"{{{TNS}}}MimeContent", CharacterSet="UTF-8").text = mime_text
    return message


def test_an_item_whose_mime_is_not_base64_fails_alone(monkeypatch: Any) -> None:
    """A response message whose ``MimeContent`` does not decode is that item's error (transient:
    it is read again on its own); its neighbours in the same GetItem keep their bytes."""
    first, last = b"Subject: one\r\n\r\nbody\r\n", b"Subject: three\r\n\r\nbody\r\n"
    messages = [
        _get_item_message(base64.b64encode(first).decode()),
        _get_item_message("U3ViamVjdDogdHdv" + "Q"),  # one character too many: not base64
        _get_item_message(base64.b64encode(last).decode()),
    ]
    service = MimeBatchGetItem.__new__(MimeBatchGetItem)  # no account: the response is given here
    monkeypatch.setattr(service, "get_payload", lambda **kwargs: None)
    monkeypatch.setattr(service, "_get_response_xml", lambda payload: iter(messages))
    answers = service.mime_of(["a", "b", "c"])
    assert answers[0] == first and answers[2] == last
    assert isinstance(answers[1], MalformedResponseError)
    assert "base64" in str(answers[1])
    assert isinstance(to_source_error(answers[1], "MIME of item b"), EwsTransientError)
