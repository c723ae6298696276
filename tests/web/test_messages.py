"""Service refusals keep their English message (CLI, logs) and carry a code the web says in Dutch;
capture warnings are shown in Dutch by their kind."""

from __future__ import annotations

import pytest

from capstone.access import AccessDenied
from capstone.capture.runner import RunCause, run_reason
from capstone.web.messages import FALLBACK, capture_warning, dutch, job_error, kind_name
from capstone.web.messages import run_reason as dutch_run_reason
from capstone.woo.cases import CaseError, UnknownCaseError
from capstone.woo.grounds import GroundError, Judgement, parse_ground
from capstone.woo.review import MarkInput, ReviewInputError


def test_a_refusal_keeps_english_and_is_said_in_dutch_by_its_code() -> None:
    with pytest.raises(GroundError) as ground:
        parse_ground("5.1.9z")
    assert str(ground.value).startswith("unknown ground code")  # the CLI's message
    assert ground.value.code == "ground-unknown"
    assert dutch(ground.value) == "5.1.9z is geen weigeringsgrond van de Woo; kies er een uit de lijst."
    with pytest.raises(GroundError) as judgement:
        Judgement.parse("misschien")
    assert dutch(judgement.value).startswith("Kies een beoordeling")
    with pytest.raises(ReviewInputError) as region:
        MarkInput("region", "5.1.2e", page=1, rect=(300, 10, 100, 20)).checked()
    assert "inverted rectangle" in str(region.value) and dutch(region.value).startswith("Het gebied is leeg")


def test_parameters_fill_the_dutch_sentence_and_unknown_errors_fall_back_by_type() -> None:
    denied = AccessDenied("x may not search", code="role-missing", roles=("woo-officer", "auditor"))
    assert (
        dutch(denied) == "U heeft hiervoor de rol Woo-behandelaar (woo-officer) of auditor (auditor) nodig."
    )
    state = ReviewInputError("mark m is accepted", code="mark-state", status="accepted", wanted="rejected")
    assert dutch(state) == "Deze lakmarkering is geaccepteerd; ze kan niet meer afgewezen worden."
    assert dutch(UnknownCaseError("no Woo case X")) == "Dit Woo-verzoek bestaat niet."
    assert dutch(CaseError("something new")).startswith("De invoer voor dit Woo-verzoek is niet geldig")
    assert dutch(RuntimeError("boom")) == FALLBACK
    # a parameter the error did not carry: the sentence up to it
    assert dutch(CaseError("no Woo case Z", code="case-unknown")) == "Er is geen Woo-verzoek met kenmerk"
    assert job_error("ExportError ValueError Exception") == "De export is mislukt; er is niets geschreven."
    assert job_error("interrupted").startswith("Deze taak is onderbroken")


def test_capture_warnings_in_dutch_by_kind() -> None:
    stale = {"designation_id": "d1", "account": "a@x.nl", "official": "Jan", "last_complete_run": "r1",
             "last_complete_at": "2026-01-01T00:00:00+00:00", "age_seconds": 4 * 86400.0,
             "max_age_seconds": 86400.0, "message": "Teams chats of Jan ..."}  # fmt: skip
    assert capture_warning(stale) == (
        "De Teams-chats van Jan (a@x.nl) zijn 4 dagen geleden voor het laatst volledig vastgelegd; "
        "dat mag hoogstens 24 uur zijn."
    )
    never = {
        "kind": "phone-import",
        "official": "Jan",
        "last_import_at": None,
        "max_age_seconds": 31 * 86400.0,
    }
    assert capture_warning(never).endswith("nog nooit geïmporteerd; dat moet minstens elke 31 dagen.")
    unscheduled = {"designation_id": "d2", "official": "Piet", "accounts": ["p@x.nl"], "error": "bad"}
    assert capture_warning(unscheduled) == "De aanwijzing van Piet kan niet worden ingepland: bad"


def test_a_runs_reason_is_said_in_dutch_from_the_same_summary_the_cli_words_in_english() -> None:
    summary = {
        "uncapturable": [{"item_id": "a", "error": "HTTP 500: boom"}],
        "reconciliation": {"complete": False, "differences": ["x", "y"]},
        "error": None,
    }
    assert run_reason("incomplete", summary) == (
        "1 item(s) or part(s) not captured (open errors, retried by the next run); "
        "reconciliation found 2 unexplained difference(s)"
    )
    assert dutch_run_reason("incomplete", RunCause.of(summary)) == [
        "1 item of onderdeel is niet vastgelegd: ze staan als open fout geregistreerd en de volgende run "
        "probeert ze opnieuw.",
        "De reconciliatie vond 2 onverklaarde verschillen tussen bron en kluis.",
    ]
    failed = RunCause.of({"error": "token endpoint refused: HTTP 401\ntraceback"})
    assert dutch_run_reason("failed", failed) == [
        "De run is afgebroken door een fout (technische melding: token endpoint refused: HTTP 401)."
    ]
    assert dutch_run_reason("complete", RunCause.of(summary)) == []
    assert dutch_run_reason("incomplete", RunCause.of({})) == [
        "De run is niet volledig afgerond; de volgende run gaat verder waar deze stopte."
    ]


def test_every_document_kind_has_a_dutch_name() -> None:
    from typing import get_args

    from capstone.index.model import DocumentKind

    names = {kind: kind_name(kind) for kind in get_args(DocumentKind)}
    assert all(name and name != kind for kind, name in names.items()), names
    assert names["mail"] == "e-mail" and names["attachment"] == "bijlage"
