"""Captured mail keeps the thread its source puts it in (Graph ``conversationId``, EWS
``ConversationId``), so a key official can mark "the whole conversation" as privé (issue 21) and
the mark finds every captured message of that thread, and nothing else."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from capstone.retention.objects import Scope
from capstone.retention.service import ExclusionCategory, RetentionService
from capstone.settings import Settings
from connectors.simulator.graph.mail import conversation_id
from connectors.simulator.model import Item
from tests.capture.conftest import CaptureWorld
from tests.retention.conftest import ROLES


def _thread(item: Item) -> str:
    meta = item.meta()
    return conversation_id(item, meta.get("thread_topic") or meta.get("subject") or "")


def _mail_records(world: CaptureWorld) -> list[Any]:
    return [
        r for r in world.vault().iter_records("mail-message") if r.source.get("system") == "microsoft-graph"
    ]


def test_graph_capture_keeps_each_message_s_conversation(world: CaptureWorld) -> None:
    world.capture(source=None)
    records = _mail_records(world)
    assert records
    expected = {
        item.rest_id(immutable=True): _thread(item)
        for item in world.sim.tenant.items.values()
        if item.item_class.startswith("IPM.Note")
    }
    held = {r.source["item_id"]: r.source.get("conversation_id") for r in records}
    compared = {item_id: thread for item_id, thread in held.items() if item_id in expected}
    assert len(compared) >= 20
    assert compared == {item_id: expected[item_id] for item_id in compared}


def test_marking_a_whole_conversation_names_exactly_its_captured_messages(
    world: CaptureWorld, settings: Settings
) -> None:
    world.capture(source=None)
    threads: dict[tuple[str, str], set[str]] = defaultdict(set)
    for record in _mail_records(world):
        if record.source.get("conversation_id"):
            threads[(record.source["mailbox"], record.source["conversation_id"])].add(record.record_id)
    (mailbox, thread), members = max(threads.items(), key=lambda kv: len(kv[1]))
    assert len(members) >= 2, "the sample tenant has threads of several messages"
    configured = world.settings.model_copy(
        update={"roles": {**ROLES, mailbox: ["official"]}, "user": mailbox}
    )
    service = RetentionService(configured)
    try:
        exclusion = service.mark(Scope.CONVERSATION, thread, ExclusionCategory.PRIVE, "familiezaak")
    finally:
        service.close()
    # Every record of the thread (every version and folder it was seen in) and no other record.
    assert set(exclusion.record_ids) == members


def test_ews_changes_carry_the_same_conversation_as_graph(simulator: Any) -> None:
    """EWS ``SyncFolderItems`` names each item's ``ConversationId``: the same thread id Graph gives."""
    from connectors.ews.mailbox import EwsMailbox
    from tests.ews.conftest import GRIFFIER, connect, run

    connection = connect(simulator)
    box = EwsMailbox(connection, GRIFFIER)
    by_ews_id = {item.ews_id(): _thread(item) for item in simulator.tenant.items.values()}
    seen = {}
    for folder in run(box.list_folders()):
        cursor: str | None = None
        while True:
            page = run(box.folder_changes(folder.folder_id, cursor))
            seen.update(
                {c.item_id: c.conversation_id for c in page.changes if c.item_type.startswith("IPM.Note")}
            )
            cursor = page.next_cursor or page.final_cursor
            if page.complete:
                break
    assert len(seen) >= 10
    assert seen == {item_id: by_ews_id[item_id] for item_id in seen}
