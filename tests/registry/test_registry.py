"""The registry service on SQLite and PostgreSQL: designations, corrections, ends, withdrawals, the
refusals, and the reconstruction of past states."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from capstone.registry import (
    Account,
    Category,
    EventType,
    OverlapError,
    Registry,
    StateError,
    UnknownDesignationError,
    ValidationError,
)
from tests.registry.conftest import Clock, make_draft


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


def _nothing_written(engine: Engine) -> bool:
    return all(
        _count(engine, t) == 0 for t in ("registry_designations", "registry_events", "registry_coverage")
    )


def test_designate_and_read_back(registry: Registry, clock: Clock) -> None:
    draft = make_draft(
        mail="Burgemeester@Gemeente-Demo.NL",
        aliases=["M.vanDalen@gemeente-demo.nl", "burgemeester@gemeente-demo.nl"],
        personnel_number="  100 234 ",
    )
    created = registry.designate(draft, actor="dt-secretaris")

    assert created.designation_id.startswith("sf-")
    assert created.version == 1
    assert created.registered_by == "dt-secretaris"
    assert created.registered_at == clock.now
    # normalised: lower case, the alias equal to the primary dropped, white space collapsed
    assert created.accounts == (
        Account(primary_smtp="burgemeester@gemeente-demo.nl", aliases=("m.vandalen@gemeente-demo.nl",)),
    )
    assert created.personnel_number == "100 234"
    assert registry.get(created.designation_id) == created
    assert [d.designation_id for d in registry.state_at(date(2024, 1, 1))] == [created.designation_id]
    assert registry.state_at(date(2023, 12, 31)) == []
    [event] = registry.history(created.designation_id)
    assert event.event_type is EventType.DESIGNATED and event.actor == "dt-secretaris"


def test_active_at_gives_capture_windows(registry: Registry) -> None:
    whole = registry.designate(make_draft(), actor="a")
    from_start = registry.designate(
        make_draft(
            mail="griffier@gemeente-demo.nl",
            name="Sanne Visser",
            category=Category.GRIFFIER,
            start_date=date(2025, 3, 1),
            end_date=date(2026, 12, 31),
            scope=make_draft().scope.__class__(include_history=False, chats=False),
        ),
        actor="a",
    )
    at = {a.designation_id: a for a in registry.active_at(datetime(2026, 6, 1, 12, tzinfo=UTC))}
    assert set(at) == {whole.designation_id, from_start.designation_id}
    assert at[whole.designation_id].window.since is None  # the whole mailbox, also before the start
    assert at[whole.designation_id].window.until is None
    window = at[from_start.designation_id].window
    assert window.since is not None and window.until is not None
    assert window.since.isoformat() == "2025-03-01T00:00:00+01:00"
    assert window.until.isoformat() == "2027-01-01T00:00:00+01:00"  # end date inclusive
    assert window.contains(datetime(2026, 12, 31, 22, 59, tzinfo=UTC))
    assert not window.contains(datetime(2026, 12, 31, 23, 0, tzinfo=UTC))
    assert at[from_start.designation_id].scope.chats is False
    # before the griffier's start only the burgemeester is active
    early = registry.active_at(datetime(2025, 2, 28, 22, 59, tzinfo=UTC))
    assert [a.designation_id for a in early] == [whole.designation_id]


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"mail": "burgemeester-at-gemeente-demo.nl"}, "mail", "not a valid e-mail address"),
        ({"mail": "burgemeester@gemeente-demo"}, "mail", "not a valid e-mail address"),
        ({"mail": "burgemeester@gemeente.test"}, "mail", "special-use or reserved"),
        ({"aliases": ["x@@gemeente-demo.nl"]}, "aliases", "not a valid e-mail address"),
        ({"end_date": date(2023, 12, 31)}, "end_date", "lies before start_date 2024-01-01"),
        ({"name": "   "}, "name", "is required"),
        ({"decision_date": date(2030, 1, 1)}, "decision_date", "lies in the future"),
    ],
)
def test_invalid_designations_are_refused_and_write_nothing(
    registry: Registry, engine: Engine, overrides: dict[str, object], field: str, fragment: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        registry.designate(make_draft(**overrides), actor="a")
    assert any(e.field == field and fragment in e.message for e in caught.value.errors), str(caught.value)
    assert str(caught.value).startswith(f"{field}: ") or f"; {field}: " in str(caught.value)
    assert _nothing_written(engine)


def test_overlapping_coverage_is_refused_with_the_account_and_designation(
    registry: Registry, engine: Engine
) -> None:
    first = registry.designate(make_draft(end_date=date(2024, 12, 31)), actor="a")
    before = _count(engine, "registry_events")
    with pytest.raises(OverlapError) as caught:
        # a different person, but an alias reaching the same mailbox, in an overlapping period
        registry.designate(
            make_draft(
                name="Waarnemend burgemeester",
                mail="waarnemer@gemeente-demo.nl",
                aliases=["BURGEMEESTER@gemeente-demo.nl"],
                start_date=date(2024, 12, 31),
            ),
            actor="a",
        )
    message = str(caught.value)
    assert "burgemeester@gemeente-demo.nl" in message and first.designation_id in message
    assert message.startswith("mail: overlapping coverage")
    assert _count(engine, "registry_events") == before
    # the day after the first one ends the account is free: a person may hold several designations
    second = registry.designate(make_draft(start_date=date(2025, 1, 1)), actor="a")
    assert [d.designation_id for d in registry.state_at(date(2024, 12, 31))] == [first.designation_id]
    assert [d.designation_id for d in registry.state_at(date(2025, 1, 1))] == [second.designation_id]


def test_open_ended_designation_blocks_every_later_start(registry: Registry) -> None:
    registry.designate(make_draft(), actor="a")
    with pytest.raises(OverlapError):
        registry.designate(make_draft(start_date=date(2040, 1, 1)), actor="a")
    # an Entra object id is an account key of its own
    oid = "5B0C7A34-1F2E-4D6A-9C1B-0A1B2C3D4E01"
    registry.designate(
        make_draft(
            mail="wethouder.financien@gemeente-demo.nl",
            accounts=(Account(primary_smtp="wethouder.financien@gemeente-demo.nl", entra_object_id=oid),),
        ),
        actor="a",
    )
    with pytest.raises(OverlapError, match="5b0c7a34-1f2e-4d6a-9c1b-0a1b2c3d4e01"):
        registry.designate(
            make_draft(
                accounts=(Account(primary_smtp="ander@gemeente-demo.nl", entra_object_id=oid.lower()),)
            ),
            actor="a",
        )


def test_correct_end_withdraw_are_new_events(registry: Registry, clock: Clock) -> None:
    d = registry.designate(make_draft(), actor="registrar")
    clock.advance(days=1)
    corrected = registry.correct(
        d.designation_id,
        actor="registrar",
        reason="functietitel verkeerd",
        function="Burgemeester en voorzitter raad",
    )
    assert corrected.version == 2 and corrected.function == "Burgemeester en voorzitter raad"
    clock.advance(days=1)
    ended = registry.end(d.designation_id, date(2026, 6, 30), actor="registrar", reason="einde ambtstermijn")
    assert ended.end_date == date(2026, 6, 30) and ended.version == 3
    history = registry.history(d.designation_id)
    assert [(e.version, e.event_type, e.reason) for e in history] == [
        (1, EventType.DESIGNATED, None),
        (2, EventType.CORRECTED, "functietitel verkeerd"),
        (3, EventType.ENDED, "einde ambtstermijn"),
    ]
    assert history[1].payload["changed"] == ["function"]
    assert history[2].payload == {"end_date": "2026-06-30", "previous_end_date": None}
    assert registry.state_at(date(2026, 7, 1)) == []
    # ending on the start date is fine, before it is not
    with pytest.raises(ValidationError, match="end_date: 2023-12-31 lies before start_date"):
        registry.end(d.designation_id, date(2023, 12, 31), actor="registrar", reason="x")
    with pytest.raises(ValidationError, match="reason: is required"):
        registry.end(d.designation_id, date(2026, 5, 1), actor="registrar", reason="  ")
    with pytest.raises(ValidationError, match="nothing to correct"):
        registry.correct(d.designation_id, actor="r", reason="x", function="Burgemeester en voorzitter raad")
    assert len(registry.history(d.designation_id)) == 3


def test_correction_may_not_create_an_overlap(registry: Registry, engine: Engine) -> None:
    mayor = registry.designate(make_draft(), actor="a")
    alderman = registry.designate(
        make_draft(name="Henk Jansen", mail="wethouder.financien@gemeente-demo.nl"), actor="a"
    )
    with pytest.raises(OverlapError, match=mayor.designation_id):
        registry.correct(
            alderman.designation_id,
            actor="a",
            reason="typo",
            accounts=(Account(primary_smtp="burgemeester@gemeente-demo.nl"),),
        )
    assert registry.get(alderman.designation_id).version == 1
    assert _count(engine, "registry_events") == 2


def test_withdrawn_designation_frees_the_account_and_cannot_change(registry: Registry) -> None:
    wrong = registry.designate(make_draft(name="Verkeerde persoon"), actor="a")
    withdrawn = registry.withdraw(wrong.designation_id, actor="a", reason="verkeerde persoon aangewezen")
    assert withdrawn.withdrawn and withdrawn.withdrawal_reason == "verkeerde persoon aangewezen"
    assert registry.state_at(date(2025, 1, 1)) == []
    assert registry.designations() == []
    assert [d.designation_id for d in registry.designations(include_withdrawn=True)] == [wrong.designation_id]
    right = registry.designate(make_draft(), actor="a")  # the account is free again
    assert [d.designation_id for d in registry.state_at(date(2025, 1, 1))] == [right.designation_id]
    with pytest.raises(StateError, match="withdrawn"):
        registry.correct(wrong.designation_id, actor="a", reason="x", function="Wethouder")
    with pytest.raises(StateError):
        registry.withdraw(wrong.designation_id, actor="a", reason="again")


def test_unknown_designation_id(registry: Registry) -> None:
    for action in (
        lambda: registry.get("sf-doesnotexist"),
        lambda: registry.history("sf-doesnotexist"),
        lambda: registry.end("sf-doesnotexist", date(2025, 1, 1), actor="a", reason="x"),
        lambda: registry.correct("sf-doesnotexist", actor="a", reason="x", name="X"),
        lambda: registry.withdraw("sf-doesnotexist", actor="a", reason="x"),
    ):
        with pytest.raises(UnknownDesignationError, match="unknown designation id 'sf-doesnotexist'"):
            action()


def test_reconstruction_of_past_states(registry: Registry, clock: Clock) -> None:
    """Valid time (who was designated on D) and recording time (as registered at T) both work."""
    t1 = clock.now
    mayor = registry.designate(make_draft(), actor="a")
    t2 = clock.advance(days=10)
    clerk = registry.designate(
        make_draft(name="Sanne Visser", mail="griffier@gemeente-demo.nl", category=Category.GRIFFIER),
        actor="a",
    )
    t3 = clock.advance(days=10)
    registry.correct(mayor.designation_id, actor="a", reason="typo", name="Marieke van Dalen-Smit")
    t4 = clock.advance(days=10)
    registry.end(clerk.designation_id, date(2025, 6, 30), actor="a", reason="vertrek")
    t5 = clock.advance(days=10)
    wrong = registry.designate(
        make_draft(name="Abuis", mail="abuis@gemeente-demo.nl", start_date=date(2025, 1, 1)), actor="a"
    )
    t6 = clock.advance(days=10)
    registry.withdraw(wrong.designation_id, actor="a", reason="abuis")
    clock.advance(days=1)

    def names(on: date, as_of: datetime | None = None) -> list[str]:
        return sorted(d.name for d in registry.state_at(on, as_of=as_of))

    day = date(2025, 9, 1)
    assert names(day, as_of=t1) == ["Marieke van Dalen"]
    assert names(day, as_of=t2) == ["Marieke van Dalen", "Sanne Visser"]
    assert names(day, as_of=t3) == ["Marieke van Dalen-Smit", "Sanne Visser"]
    assert names(day, as_of=t4) == ["Marieke van Dalen-Smit"]  # the clerk's end was recorded at t4
    assert names(day, as_of=t5) == ["Abuis", "Marieke van Dalen-Smit"]
    assert names(day, as_of=t6) == ["Marieke van Dalen-Smit"]
    assert names(day) == ["Marieke van Dalen-Smit"]
    # as known now: the clerk was designated on a day before her end, the erroneous one never was
    assert names(date(2025, 6, 30)) == ["Marieke van Dalen-Smit", "Sanne Visser"]
    assert names(date(2023, 12, 31)) == []
    # before anything was recorded the registry was empty; a designation is unknown before it existed
    assert names(day, as_of=datetime(2026, 1, 1, tzinfo=UTC)) == []
    with pytest.raises(UnknownDesignationError):
        registry.get(clerk.designation_id, as_of=t1)
    assert registry.get(mayor.designation_id, as_of=t2).name == "Marieke van Dalen"


def test_events_are_append_only_in_the_database(registry: Registry, engine: Engine) -> None:
    registry.designate(make_draft(), actor="a")
    for statement in ("UPDATE registry_events SET actor = 'mallory'", "DELETE FROM registry_events"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(sa.text(statement))
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM registry_event_archive"))
    assert _count(engine, "registry_events") == 1
    assert registry.history(registry.designations()[0].designation_id)[0].actor == "a"


def test_overlap_is_enforced_by_the_database_itself(registry: Registry, engine: Engine) -> None:
    """Bypassing the service's own check, the database still refuses overlapping coverage."""
    d = registry.designate(make_draft(end_date=date(2025, 12, 31)), actor="a")
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO registry_designations (designation_id, created_at) VALUES ('sf-intruder', :t)"
            ),
            {"t": datetime(2026, 1, 1, tzinfo=UTC)},
        )
    insert = sa.text(
        "INSERT INTO registry_coverage (designation_id, account_key, start_date, end_date) "
        "VALUES ('sf-intruder', 'addr:burgemeester@gemeente-demo.nl', :start, :end)"
    )
    for start, end in [
        (date(2025, 12, 31), None),
        (date(2020, 1, 1), date(2024, 1, 1)),
        (date(2024, 6, 1), date(2024, 6, 2)),
    ]:
        with pytest.raises(IntegrityError, match="registry_coverage_no_overlap"), engine.begin() as conn:
            conn.execute(insert, {"start": start, "end": end})
    with engine.begin() as conn:  # adjacent periods are not an overlap
        conn.execute(insert, {"start": date(2026, 1, 1), "end": None})
    # widening an existing row into overlap is refused too (UPDATE)
    with pytest.raises(IntegrityError, match="registry_coverage_no_overlap"), engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE registry_coverage SET end_date = NULL WHERE designation_id = :d"),
            {"d": d.designation_id},
        )
    assert _count(engine, "registry_coverage") == 2
