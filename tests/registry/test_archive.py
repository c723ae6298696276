"""Registry events in the vault: each event is a write-once record; a failed archive heals on the next
command; the history can be rebuilt from the vault after the loss of the database."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine

from capstone.db import open_database
from capstone.registry import ArchiveItem, ArchiveReceipt, Category, Registry
from capstone.registry.archive import archive_to_vault, events_in_vault, vault_archive
from tests.registry.conftest import Clock, make_draft
from vault import Vault


def _history_of_three(registry: Registry, clock: Clock) -> list[str]:
    mayor = registry.designate(make_draft(), actor="registrar")
    clock.advance(hours=1)
    clerk = registry.designate(
        make_draft(name="Sanne Visser", mail="griffier@gemeente-demo.nl", category=Category.GRIFFIER),
        actor="r",
    )
    clock.advance(hours=1)
    registry.correct(mayor.designation_id, actor="registrar", reason="typo", function="Burgemeester a.i.")
    clock.advance(hours=1)
    registry.end(clerk.designation_id, date(2025, 12, 31), actor="registrar", reason="vertrek")
    clock.advance(hours=1)
    wrong = registry.designate(make_draft(name="Abuis", mail="abuis@gemeente-demo.nl"), actor="r")
    clock.advance(hours=1)
    registry.withdraw(wrong.designation_id, actor="registrar", reason="abuis")
    return [mayor.designation_id, clerk.designation_id, wrong.designation_id]


def test_every_event_becomes_a_registry_event_record(registry: Registry, vault: Vault, clock: Clock) -> None:
    _history_of_three(registry, clock)
    events = registry.events()
    assert len(events) == 6
    assert registry.pending_events() == []
    records = {r.source["event_id"]: r for r in vault.iter_records(kind="registry-event")}
    assert set(records) == {e.event_id for e in events}
    for event in events:
        record = records[event.event_id]
        assert record.capture["actor"] == event.actor
        assert record.capture["connector"] == "capstone-registry"
        assert record.designation is not None and record.designation["designation_id"] == event.designation_id
        assert record.blob_sha256 is not None
        assert json.loads(vault.read_blob(record.blob_sha256)) == json.loads(json.dumps(event.to_document()))
    manifests = vault.stats()["runs"]
    assert manifests.get("registry") == 6  # one manifest per change


def test_a_failed_archive_leaves_events_pending_and_the_next_command_heals(
    engine: Engine, vault: Vault, clock: Clock
) -> None:
    calls: list[int] = []

    def broken(items: Sequence[ArchiveItem]) -> Sequence[ArchiveReceipt]:
        calls.append(len(items))
        raise OSError("vault unreachable")

    offline = Registry(engine, archive=broken, clock=clock)
    d = offline.designate(make_draft(), actor="a")  # the designation itself is committed
    assert offline.last_archive.pending == 1 and "vault unreachable" in (offline.last_archive.error or "")
    offline.end(d.designation_id, date(2026, 1, 31), actor="a", reason="einde")
    assert calls == [1, 2]
    assert [e.version for e in offline.pending_events()] == [1, 2]
    assert list(vault.iter_records(kind="registry-event")) == []

    online = Registry(engine, archive=vault_archive(lambda: vault), clock=clock)
    status = online.archive_pending()
    assert (status.archived, status.pending, status.error) == (2, 0, None)
    assert online.pending_events() == []
    assert len(list(vault.iter_records(kind="registry-event"))) == 2


def test_archiving_the_same_events_again_writes_nothing_new(
    registry: Registry, vault: Vault, clock: Clock
) -> None:
    """A crash after the vault write but before the database noted it: the retry finds the records."""
    registry.designate(make_draft(), actor="a")
    event = registry.events()[0]
    designation = registry.get(event.designation_id)
    before = len(list(vault.iter_records(kind="registry-event")))
    receipts = archive_to_vault(vault, [ArchiveItem(event, designation)])
    assert len(list(vault.iter_records(kind="registry-event"))) == before == 1
    assert receipts[0].record_id == next(iter(vault.iter_records(kind="registry-event"))).record_id


def test_history_survives_the_loss_of_the_database(
    registry: Registry, vault: Vault, clock: Clock, tmp_path: Path
) -> None:
    ids = _history_of_three(registry, clock)
    original_events = registry.events()
    original = {d.designation_id: d for d in registry.designations(include_withdrawn=True)}

    fresh_engine = open_database(f"sqlite:///{tmp_path / 'rebuilt.sqlite3'}")
    rebuilt = Registry(fresh_engine, archive=vault_archive(lambda: vault), clock=clock)
    result = rebuilt.restore(events_in_vault(vault))
    assert (result.inserted, result.already_present, result.designations) == (6, 0, 3)
    assert {d.designation_id: d for d in rebuilt.designations(include_withdrawn=True)} == original
    assert sorted(e.event_id for e in rebuilt.events()) == sorted(e.event_id for e in original_events)
    assert rebuilt.pending_events() == []  # restored events are known to be in the vault
    # past states as registered come back too, and coverage is enforced again
    first_recorded = original_events[0].recorded_at
    assert [d.designation_id for d in rebuilt.state_at(date(2025, 6, 1), as_of=first_recorded)] == [ids[0]]
    with pytest.raises(Exception, match="overlapping coverage"):
        rebuilt.designate(make_draft(start_date=date(2030, 1, 1)), actor="a")
    # restoring again changes nothing
    again = rebuilt.restore(events_in_vault(vault))
    assert (again.inserted, again.already_present) == (0, 6)
    fresh_engine.dispose()
