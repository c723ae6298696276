"""Suggestions stored once per text on a document, also when several runs store them at the same
moment (on SQLite and on a real PostgreSQL server)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from capstone.services import state_engine
from capstone.settings import Settings
from capstone.woo.review import MarkInput, ReviewStore

REF, DOC = "Z/2026/000123", "rec-1"
TEXTS = ["j.jansen@example.nl", "06-12345678", "111222333", "Jan Jansen", "NL91 ABNA 0417 1643 00"]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ReviewStore:
    url = request.getfixturevalue("pg_db_url") if request.param == "postgres" else None
    return ReviewStore(state_engine(Settings(home=tmp_path / "home", db_url=url)))


def proposals(texts: list[str]) -> list[tuple[str, MarkInput]]:
    return [("suggestion:test", MarkInput("text", "5.1.2e", text=t)) for t in texts]


def test_runs_at_the_same_moment_propose_each_text_once(store: ReviewStore) -> None:
    runs = 6
    start = threading.Barrier(runs)
    placed: list[int] = []
    errors: list[BaseException] = []

    def run(number: int) -> None:
        try:
            start.wait()
            placed.append(len(store.propose_once(REF, DOC, proposals(TEXTS), by=f"officer{number}")))
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert sorted(placed) == [0] * (runs - 1) + [len(TEXTS)]  # one run stored them all
    marks = store.marks(REF, DOC)
    assert sorted(m.text or "" for m in marks) == sorted(TEXTS)
    assert {(m.status, m.origin) for m in marks} == {("proposed", "suggestion:test")}


def test_a_text_already_marked_is_not_proposed_again(store: ReviewStore) -> None:
    [rejected] = store.propose_once(REF, DOC, proposals(["Jan Jansen"]), by="anna")
    store.change_mark(REF, rejected, "rejected", by="anna")
    store.add_marks(REF, DOC, [MarkInput("text", "5.1.2e", text="06-12345678")], status="accepted",
                    origin="officer", by="anna")  # fmt: skip
    again = store.propose_once(
        REF, DOC, proposals(["jan  JANSEN", "06-12345678", "j.jansen@example.nl"]), by="bert"
    )
    assert [m.text for m in again] == ["j.jansen@example.nl"]
    assert store.propose_once(REF, "rec-2", proposals(["Jan Jansen"]), by="bert")  # another document: its own
    statuses = {m.text: m.status for m in store.marks(REF, DOC)}
    assert statuses == {
        "Jan Jansen": "rejected",
        "06-12345678": "accepted",
        "j.jansen@example.nl": "proposed",
    }
