"""An end date of 9999-12-31 (HR's "no end date") is open-ended, and one designation the scheduler
cannot plan is reported while the others are captured (issue 16)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

import pytest

from capstone.capture import scheduler
from capstone.capture.runner import capture_status
from capstone.registry.errors import ValidationError
from capstone.registry.model import Account, CaptureWindow, Category, DesignationDraft, EventType
from capstone.registry.service import Registry
from capstone.services import state_engine
from tests.capture.conftest import CaptureWorld

GRIFFIER = "griffier@gemeente-demo.nl"
PLACEHOLDER = "9999-12-31"


def _griffier(registry: Registry) -> str:
    return next(d for d in registry.designations() if d.accounts[0].primary_smtp == GRIFFIER).designation_id


def _store_placeholder_end(world: CaptureWorld, designation_id: str) -> None:
    """What a registry holds that accepted ``registry end --date 9999-12-31`` before such dates were
    read as open-ended (the old ``end`` appended exactly this event)."""
    registry = Registry(state_engine(world.settings))
    far = date(9999, 12, 31)
    registry._change(
        designation_id,
        actor="test",
        reason="HR-export",
        event_type=EventType.ENDED,
        build=lambda current: (
            dataclasses.replace(current.draft(), end_date=far),
            {"end_date": PLACEHOLDER, "previous_end_date": None},
        ),
    )
    assert registry.get(designation_id).end_date == far


def test_a_9999_12_31_designation_is_captured_as_open_ended(world: CaptureWorld) -> None:
    registry = Registry(state_engine(world.settings))
    griffier = _griffier(registry)
    _store_placeholder_end(world, griffier)

    results = world.capture()
    assert {r.account for r in results} == world.accounts()
    assert all(r.status == "complete" for r in results), [r.error for r in results]
    target = next(
        t for t in scheduler.due_targets(registry.engine, datetime.now(UTC)) if t.account == GRIFFIER
    )
    assert target.content_until is None and not target.final
    status = capture_status(world.settings)  # crashed with OverflowError
    assert GRIFFIER in {a["account"] for a in status["accounts"]}


def test_a_placeholder_end_date_is_registered_as_open_ended(world: CaptureWorld) -> None:
    registry = Registry(state_engine(world.settings))
    griffier = _griffier(registry)
    designated = registry.designate(
        DesignationDraft(
            name="Rekenkamer Directeur",
            accounts=(Account(primary_smtp="rekenkamer@gemeente-demo.nl"),),
            function="Directeur rekenkamer",
            organisation_unit="Rekenkamer",
            category=Category.REKENKAMER,
            start_date=date(2025, 1, 1),
            end_date=date(9999, 12, 31),
            deciding_body="Directieteam Gemeente Demo",
            decision_date=date(2025, 1, 1),
            decision_reference="DT-2025-099",
        ),
        actor="test",
    )
    assert designated.end_date is None
    assert designated.capture_window().until is None
    assert CaptureWindow.for_period(date(2024, 1, 1), date(9999, 12, 31), False).until is None
    with pytest.raises(ValidationError, match="no end date"):
        registry.end(griffier, date(9999, 12, 31), actor="test", reason="x")


def test_a_designation_that_cannot_be_scheduled_is_reported_and_the_others_go_on(
    world: CaptureWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    griffier = _griffier(Registry(state_engine(world.settings)))
    real = scheduler._targets

    def broken(designation, *, final):  # type: ignore[no-untyped-def]
        if designation.designation_id == griffier:
            raise OverflowError("date value out of range")
        return real(designation, final=final)

    monkeypatch.setattr(scheduler, "_targets", broken)
    results = world.capture()
    by_account = {r.account: r for r in results}
    failed = by_account[GRIFFIER]
    assert failed.status == "failed" and failed.error and "OverflowError" in failed.error
    assert griffier in failed.error
    others = [r for a, r in by_account.items() if a != GRIFFIER]
    assert others and all(r.status == "complete" for r in others)
    warnings = capture_status(world.settings)["warnings"]
    assert any(griffier in w["message"] and "cannot be scheduled" in w["message"] for w in warnings)
