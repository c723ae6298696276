"""Dutch analysis and the query language."""

from __future__ import annotations

import pytest

from capstone.index.analysis import QuerySyntaxError, analyse, fold, parse_query, stem, tokens
from capstone.index.common import Highlighter
from capstone.index.sqlite import fts_expression


def test_folding_and_tokens() -> None:
    assert fold("Café Ideeën FINANCIËLE Ærø") == "cafe ideeen financiele aero"
    assert tokens("Woo-verzoek: e-mail a.b@gemeente-demo.nl, 2026!") == [
        "woo", "verzoek", "e", "mail", "a", "b", "gemeente", "demo", "nl", "2026",
    ]  # fmt: skip
    assert tokens("x" * 65 + " kort") == ["kort"]


def test_dutch_stems() -> None:
    assert stem("gemeenten") == stem("gemeente")
    assert stem("verzoeken") == stem("verzoek")
    assert stem(fold("financiële")) == stem("financiele")  # folded before stemming: diacritics never matter
    analysed = analyse("De gemeenten", "Café")
    assert analysed.raw == "de gemeenten cafe"
    assert analysed.stems.split()[1] == stem("gemeente")


def test_query_language() -> None:
    parsed = parse_query('fietsbrug "college van B&W" a OR b -concept -"oude versie" gemeent*')
    assert [[t.kind for t in g] for g in parsed.groups] == [
        ["word"],
        ["phrase"],
        ["word", "word"],
        ["prefix"],
    ]
    assert parsed.groups[1][0].words == ("college", "van", "b", "w")
    assert [t.words for t in parsed.excluded] == [("concept",), ("oude", "versie")]
    assert parse_query("Woo-verzoek").groups[0][0].kind == "phrase"
    assert parse_query("“gekrulde aanhalingstekens”").groups[0][0].words == ("gekrulde", "aanhalingstekens")
    assert parse_query("").empty and parse_query("   ").empty
    assert (
        fts_expression(parse_query("a OR b -c dd*"))
        == '((stem : "a" OR stem : "b") AND raw : "dd"*) NOT stem : "c"'
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('"open', "not closed"),
        ("OR a", "OR"),
        ("a OR", "OR"),
        ("a OR OR b", "OR"),
        ("a OR -b", "excluded"),
        ("-a -b", "excluded words only"),
        ("(a OR b)", "brackets"),
        ("a*b", "'*'"),
        ("g*", "at least 2"),
        ("*", "'*'"),
        ("a - b", "lone '-'"),
        ("!!! ???", "no word"),
        ("x " * 70, "at most"),
    ],
)
def test_bad_queries(text: str, message: str) -> None:
    with pytest.raises(QuerySyntaxError, match=message):
        parse_query(text)
    assert issubclass(QuerySyntaxError, ValueError)


def test_snippet_marks_stems_and_prefixes() -> None:
    text = (
        "Inleiding. " + "vulling " * 60 + "De gemeenten bespreken de Fietsbrug en het café. " + "einde " * 60
    )
    snippet = Highlighter(parse_query("gemeente café fiets*")).snippet(text)
    assert "[[gemeenten]]" in snippet and "[[Fietsbrug]]" in snippet and "[[café]]" in snippet
    assert snippet.startswith("…") and snippet.endswith("…") and len(snippet) < 300
    assert Highlighter(parse_query("onbekend")).snippet("Korte tekst.") == "Korte tekst."


def test_the_stem_cache_survives_its_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    # The cache is cleared when full; a word known before the clear must still come back stemmed.
    from capstone.index import analysis

    monkeypatch.setattr(analysis, "_CACHE_LIMIT", 3)
    monkeypatch.setattr(analysis._local, "cache", {}, raising=False)
    batches = [
        ["gemeenten", "wegen"],
        ["gemeenten", "fietsbruggen", "besluiten"],
        ["wegen", "raden", "huizen"],
    ]
    for batch in batches:  # each call mixes words seen before with new ones, past the limit
        assert analysis.stem_all(batch) == [analysis.stem(w) for w in batch]
