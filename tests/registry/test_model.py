"""Pure checks without a database: validation of what people enter, and replay of events."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

from capstone.registry import Account, Category, EventType, FieldError, RegistryEvent, ValidationError
from capstone.registry.model import ReplayError, replay
from capstone.registry.tables import metadata
from capstone.registry.validation import (
    normalise_address,
    normalise_object_id,
    parse_bool,
    parse_date,
    validate_draft,
)
from tests.registry.conftest import make_draft


def test_addresses_are_checked_without_dns_and_normalised() -> None:
    assert normalise_address("  Burgemeester@GEMEENTE-DEMO.nl ", "mail") == "burgemeester@gemeente-demo.nl"
    for bad in (
        "burgemeester",
        "a@b",
        "a b@gemeente-demo.nl",
        "a@localhost",
        "a@example.invalid",
        '"a b"@x.nl',
    ):
        with pytest.raises(FieldError) as caught:
            normalise_address(bad, "aliases")
        assert caught.value.field == "aliases"


def test_object_ids_dates_and_flags() -> None:
    assert (
        normalise_object_id("{5B0C7A34-1F2E-4D6A-9C1B-0A1B2C3D4E01}")
        == "5b0c7a34-1f2e-4d6a-9c1b-0a1b2c3d4e01"
    )
    with pytest.raises(FieldError, match="entra_object_id: 'xyz' is not an Entra ID object id"):
        normalise_object_id("xyz")
    assert parse_date("01-03-2025", "start_date") == date(2025, 3, 1)
    assert parse_date("2025-03-01", "start_date") == date(2025, 3, 1)
    with pytest.raises(FieldError, match="start_date: '2025-02-30' is not a date"):
        parse_date("2025-02-30", "start_date")
    assert parse_bool("Nee", "capture_chats", True) is False
    assert parse_bool("", "capture_chats", True) is True
    with pytest.raises(FieldError, match="capture_chats: 'misschien' is not yes/no"):
        parse_bool("misschien", "capture_chats", True)
    assert Category.parse("College van B&W") is Category.COLLEGE
    assert Category.parse("raadsgriffier") is Category.GRIFFIER


def test_validation_reports_every_bad_field_at_once() -> None:
    draft = make_draft(
        name="",
        mail="geen-adres",
        end_date=date(2020, 1, 1),
        accounts=(
            Account(primary_smtp="a@gemeente-demo.nl", exchange_endpoint="ews-intern"),
            Account(primary_smtp="A@gemeente-demo.nl"),
        ),
    )
    with pytest.raises(ValidationError) as caught:
        validate_draft(draft, today=date(2026, 1, 1))
    fields = {e.field for e in caught.value.errors}
    assert fields == {"name", "end_date", "accounts[1].upn", "accounts[2].mail"}
    assert "a@gemeente-demo.nl is also given in accounts[1].mail" in str(caught.value)


def _event(version: int, kind: EventType, payload: dict[str, object]) -> RegistryEvent:
    return RegistryEvent(
        event_id=f"e{version}",
        designation_id="sf-x",
        version=version,
        event_type=kind,
        payload=payload,
        actor="a",
        reason=None,
        recorded_at=datetime(2026, 1, version, tzinfo=UTC),
    )


def test_replay_refuses_a_broken_history() -> None:
    designated = _event(1, EventType.DESIGNATED, {"designation": make_draft().to_json()})
    ended = _event(2, EventType.ENDED, {"end_date": "2025-01-01", "previous_end_date": None})
    state = replay([designated, ended])
    assert state is not None and state.end_date == date(2025, 1, 1) and state.version == 2
    with pytest.raises(ReplayError, match="version 3, expected 2"):
        replay([designated, _event(3, EventType.WITHDRAWN, {})])
    with pytest.raises(ReplayError, match="before designated"):
        replay([_event(1, EventType.WITHDRAWN, {})])
    document = designated.to_document()
    assert RegistryEvent.from_document(document) == designated


def test_the_tables_match_the_migration(engine: Engine) -> None:
    """The query tables (tables.py) describe what migration 0001 created."""
    with engine.connect() as conn:
        context = MigrationContext.configure(conn)
        diff = compare_metadata(context, metadata)
        registry_tables = {t for t in sa.inspect(conn).get_table_names() if t.startswith("registry_")}
    relevant = [d for d in diff if "registry_" in repr(d) and d[0] not in ("add_index", "remove_index")]
    assert relevant == []
    assert registry_tables == set(metadata.tables)
