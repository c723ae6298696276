"""End to end against the simulated tenant: plant unique words in a mail body, a PDF and a DOCX
attachment (the same message in two designated mailboxes), in a Teams chat message, in the mayor's
appointment and To Do task, capture, and find exactly the planted items; the two mail copies share
a duplicate key."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from capstone.index import SearchQuery, open_index
from capstone.index.indexer import update_index
from capstone.services import open_vault
from capstone.settings import Settings
from connectors.simulator.server import run_simulator
from tests.capture.conftest import SEED, CaptureWorld, register_sample_officials, simulator_settings
from tests.index.helpers import DOCX, PDF, docx_bytes, mime, pdf_bytes

MAYOR = "burgemeester@gemeente-demo.nl"
ALDERMAN = "wethouder.ruimte@gemeente-demo.nl"
BODY, IN_PDF, IN_DOCX, IN_CHAT = "kwelscherm", "zoutvang", "dijkpaal", "ganzenbord"
IN_EVENT, IN_PLACE, IN_TASK = "klokkenluider", "Lakenhal", "sluisdeur"


@pytest.fixture
def world(settings: Settings) -> Iterator[CaptureWorld]:
    with run_simulator(seed=SEED, profile="small") as sim:
        configured = simulator_settings(settings, sim)
        open_vault(configured, create=True)
        register_sample_officials(configured)
        yield CaptureWorld(configured, sim)


def test_planted_words_are_found_exactly(world: CaptureWorld) -> None:
    data = mime(
        subject="Stukken waterveiligheid",
        body=f"Beste college,\n\nHierbij het advies over het {BODY} langs de haven.",
        sender=f"Marieke van Dalen <{MAYOR}>",
        to=f"Fatima El Amrani <{ALDERMAN}>",
        message_id="<Planted-1@Gemeente-Demo.nl>",
        attachments=[
            ("advies.pdf", PDF, pdf_bytes(f"Advies: de {IN_PDF} wordt vervangen.")),
            ("besluit.docx", DOCX, docx_bytes([f"Besluit over de {IN_DOCX} bij de sluis."])),
        ],
    )
    encoded = base64.b64encode(data).decode()
    for mailbox, folder in ((MAYOR, "Sent Items"), (ALDERMAN, "Inbox")):
        world.sim.mutate({"op": "add-message", "mailbox": mailbox, "folder": folder, "mime": encoded})
    designated = world.accounts()
    chat = next(c for c in world.sim.truth()["chats"] if MAYOR in c["members"])
    world.sim.mutate(
        {"op": "post-chat-message", "chat": chat["id"], "from": MAYOR, "content": f"Wie speelt {IN_CHAT}?"}
    )

    mayor = next(
        m for m in world.sim.truth()["mailboxes"] if m["address"] == MAYOR and m["kind"] == "primary"
    )
    event = next(i for i in mayor["items"] if (i.get("graph") or {}).get("type") == "event")
    task = next(i for i in mayor["items"] if (i.get("graph") or {}).get("type") == "todoTask")
    edit = {
        "op": "edit-item",
        "item": event["immutableId"],
        "subject": f"Afspraak: {IN_EVENT}",
        "location": IN_PLACE,
    }
    world.sim.mutate(edit)
    world.sim.mutate({"op": "edit-item", "item": task["immutableId"], "title": f"Nabellen over de {IN_TASK}"})

    runs = world.capture(source=None)
    assert runs and all(r.status == "complete" for r in runs), [(r.account, r.status, r.error) for r in runs]

    index = open_index(world.settings.search_index_url)
    vault = world.vault()
    try:
        # the capture run updated the index itself; an explicit update finds nothing new
        assert index.stats()["documents"] > 0
        assert update_index(vault, index).records_indexed == 0

        mails = index.search(SearchQuery(text=BODY)).hits
        assert len(mails) == 2 and {h.kind for h in mails} == {"mail"}
        assert {h.account for h in mails} == {MAYOR, ALDERMAN}
        assert {h.folder_path for h in mails} == {"Sent Items", "Inbox"}
        assert {h.official for h in mails} == {"Marieke van Dalen", "Fatima El Amrani"}
        assert {h.duplicate_key for h in mails} == {"planted-1@gemeente-demo.nl"}
        assert {h.duplicates for h in mails} == {2}
        assert all(f"[[{BODY}]]" in h.snippet for h in mails)
        mail_ids = {h.doc_id for h in mails}

        for word, filename in ((IN_PDF, "advies.pdf"), (IN_DOCX, "besluit.docx")):
            hits = index.search(SearchQuery(text=word)).hits
            assert len(hits) == 2 and {h.kind for h in hits} == {"attachment"}, word
            assert {h.title for h in hits} == {filename}
            assert {h.parent_id for h in hits} == mail_ids
            assert len({h.duplicate_key for h in hits}) == 1 and {h.duplicates for h in hits} == {2}
            assert next(iter({h.duplicate_key for h in hits})).startswith("sha256:")

        # a chat message version is in the archive of each designated member (a record per account,
        # one blob), as a message in two mailboxes is: exact duplicates of each other
        copies = index.search(SearchQuery(text=IN_CHAT)).hits
        members = set(chat["members"]) & designated
        assert len(members) >= 2, "the planted chat is one of two key officials"
        assert sorted(h.account for h in copies) == sorted(members)
        assert len({(h.duplicate_key, h.blob_sha256) for h in copies}) == 1
        assert {h.duplicates for h in copies} == {len(members)}
        for posted in copies:
            assert posted.kind == "chat-message" and posted.duplicate_key.startswith(f"chat:{chat['id']}:")
            assert posted.folder_path == (chat.get("topic") or chat["id"])
            document = index.get(posted.doc_id)
            assert document is not None and IN_CHAT in document.body
            assert document.sender.endswith(f"<{MAYOR}>") and any(MAYOR in p for p in document.participants)

        # the mayor's appointment (its Graph JSON), by subject and by location, dated by its start
        [appointment] = index.search(SearchQuery(text=IN_EVENT)).hits
        assert (
            appointment.kind == "event"
            and appointment.account == MAYOR
            and appointment.folder_path == "Calendar"
        )
        assert appointment.official == "Marieke van Dalen" and appointment.title == f"Afspraak: {IN_EVENT}"
        assert (
            appointment.date is not None and appointment.date.isoformat()[:19] == event["graph"]["start"][:19]
        )
        assert [h.doc_id for h in index.search(SearchQuery(text=IN_PLACE, kinds=["event"])).hits] == [
            appointment.doc_id
        ]
        [todo] = index.search(SearchQuery(text=IN_TASK)).hits
        assert todo.kind == "task" and todo.folder_path == "Tasks"

        # the filters work on captured data too
        assert index.search(SearchQuery(text=BODY, accounts=[MAYOR])).total == 1
        assert (
            index.search(SearchQuery(text=BODY, has_attachment=True, sender=MAYOR, recipient=ALDERMAN)).total
            == 2
        )
        assert index.search(SearchQuery(text=IN_CHAT, kinds=["mail"])).total == 0
    finally:
        index.close()
        vault.close()
