"""The query interface on both backends: Dutch full text, the query language, every filter, paging,
duplicates and attachments."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from capstone.index import IndexOutdatedError, QuerySyntaxError, SearchIndex, SearchQuery, open_index
from tests.index.helpers import document


def ids(index: SearchIndex, text: str = "", **filters: object) -> set[str]:
    result = index.search(SearchQuery(text=text, limit=100, **filters))  # type: ignore[arg-type]
    assert result.total == len(result.hits)
    return {hit.doc_id for hit in result.hits}


@pytest.fixture
def corpus(index: SearchIndex) -> SearchIndex:
    index.add(
        [
            document(
                "m1",
                subject="Vergadering gemeenteraad",
                body="De gemeente bouwt een nieuwe fietsbrug over de Dommel, op verzoeken van bewoners.",
            ),
            document(
                "m2",
                subject="Café-overleg",
                body="Overleg met de ondernemers in het café over de terrassen.",
                official="Sanne Visser",
                designation_id="sf-clerk",
                account="griffier@gemeente-test.nl",
                folder_path="Inbox/Woo 2026",
                date=datetime(2026, 4, 30, 22, 30, tzinfo=UTC),
                sender="Thijs Bos <thijs.bos@gemeente-test.nl>",
                to=("griffier@gemeente-test.nl",),
                cc=("Ruud Jansen <ruud.jansen@gemeente-test.nl>",),
            ),
            document(
                "m3",
                subject="Gemeenten in de regio",
                body="Alle gemeenten werken samen aan de woningbouw.",
                attachment_names=("begroting.xlsx",),
                folder_path="Sent Items",
                date=datetime(2026, 5, 2, 8, 0, tzinfo=UTC),
                bcc=("geheim@gemeente-test.nl",),
            ),
            document(
                "m3:1",
                kind="attachment",
                parent_id="m3",
                filename="begroting.xlsx",
                body="post bedrag woningbouw 45000",
                subject="Gemeenten in de regio",
                folder_path="Sent Items",
                date=datetime(2026, 5, 2, 8, 0, tzinfo=UTC),
            ),
            document(
                "c1",
                kind="chat-message",
                body="Zullen we de kademuur en de fietsbrug bespreken?",
                subject="Collegeoverleg",
                folder_path="Collegeoverleg",
                chat_id="19:x",
                participants=(
                    "Marieke van Dalen <burgemeester@gemeente-test.nl>",
                    "Sanne Visser <griffier@gemeente-test.nl>",
                ),
                to=("Sanne Visser <griffier@gemeente-test.nl>",),
                sender="Marieke van Dalen <burgemeester@gemeente-test.nl>",
                date=datetime(2026, 3, 10, 12, 0, tzinfo=UTC),
                duplicate_key="chat:19:x:1",
            ),
            document(
                "c1b",
                kind="chat-message",
                body="Zullen we de kademuur bespreken? (bewerkt)",
                subject="Collegeoverleg",
                folder_path="Collegeoverleg",
                chat_id="19:x",
                date=datetime(2026, 3, 10, 12, 0, tzinfo=UTC),
                duplicate_key="chat:19:x:1",
            ),
            document("i1", kind="item", subject="", folder_path="Archief/2019", date=None),
        ]
    )
    return index


def test_dutch_stemming_and_diacritics(corpus: SearchIndex) -> None:
    assert ids(corpus, "gemeenten") >= {"m1", "m3"}  # gemeente ~ gemeenten
    assert "m1" in ids(corpus, "gemeente")
    assert ids(corpus, "cafe") == {"m2"}
    assert ids(corpus, "CAFÉ") == {"m2"}
    assert ids(corpus, "woningbouw") == {"m3", "m3:1"}
    assert ids(corpus, "verzoek") == {"m1"}  # verzoeken ~ verzoek
    assert ids(corpus, "bespreek") == {"c1", "c1b"}  # bespreken ~ bespreek


def test_phrase_or_exclusion_prefix(corpus: SearchIndex) -> None:
    assert ids(corpus, '"nieuwe fietsbrug"') == {"m1"}
    assert ids(corpus, '"fietsbrug nieuwe"') == set()
    assert ids(corpus, "kademuur OR terrassen") == {"c1", "c1b", "m2"}
    assert ids(corpus, "kademuur -fietsbrug") == {"c1b"}
    assert ids(corpus, 'fietsbrug -"de Dommel"') == {"c1"}
    assert ids(corpus, "kadem*") == {"c1", "c1b"}
    assert ids(corpus, "fietsbrug kademuur") == {"c1"}
    assert ids(corpus, "Café-overleg") == {"m2"}
    assert ids(corpus, "onbekendwoord") == set()


def test_people_and_names_are_searchable_text(corpus: SearchIndex) -> None:
    assert ids(corpus, "Thijs") == {"m2"}
    assert ids(corpus, "begroting") == {"m3", "m3:1"}  # attachment name on the mail, file name


@pytest.mark.parametrize("bad", ['"open', "OR kademuur", "kademuur OR", "-kademuur", "(a OR b)", "k*", "a*b"])
def test_bad_query_is_a_clear_error(corpus: SearchIndex, bad: str) -> None:
    with pytest.raises(QuerySyntaxError):
        corpus.search(SearchQuery(text=bad))


def test_filters(corpus: SearchIndex) -> None:
    assert ids(corpus, officials=["Sanne Visser"]) == {"m2"}
    assert ids(corpus, officials=["sf-clerk"]) == {"m2"}
    assert ids(corpus, accounts=["griffier@gemeente-test.nl"]) == {"m2"}
    assert ids(corpus, kinds=["chat-message"]) == {"c1", "c1b"}
    assert ids(corpus, kinds=["item", "attachment"]) == {"i1", "m3:1"}
    assert ids(corpus, folder="Inbox") == {"m1", "m2"}
    assert ids(corpus, folder="Inbox/Woo 2026") == {"m2"}
    assert ids(corpus, folder="Inbox/Woo") == set()
    assert ids(corpus, folder="Archief") == {"i1"}
    assert ids(corpus, has_attachment=True) == {"m3"}
    assert "m3" not in ids(corpus, has_attachment=False) and "m1" in ids(corpus, has_attachment=False)
    assert ids(corpus, sender="thijs.bos@gemeente-test.nl") == {"m2"}
    assert ids(corpus, sender="Thijs Bos") == {"m2"}
    assert ids(corpus, recipient="ruud.jansen@gemeente-test.nl") == {"m2"}  # cc
    assert ids(corpus, recipient="geheim@gemeente-test.nl") == {"m3"}  # bcc
    assert ids(corpus, recipient="Sanne Visser") == {"c1"}  # chat participant
    assert ids(corpus, "fietsbrug", kinds=["mail"]) == {"m1"}
    with pytest.raises(QuerySyntaxError):
        corpus.search(SearchQuery(sender="@@"))


def test_an_address_filter_is_exact_a_name_a_phrase(corpus: SearchIndex) -> None:
    corpus.add(
        [
            document(
                "m4",
                body="Namens de burgemeester: de fietsbrug gaat open.",
                sender="Loco-burgemeester <loco-burgemeester@gemeente-test.nl>",
                to=("Thijs Bos <thijs.bos@gemeente-test.nl>",),
                folder_path="Inbox/Woo 2026/Brug",
                date=datetime(2026, 5, 3, 9, 0, tzinfo=UTC),
            )
        ]
    )
    assert ids(corpus, sender="burgemeester@gemeente-test.nl") == {"c1"}
    assert ids(corpus, sender="Marieke van Dalen <BURGEMEESTER@gemeente-test.nl>") == {"c1"}
    assert ids(corpus, sender="loco-burgemeester@gemeente-test.nl") == {"m4"}
    assert ids(corpus, sender="burgemeester") == {"c1", "m4"}  # a word of the name or address
    assert ids(corpus, recipient="bos@gemeente-test.nl") == set()
    assert ids(corpus, recipient="thijs.bos@gemeente-test.nl") == {"m4"}
    # filters with text AND together, whichever way each is stored
    assert ids(corpus, "fietsbrug", folder="Inbox", date_from=date(2026, 5, 3)) == {"m4"}
    assert ids(corpus, "fietsbrug", folder="Inbox/Woo 2026", kinds=["mail"], has_attachment=False) == {"m4"}
    assert ids(corpus, "fietsbrug", kinds=["chat-message"], recipient="griffier@gemeente-test.nl") == {"c1"}
    assert ids(corpus, "fietsbrug", kinds=["chat-message"], date_to=date(2026, 3, 9)) == set()


def test_period_is_inclusive_in_dutch_days(corpus: SearchIndex) -> None:
    # m2 was sent 2026-04-30 22:30 UTC = 1 May 00:30 in Amsterdam.
    assert "m2" in ids(corpus, date_from=date(2026, 5, 1), date_to=date(2026, 5, 1))
    assert "m2" not in ids(corpus, date_to=date(2026, 4, 30))
    assert ids(corpus, date_from=date(2026, 5, 2)) == {"m3", "m3:1"}
    assert ids(corpus, date_from=date(2026, 3, 10), date_to=date(2026, 3, 10)) == {"c1", "c1b"}
    assert "i1" not in ids(corpus, date_from=date(2000, 1, 1))  # no date: outside every period


def test_hits_paging_order_and_duplicates(corpus: SearchIndex) -> None:
    result = corpus.search(SearchQuery(limit=2))
    assert result.total == 7 and len(result.hits) == 2
    everything = corpus.search(SearchQuery(limit=100)).hits
    dates = [h.date for h in everything if h.date is not None]
    assert dates == sorted(dates, reverse=True)  # newest first, undated last
    assert everything[-1].doc_id == "i1"
    page2 = corpus.search(SearchQuery(limit=2, offset=2)).hits
    assert [h.doc_id for h in page2] == [h.doc_id for h in everything[2:4]]
    [hit] = corpus.search(SearchQuery(text="terrassen")).hits
    assert (
        hit.title == "Café-overleg" and hit.official == "Sanne Visser" and hit.folder_path == "Inbox/Woo 2026"
    )
    assert "[[terrassen]]" in hit.snippet and hit.duplicates == 1 and hit.kind == "mail"
    chats = corpus.search(SearchQuery(text="kademuur")).hits
    assert {h.duplicates for h in chats} == {2} and {h.duplicate_key for h in chats} == {"chat:19:x:1"}
    [att] = corpus.search(SearchQuery(text="45000")).hits
    assert att.title == "begroting.xlsx" and att.parent_id == "m3"
    ranked = corpus.search(SearchQuery(text="fietsbrug", order="relevance")).hits
    assert {h.doc_id for h in ranked} == {"m1", "c1"}


def test_get_duplicates_children_and_replace(corpus: SearchIndex) -> None:
    got = corpus.get("m2")
    assert got is not None and got.cc == ("Ruud Jansen <ruud.jansen@gemeente-test.nl>",)
    assert got.date == datetime(2026, 4, 30, 22, 30, tzinfo=UTC) and "terrassen" in got.body
    assert corpus.get("nope") is None
    assert [d.doc_id for d in corpus.duplicates_of("chat:19:x:1")] == ["c1", "c1b"]
    assert [d.doc_id for d in corpus.children_of("m3")] == ["m3:1"]
    corpus.add([document("m1", subject="Vervangen", body="Nu over de sluis.")])
    assert ids(corpus, "fietsbrug") == {"c1"} and ids(corpus, "sluis") == {"m1"}
    assert corpus.stats()["documents"] == 7


def test_records_marks_clear_and_reopen(index_url: str) -> None:
    first = open_index(index_url)
    first.add([document("r1", body="waterschap")])
    first.mark_records(["r1", "r-empty"])
    assert first.completed_at() is None  # documents added, but no pass over a vault finished
    first.mark_completed(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    first.close()
    again = open_index(index_url)  # the schema is created idempotently
    try:
        assert again.completed_at() == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
        assert again.indexed_records() == {"r1", "r-empty"}
        assert ids(again, "waterschap") == {"r1"}
        again.clear()
        assert again.indexed_records() == set() and again.stats()["documents"] == 0
        assert again.completed_at() is None  # a rebuild has begun
        assert ids(again, "waterschap") == set()
    finally:
        again.close()


def test_an_index_of_an_older_layout_asks_for_a_rebuild(index_url: str) -> None:
    old = open_index(index_url)
    old.add([document("r1", body="waterschap")])
    old.close()
    if index_url.startswith("sqlite"):
        import sqlite3

        from capstone.index.sqlite import path_of

        with sqlite3.connect(path_of(index_url)) as db:
            db.execute("UPDATE meta SET value = '1' WHERE name = 'schema'")
    else:
        import psycopg

        from capstone.index.postgres import conninfo_of

        with psycopg.connect(conninfo_of(index_url), autocommit=True) as db:
            db.execute("DELETE FROM search_meta")  # as written before the layout was recorded
    again = open_index(index_url)
    try:
        for use in (
            lambda: again.search(SearchQuery(text="waterschap")),
            lambda: again.add([document("r2", body="dijk")]),
            again.indexed_records,
        ):
            with pytest.raises(IndexOutdatedError, match="capstone index rebuild"):
                use()
        again.clear()  # what `index rebuild` does first
        again.add([document("r2", body="dijk")])
        assert ids(again, "dijk") == {"r2"} and ids(again, "waterschap") == set()
    finally:
        again.close()
    reopened = open_index(index_url)
    try:
        assert ids(reopened, "dijk") == {"r2"}
    finally:
        reopened.close()
