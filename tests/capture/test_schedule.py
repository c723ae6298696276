"""The scheduler follows the registry: ended designations get one final capture, then none."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from capstone.capture.scheduler import due_targets
from capstone.registry.service import Registry
from capstone.services import state_engine
from tests.capture.conftest import CaptureWorld

GRIFFIER = "griffier@gemeente-demo.nl"


def test_an_ended_designation_gets_one_final_capture(world: CaptureWorld) -> None:
    engine = state_engine(world.settings)
    registry = Registry(engine)
    griffier = next(d for d in registry.designations() if d.accounts[0].primary_smtp == GRIFFIER)
    now = datetime.now(UTC)
    assert any(t.account == GRIFFIER and not t.final for t in due_targets(engine, now))

    registry.end(griffier.designation_id, date.today() - timedelta(days=2), actor="test", reason="vertrokken")
    finals = [t for t in due_targets(engine, now) if t.account == GRIFFIER]
    assert [t.final for t in finals] == [True]
    assert finals[0].content_until is not None  # content after the end date is out of scope

    results = world.capture(designation_id=griffier.designation_id)
    assert [r.status for r in results] == ["complete"]
    assert not [t for t in due_targets(engine, now) if t.account == GRIFFIER]  # never again
    assert {t.account for t in due_targets(engine, now)} == world.accounts() - {GRIFFIER}


def test_an_unreachable_account_fails_alone_and_its_run_is_still_chained(world: CaptureWorld) -> None:
    from capstone.registry.model import Account, Category, DesignationDraft

    registry = Registry(state_engine(world.settings))
    registry.designate(
        DesignationDraft(
            name="Onbekende Rekenkamer",
            accounts=(Account(primary_smtp="rekenkamer@gemeente-demo.nl"),),  # no such mailbox in the tenant
            function="Directeur rekenkamer",
            organisation_unit="Rekenkamer",
            category=Category.REKENKAMER,
            start_date=date(2025, 1, 1),
            deciding_body="Directieteam Gemeente Demo",
            decision_date=date(2025, 1, 1),
            decision_reference="DT-2025-099",
        ),
        actor="test",
    )
    results = {r.account: r for r in world.capture()}
    missing = results["rekenkamer@gemeente-demo.nl"]
    assert missing.status == "failed" and missing.error and "404" in missing.error
    assert missing.manifest_key is not None  # a failed run is still recorded in the chain
    assert all(r.status == "complete" for a, r in results.items() if a != "rekenkamer@gemeente-demo.nl")
    summary = world.vault().read_manifest(missing.manifest_key)["summary"]
    assert summary["status"] == "failed" and summary["account"] == "rekenkamer@gemeente-demo.nl"
