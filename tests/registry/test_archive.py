"""Registry events in the vault: each event is a write-once record; a failed archive heals on the next
command; the history can be rebuilt from the vault after the loss of the database."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path

import pytest
from sqlalchemy import Engine

from capstone.db import open_database
from capstone.registry import ArchiveItem, ArchiveReceipt, Category, Registry
from capstone.registry.archive import archive_to_vault, events_in_vault, vault_archive
from tests.registry.conftest import Clock, make_draft
from vault import Vault
from vault.records import canonical_json, sha256_hex


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
        # the event travels inside its record (one segment per batch, not one fsync'd blob per event)
        assert record.blob_sha256 is None
        assert record.extra["event"] == json.loads(json.dumps(event.to_document()))
        assert record.source["event_sha256"] == sha256_hex(canonical_json(event.to_document()))
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


def test_a_large_batch_is_a_few_segments_and_one_manifest(
    engine: Engine, vault: Vault, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One durable write per SEGMENT_EVENTS events, not one per event (issue 16)."""
    monkeypatch.setattr("capstone.registry.archive.SEGMENT_EVENTS", 2)
    offline = Registry(engine, archive=None, clock=clock)
    _history_of_three(offline, clock)  # six events, none archived yet
    before = vault.stats()["by_prefix"]
    status = Registry(engine, archive=vault_archive(lambda: vault), clock=clock).archive_pending()
    assert (status.archived, status.pending, status.error) == (6, 0, None)
    records = list(vault.iter_records(kind="registry-event"))
    assert len(records) == 6
    assert len({vault.catalog.record_location(r.record_id) for r in records}) == 3  # 2 events a segment
    assert vault.stats()["runs"].get("registry") == 1
    after = vault.stats()["by_prefix"]
    assert after["segments"]["objects"] == before["segments"]["objects"] + 3
    assert after["blobs"]["objects"] == before["blobs"]["objects"]  # no blob (no fsync) per event


def test_a_run_killed_before_its_manifest_is_closed_by_the_retry(
    registry: Registry, vault: Vault, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed after its segments, before its manifest: the retry writes nothing twice, and every
    record ends up listed by a manifest (vault verify: all well)."""
    from vault.verify import verify_vault

    registry.designate(make_draft(), actor="a")
    event = registry.events()[0]
    designation = registry.get(event.designation_id)
    other = make_draft(name="Sanne Visser", mail="griffier@gemeente-demo.nl", category=Category.GRIFFIER)
    registry.archive = None  # the next change is committed but not archived
    second = registry.designate(other, actor="a")
    events = {e.designation_id: e for e in registry.events()}
    items = [ArchiveItem(events[second.designation_id], second), ArchiveItem(event, designation)]

    def killed(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt("killed before the manifest")

    with monkeypatch.context() as patch:
        patch.setattr(vault, "write_manifest", killed)
        with pytest.raises(KeyboardInterrupt):
            archive_to_vault(vault, items)
    assert len(list(vault.iter_records(kind="registry-event"))) == 2
    assert verify_vault(vault).unlisted  # the killed run's record is outside the chain for now

    receipts = archive_to_vault(vault, items)  # the retry (a later registry command)
    assert len(list(vault.iter_records(kind="registry-event"))) == 2  # nothing twice
    assert {r.event_id for r in receipts} == {e.event_id for e in events.values()}
    report = verify_vault(vault)
    assert report.all_well, report.to_json()


def test_events_archived_in_the_earlier_form_are_still_restored(
    registry: Registry, vault: Vault, clock: Clock, tmp_path: Path
) -> None:
    """Before issue 16's batching each event was a blob of its own; such records still restore."""
    from datetime import UTC, datetime

    from capstone.registry.archive import SOURCE_SYSTEM, event_bytes
    from vault import Record

    registry.archive = None
    made = registry.designate(make_draft(), actor="a")
    [event] = registry.events()
    blob = vault.put_blob(event_bytes(event), media_type="application/json")
    legacy = Record(
        kind="registry-event",
        source={"system": SOURCE_SYSTEM, "event_id": event.event_id, "designation_id": event.designation_id,
                "version": event.version, "event_type": event.event_type.value},
        capture={"run_id": "registry-legacy", "actor": "a", "captured_at": datetime.now(UTC).isoformat()},
        blob_sha256=blob.sha256, size=blob.size, media_type="application/json",
    )  # fmt: skip
    vault.put_records([legacy])
    vault.write_manifest("registry-legacy", kind="registry")

    rebuilt = Registry(open_database(f"sqlite:///{tmp_path / 'rebuilt.sqlite3'}"), clock=clock)
    result = rebuilt.restore(events_in_vault(vault))
    assert (result.inserted, result.designations) == (1, 1)
    assert rebuilt.get(made.designation_id) == made
    rebuilt.engine.dispose()


SAMPLE_CSV = resources.files("capstone.registry").joinpath("samples/sleutelfunctionarissen.csv").read_bytes()


def _recording_archive(
    seen: list[list[ArchiveItem]],
) -> Callable[[Sequence[ArchiveItem]], list[ArchiveReceipt]]:
    """An archive that notes what it was given and fails (so everything stays pending)."""

    def archive(items: Sequence[ArchiveItem]) -> list[ArchiveReceipt]:
        seen.append(list(items))
        raise OSError("vault unreachable")

    return archive


def test_an_imports_events_are_archived_as_the_database_would_give_them(engine: Engine) -> None:
    """An import hands the events it has just committed to the archive instead of reading 100 000
    of them back (issue 16); the records must be exactly those a retry, which reads them back from
    the database, would write: same events, same states, same record ids."""
    from capstone.registry.archive import event_record

    clock = Clock(datetime(2026, 2, 1, 9, 0, 0, 123456, tzinfo=UTC))  # microseconds survive the round trip
    seen: list[list[ArchiveItem]] = []
    registry = Registry(engine, archive=_recording_archive(seen), clock=clock)
    result = registry.import_csv(SAMPLE_CSV, filename="dt.csv", actor="dt")
    assert registry.last_archive.pending == len(result.designations) > 1
    registry.archive_pending()  # nothing handed over: read back from the database
    handed, read_back = seen
    assert [i.event for i in handed] == [i.event for i in read_back]
    assert [i.designation for i in handed] == [i.designation for i in read_back]
    now = datetime(2026, 2, 2, tzinfo=UTC)
    ids = [[event_record(i.event, i.designation, run_id="r", now=now).record_id for i in s] for s in seen]
    assert ids[0] == ids[1]


def test_an_import_with_older_pending_events_archives_them_all(engine: Engine, clock: Clock) -> None:
    """Events left pending earlier (a vault that was down) are archived with the import's own."""
    Registry(engine, archive=None, clock=clock).designate(
        make_draft(name="Eerder", mail="eerder@gemeente-demo.nl"), actor="r"
    )
    seen: list[list[ArchiveItem]] = []
    result = Registry(engine, archive=_recording_archive(seen), clock=clock).import_csv(
        SAMPLE_CSV, filename="dt.csv", actor="dt"
    )
    (given,) = seen
    assert len(given) == len(result.designations) + 1
    assert given[0].designation.name == "Eerder"
