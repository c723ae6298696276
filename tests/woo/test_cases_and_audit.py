"""Woo cases, roles and the hash-chained audit log, on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from capstone.access import AccessDenied
from capstone.audit.log import AuditLog
from capstone.capture.runner import capture_once
from capstone.index import open_index
from capstone.index.indexer import update_index
from capstone.index.model import SearchQuery
from capstone.services import open_vault, state_engine
from capstone.settings import Settings
from capstone.woo.cases import CaseError
from capstone.woo.scope import CaseScope
from capstone.woo.service import WooService

ROLES = {"anna": ["woo-officer"], "bram": ["woo-officer"], "otto": ["auditor"], "rita": ["registry-admin"]}


def as_user(settings: Settings, user: str) -> WooService:
    return WooService(settings.model_copy(update={"user": user, "roles": ROLES}))


@pytest.fixture(params=["sqlite", "postgresql"])
def configured(request: pytest.FixtureRequest, settings: Settings) -> Iterator[Settings]:
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_db_url")
        settings = settings.model_copy(update={"db_url": url})
    open_vault(settings, create=True).close()
    yield settings


def test_every_capture_pass_seals_the_new_audit_entries(configured: Settings) -> None:
    anna = as_user(configured, "anna")
    with pytest.raises(AccessDenied):
        anna.search(None, SearchQuery(text="subsidie"))  # audited, not yet sealed
    vault = open_vault(configured)
    assert not list(vault.iter_records(kind="audit-seal"))
    assert asyncio.run(capture_once(configured, progress=False)) == []  # nothing due, still sealed
    vault = open_vault(configured)
    [seal] = list(vault.iter_records(kind="audit-seal"))
    assert seal.source["to_seq"] == list(AuditLog(state_engine(configured)).entries())[-1].seq
    asyncio.run(capture_once(configured, progress=False))  # nothing new: no second seal
    assert len(list(open_vault(configured).iter_records(kind="audit-seal"))) == 1


def test_case_deadlines_and_bad_input(configured: Settings) -> None:
    woo = as_user(configured, "anna")
    case = woo.open_case(ref="woo-2026-014", received=date(2026, 11, 2), subject="Fietsbrug Oost")
    assert case.ref == "WOO-2026-014" and case.officers == ("anna",)
    assert case.decision_due == date(2026, 11, 30)  # 4 weeks
    assert case.extended_due == date(2026, 12, 14)  # one extension of 2 weeks
    assert case.zienswijze_by == case.extended_due - timedelta(weeks=2)
    with pytest.raises(CaseError, match="already exists"):
        woo.open_case(ref="WOO-2026-014", received=date(2026, 11, 2), subject="again")
    with pytest.raises(CaseError, match="invalid case reference"):
        woo.open_case(ref="../2026-14", received=date(2026, 11, 2), subject="x")
    with pytest.raises(CaseError, match="future"):
        woo.open_case(ref="WOO-2026-015", received=date.today() + timedelta(days=3), subject="x")
    assert [c.ref for c in woo.list_cases()] == ["WOO-2026-014"]


def test_refusals_are_refused_and_audited(configured: Settings) -> None:
    anna, bram = as_user(configured, "anna"), as_user(configured, "bram")
    anna.open_case(
        ref="WOO-2026-001", received=date(2026, 11, 2), subject="Subsidie",
        scope=CaseScope(officials=("Marieke van Dalen",)),
    )  # fmt: skip
    query = SearchQuery(text="subsidie")
    with pytest.raises(AccessDenied, match="only possible inside a Woo case"):
        anna.search(None, query)  # no case
    with pytest.raises(AccessDenied, match="needs the role woo-officer"):
        as_user(configured, "rita").search("WOO-2026-001", query)  # wrong role
    with pytest.raises(AccessDenied, match="needs the role woo-officer"):
        as_user(configured, "nobody").search("WOO-2026-001", query)  # no roles at all
    with pytest.raises(AccessDenied, match="not assigned"):
        bram.search("WOO-2026-001", query)  # an officer, but not on this case
    with pytest.raises(AccessDenied, match="needs the role auditor"):
        anna.audit_entries()
    anna.assign("WOO-2026-001", "bram")
    with pytest.raises(CaseError, match="search index is not complete"):
        bram.search("WOO-2026-001", query)  # allowed, but the index was never built: it could miss things
    vault, index = open_vault(configured), open_index(configured.search_index_url)
    update_index(vault, index)  # a pass over the (empty) vault
    vault.close()
    index.close()
    assert bram.search("WOO-2026-001", query).total == 0  # now a complete index, of nothing
    anna.close_case("WOO-2026-001")
    with pytest.raises(AccessDenied, match="closed"):
        anna.search("WOO-2026-001", query)

    entries = as_user(configured, "otto").audit_entries()
    refused = [(e["actor"], e["action"]) for e in entries if e["outcome"] == "refused"]
    assert refused == [
        ("anna", "search"), ("rita", "search"), ("nobody", "search"), ("bram", "search"),
        ("anna", "audit-show"), ("bram", "search"), ("anna", "search"),
    ]  # fmt: skip
    first = next(e for e in entries if e["outcome"] == "refused")
    assert first["detail"]["query"]["text"] == "subsidie" and "inside a Woo case" in first["detail"]["reason"]
    report = as_user(configured, "otto").audit_verify()
    assert report.ok and report.entries == len(entries) + 1  # + the audit-show itself


def test_the_audit_log_refuses_changes_and_verify_finds_tampering(configured: Settings) -> None:
    engine = state_engine(configured)
    log = AuditLog(engine)
    for n in range(5):
        log.append(actor="anna", role="woo-officer", action="search", case_ref="WOO-2026-002",
                   outcome="allowed", detail={"query": f"q{n}", "results": n})  # fmt: skip
    vault = open_vault(configured)
    assert log.seal(vault) is not None and log.seal(vault) is None  # nothing new the second time
    assert log.verify(vault).ok
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET detail = '{}' WHERE seq = 3"))
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq = 5"))

    # An attacker with database access goes around the triggers and edits entry 3.
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        else:
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
        conn.execute(
            text("UPDATE audit_log SET detail = :d WHERE seq = 3"), {"d": '{"query":"q2","results":0}'}
        )
    report = log.verify(vault)
    assert not report.ok and report.first_bad_seq == 3
    assert "entry 3 was altered" in " ".join(report.problems)

    # ... and then recomputes the whole chain so it is consistent again: the vault's seal still knows.
    entries = list(log.entries())
    previous = "0" * 64
    with engine.begin() as conn:
        for entry in entries:
            fixed = type(entry)(**{**entry.__dict__, "prev_hash": previous, "entry_hash": ""})
            new_hash = fixed.computed_hash()
            conn.execute(
                text("UPDATE audit_log SET prev_hash = :p, entry_hash = :h WHERE seq = :s"),
                {"p": previous, "h": new_hash, "s": entry.seq},
            )
            previous = new_hash
    assert log.verify(None).ok  # the chain alone looks fine now
    sealed = log.verify(vault)
    assert not sealed.ok and sealed.first_bad_seq == 3
    assert "differs from its sealed copy" in " ".join(sealed.problems)
    vault.close()


def test_a_sqlite_attacker_deleting_the_tail_is_found_by_the_seal(settings: Settings) -> None:
    open_vault(settings, create=True).close()
    engine = state_engine(settings)
    log = AuditLog(engine)
    for n in range(3):
        log.append(
            actor="anna", role="woo-officer", action="view", case_ref=None, outcome="allowed", detail={"n": n}
        )
    vault = open_vault(settings)
    log.seal(vault)
    database = engine.url.database
    assert database
    with sqlite3.connect(database) as raw:
        raw.execute("DROP TRIGGER audit_log_no_delete")
        raw.execute("DELETE FROM audit_log WHERE seq = 3")
    report = log.verify(vault)
    assert not report.ok and report.first_bad_seq == 3
    assert "missing from the database" in " ".join(report.problems)
