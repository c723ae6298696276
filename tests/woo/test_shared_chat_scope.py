"""A chat of two key officials is in each one's archive, whichever capture runs first.

Before, a message version of such a chat was one record, carrying the designation of the official
whose capture happened to write it first: a Woo case about the other official then found nothing
of it (the end-to-end Woo test failed now and then on exactly that). Here the other official's
capture runs first, on purpose."""

from __future__ import annotations

from typing import Any

from capstone.chats.scoping import chats_in_scope
from capstone.index import SearchQuery, open_index
from capstone.registry.service import Registry
from capstone.services import state_engine
from capstone.woo.scope import CaseScope
from tests.capture.conftest import CaptureWorld

MAYOR = "burgemeester@gemeente-demo.nl"
WORD = "sjoelbak"


def test_a_shared_chat_is_in_both_archives_whoever_is_captured_first(world: CaptureWorld) -> None:
    chat: dict[str, Any] = next(
        c
        for c in world.sim.truth()["chats"]
        if MAYOR in c["members"] and (set(c["members"]) - {MAYOR}) & world.accounts()
    )
    [other] = sorted((set(chat["members"]) - {MAYOR}) & world.accounts())
    world.sim.mutate(
        {"op": "post-chat-message", "chat": chat["id"], "from": MAYOR, "content": f"Wie heeft de {WORD}?"}
    )
    registry = Registry(state_engine(world.settings))
    by_account = {a.upn or a.primary_smtp: d for d in registry.designations() for a in d.accounts}

    first = world.capture(source=None, designation_id=by_account[other].designation_id)
    assert first and all(r.status == "complete" for r in first)
    rest = world.capture(source=None)  # the mayor's capture, after the other official's
    assert rest and all(r.status == "complete" for r in rest)

    vault = world.vault()
    posted = [
        r
        for r in vault.iter_records("chat-message-version")
        if r.source["chat_id"] == chat["id"] and WORD in vault.read_blob(str(r.blob_sha256)).decode()
    ]
    assert sorted(r.source["observed_for"] for r in posted) == sorted([MAYOR, other])
    assert {str((r.designation or {}).get("official")) for r in posted} == {
        by_account[MAYOR].name,
        by_account[other].name,
    }
    assert len({r.blob_sha256 for r in posted}) == 1  # one blob, a record per account

    mayor_only = CaseScope(officials=(by_account[MAYOR].name,))
    assert chat["id"] in chats_in_scope(vault, mayor_only)
    index = open_index(world.settings.search_index_url)
    try:
        found = index.search(mayor_only.restrict(SearchQuery(text=WORD)))
        assert [(h.account, h.official) for h in found.hits] == [(MAYOR, by_account[MAYOR].name)]
        both = index.search(SearchQuery(text=WORD))
        assert sorted(h.account for h in both.hits) == sorted([MAYOR, other])
        assert {h.duplicates for h in both.hits} == {2}
    finally:
        index.close()
        vault.close()
