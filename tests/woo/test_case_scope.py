"""A Woo case's scope (officials, period) limits every search, view, export and transcript in it;
widening it is its own audited act with a reason; a case without a scope allows no content access."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from capstone.access import AccessDenied
from capstone.audit.log import AuditLog
from capstone.index.model import SearchQuery
from capstone.services import open_vault, state_engine
from capstone.settings import Settings
from capstone.woo.cases import CaseError
from capstone.woo.scope import CaseScope
from capstone.woo.service import WooService
from connectors.simulator.server import run_simulator
from tests.capture.conftest import SEED, CaptureWorld, register_sample_officials, simulator_settings
from tests.woo.test_export_end_to_end import ALDERMAN, BODY, MAYOR, plant

pytestmark = pytest.mark.slow
MAYOR_NAME, ALDERMAN_NAME = "Marieke van Dalen", "Fatima El Amrani"


@pytest.fixture(scope="module")
def captured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """One capture of the small tenant with a mail planted in the mayor's and the alderman's
    mailboxes (and a chat message), indexed; shared by the tests of this module."""
    home = tmp_path_factory.mktemp("scope-home")
    with run_simulator(seed=SEED, profile="small") as sim:
        configured = simulator_settings(Settings(home=home), sim)
        open_vault(configured, create=True).close()
        register_sample_officials(configured)
        world = CaptureWorld(configured, sim)
        plant(world)
        runs = world.capture(source=None)
        assert runs and all(r.status == "complete" for r in runs)
        yield configured.model_copy(update={"roles": {"anna": ["woo-officer"], "otto": ["auditor"]}})


def officer(settings: Settings) -> WooService:
    return WooService(settings.model_copy(update={"user": "anna"}))


def test_search_view_and_export_stay_inside_the_officials(captured: Settings, tmp_path: Path) -> None:
    woo = officer(captured)
    woo.open_case(
        ref="WOO-2026-101", received=date(2026, 11, 2), subject="Haven",
        scope=woo.resolve_scope(officials=[MAYOR_NAME]),
    )  # fmt: skip
    # The planted mail is in both mailboxes; the case sees the mayor's copy only.
    result = woo.search("WOO-2026-101", SearchQuery(text=BODY))
    assert result.total == 1 and {h.account for h in result.hits} == {MAYOR}
    with pytest.raises(AccessDenied, match="outside the scope"):
        woo.search("WOO-2026-101", SearchQuery(text=BODY, officials=(ALDERMAN_NAME,)))

    # The alderman's copy, found in another case, is refused here; the mayor's shows no copy outside.
    woo.open_case(
        ref="WOO-2026-102", received=date(2026, 11, 2), subject="Haven, wethouder",
        scope=woo.resolve_scope(officials=[ALDERMAN_NAME]),
    )  # fmt: skip
    [theirs] = woo.search("WOO-2026-102", SearchQuery(text=BODY)).hits
    assert theirs.account == ALDERMAN
    with pytest.raises(AccessDenied, match="outside the scope"):
        woo.view("WOO-2026-101", theirs.doc_id)
    view = woo.view("WOO-2026-101", result.hits[0].doc_id)
    assert view.duplicates == []

    report = woo.export("WOO-2026-101", tmp_path / "export")
    sources = " ".join(source for row in report.rows for source in row.sources)
    assert report.rows and MAYOR in sources and ALDERMAN not in sources
    assert [row for row in report.rows if row.beoordeling == "dubbel"] == []  # no copy outside the scope

    refusals = [
        (e.action, e.case_ref)
        for e in AuditLog(state_engine(captured)).entries()
        if e.outcome == "refused" and "outside the scope" in str(e.detail.get("reason"))
    ]
    assert refusals == [("search", "WOO-2026-101"), ("view", "WOO-2026-101")]


def test_the_period_limits_search_view_and_transcripts(captured: Settings, tmp_path: Path) -> None:
    woo = officer(captured)
    everyone = [MAYOR_NAME, ALDERMAN_NAME]
    woo.open_case(
        ref="WOO-2026-103", received=date(2026, 11, 2), subject="Oud",
        scope=woo.resolve_scope(officials=everyone, date_from=date(2001, 1, 1), date_to=date(2001, 12, 31)),
    )  # fmt: skip
    assert woo.search("WOO-2026-103", SearchQuery(text=BODY)).total == 0
    with pytest.raises(AccessDenied, match="outside the scope"):
        woo.search("WOO-2026-103", SearchQuery(text=BODY, date_from=date(2026, 1, 1)))
    woo.open_case(
        ref="WOO-2026-104", received=date(2026, 11, 2), subject="Alles",
        scope=woo.resolve_scope(officials=everyone),
    )  # fmt: skip
    hit = woo.search("WOO-2026-104", SearchQuery(text=BODY)).hits[0]
    with pytest.raises(AccessDenied, match="outside the scope"):
        woo.view("WOO-2026-103", hit.doc_id)

    # Transcripts: every chat of the officials for the open period, none for 2001.
    every = woo.chat_transcripts("WOO-2026-104", tmp_path / "all")
    assert every
    assert woo.chat_transcripts("WOO-2026-103", tmp_path / "old") == []
    with pytest.raises(AccessDenied, match="outside the scope"):
        woo.chat_transcripts("WOO-2026-103", tmp_path / "one.html", chat_id=every[0].chat_id)
    assert not (tmp_path / "one.html").exists()


def test_widening_is_audited_with_its_reason_and_cannot_narrow(captured: Settings) -> None:
    woo = officer(captured)
    woo.open_case(
        ref="WOO-2026-105", received=date(2026, 11, 2), subject="Haven",
        scope=woo.resolve_scope(officials=[MAYOR_NAME]),
    )  # fmt: skip
    wider = woo.resolve_scope(officials=[MAYOR_NAME, ALDERMAN_NAME])
    with pytest.raises(CaseError, match="reason"):
        woo.widen_case("WOO-2026-105", wider, reason=" ")
    woo.widen_case("WOO-2026-105", wider, reason="verzoeker noemt ook de wethouder")
    assert woo.search("WOO-2026-105", SearchQuery(text=BODY)).total == 2
    with pytest.raises(CaseError, match="does not hold the current one"):
        woo.widen_case("WOO-2026-105", CaseScope(officials=(ALDERMAN_NAME,)), reason="smaller")

    entries = [
        e
        for e in AuditLog(state_engine(captured)).entries(case_ref="WOO-2026-105")
        if e.action == "case-widen"
    ]
    assert [e.outcome for e in entries] == ["refused", "allowed", "refused"]
    allowed = entries[1].detail
    assert allowed["justification"] == "verzoeker noemt ook de wethouder"
    assert allowed["before"]["officials"] == [MAYOR_NAME]
    assert allowed["scope"]["officials"] == [MAYOR_NAME, ALDERMAN_NAME]


def test_a_case_without_a_scope_allows_no_content_until_one_is_set(captured: Settings) -> None:
    woo = officer(captured)
    woo.open_case(ref="WOO-2026-106", received=date(2026, 11, 2), subject="Van vóór de scopes")
    with pytest.raises(AccessDenied, match="no recorded scope"):
        woo.search("WOO-2026-106", SearchQuery(text=BODY))
    woo.widen_case("WOO-2026-106", woo.resolve_scope(officials=[MAYOR_NAME]), reason="scope vastgelegd")
    assert woo.search("WOO-2026-106", SearchQuery(text=BODY)).total == 1
    with pytest.raises(ValueError, match="no official"):
        woo.resolve_scope(officials=["Niemand"])


def test_the_cli_opens_with_a_scope_and_widens_with_a_reason(captured: Settings) -> None:
    from click.testing import CliRunner

    from capstone.cli.context import AppContext
    from capstone.cli.woo import group as woo_cli

    runner = CliRunner()
    app = AppContext(settings=captured.model_copy(update={"user": "anna"}))
    opening = ["case", "open", "--ref", "WOO-2026-107", "--received", "2026-11-02", "--subject", "Haven"]
    unscoped = runner.invoke(woo_cli, opening, obj=app)
    assert unscoped.exit_code != 0 and "--official or --designation" in unscoped.output
    opened = runner.invoke(woo_cli, [*opening, "--official", MAYOR_NAME, "--to", "2030-12-31"], obj=app)
    assert opened.exit_code == 0, opened.output
    no_reason = runner.invoke(
        woo_cli, ["case", "widen", "--case", "WOO-2026-107", "--official", ALDERMAN_NAME], obj=app
    )
    assert no_reason.exit_code == 2 and "--reason" in no_reason.output
    widened = runner.invoke(
        woo_cli,
        [
            "case",
            "widen",
            "--case",
            "WOO-2026-107",
            "--official",
            ALDERMAN_NAME,
            "--reason",
            "ook de wethouder",
        ],
        obj=app,
    )
    assert widened.exit_code == 0, widened.output
    shown = runner.invoke(woo_cli, ["case", "show", "WOO-2026-107", "--json"], obj=app)
    scope = json.loads(shown.output)["scope"]
    assert scope["officials"] == [MAYOR_NAME, ALDERMAN_NAME] and scope["to"] == "2030-12-31"
