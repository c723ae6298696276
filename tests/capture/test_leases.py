"""Leases on accounts (issue 20) on SQLite and a real PostgreSQL: one holder per account, the
scheduler's order, renewal, and the fencing token that refuses a stale holder's commits."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from capstone.capture.leases import Due, LeaseLost, Leases, Outcome, fenced
from capstone.capture.state import CaptureState
from capstone.db import open_database
from connectors.base import FolderInfo

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'state.sqlite3'}"
    if request.param == "postgres":
        url = request.getfixturevalue("pg_db_url")
    engine = open_database(url)
    yield engine
    engine.dispose()


def due(account: str, last: datetime | None = None, chats: datetime | None = None) -> Due:
    return Due(account, "sf-1", last, chats)


def test_each_account_goes_to_one_holder_in_lag_order_chats_at_risk_first(engine: Engine) -> None:
    leases = Leases(engine, ttl=30, chat_risk=timedelta(minutes=15))
    leases.sync(
        [
            due("a@x.nl", last=NOW - timedelta(hours=1)),
            due("b@x.nl", last=NOW - timedelta(hours=5)),  # the longest lag
            due("c@x.nl", last=NOW - timedelta(minutes=10), chats=NOW + timedelta(minutes=5)),  # at risk
            due("d@x.nl", last=None),  # never captured: lag without end
        ]
    )
    first = leases.acquire("w1", 2, NOW)
    assert [lease.account for lease in first] == ["c@x.nl", "d@x.nl"]
    second = leases.acquire("w2", 10, NOW)
    assert [lease.account for lease in second] == ["b@x.nl", "a@x.nl"]
    assert leases.acquire("w3", 10, NOW) == []  # every account is held
    assert all(lease.token == 1 and lease.previous_holder is None for lease in first + second)


def test_concurrent_takers_never_share_an_account(engine: Engine) -> None:
    leases = Leases(engine, ttl=30)
    leases.sync([due(f"u{n}@x.nl") for n in range(60)])
    taken: dict[str, list[str]] = {}
    errors: list[BaseException] = []

    def take(holder: str) -> None:
        try:
            while batch := leases.acquire(holder, 3, NOW):
                taken.setdefault(holder, []).extend(lease.account for lease in batch)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=take, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    every = [account for accounts in taken.values() for account in accounts]
    assert sorted(every) == sorted(f"u{n}@x.nl" for n in range(60))  # each exactly once


def test_an_expired_lease_is_taken_over_and_the_stale_holder_cannot_commit(engine: Engine) -> None:
    account = "burgemeester@gemeente-demo.nl"
    leases = Leases(engine, ttl=30)
    leases.sync([due(account)])
    state = CaptureState(engine)
    (old,) = leases.acquire("w1", 1, NOW)
    with fenced(old.fence):
        run_id, _ = state.start_or_resume_run("sf-1", account, "graph-mail")
        state.sync_folders(account, "primary", [FolderInfo("f1", None, "Inbox", "Inbox")])
    # w1 is paused past its lease; w2 takes the account over.
    assert leases.acquire("w2", 1, NOW + timedelta(seconds=10)) == []  # not expired yet
    (new,) = leases.acquire("w2", 1, NOW + timedelta(seconds=31))
    assert new.token == old.token + 1 and new.previous_holder == "w1"
    with fenced(old.fence), pytest.raises(LeaseLost):
        state.commit_page(
            account=account, kind="primary", folder_id="f1", run_id=run_id,
            next_cursor="stale-link", final_cursor=None, items=(), removals=(), errors=(),
        )  # fmt: skip
    with fenced(old.fence), pytest.raises(LeaseLost):
        state.finish_run(run_id, status="complete", errors=0, manifest_key=None, summary={})
    assert state.cursor(account, "primary", "f1") is None  # nothing of the stale commit landed
    with fenced(new.fence):
        resumed, again = state.start_or_resume_run("sf-1", account, "graph-mail")
        assert (resumed, again) == (run_id, True)
        state.commit_page(
            account=account, kind="primary", folder_id="f1", run_id=run_id,
            next_cursor=None, final_cursor="delta-1", items=(), removals=(), errors=(),
        )  # fmt: skip
    assert state.cursor(account, "primary", "f1") == "delta-1"
    # Renewal and release tell the stale holder it lost, and change nothing.
    assert leases.renew([old], NOW + timedelta(seconds=32)) == [old]
    assert not leases.release(
        old, outcome=None, next_due=timedelta(minutes=15), chat_max_age=timedelta(hours=1)
    )
    assert leases.renew([new], NOW + timedelta(seconds=32)) == []
    assert leases.release(
        new,
        outcome=Outcome(complete=True, chat_complete_at=None),
        next_due=timedelta(minutes=15),
        chat_max_age=timedelta(hours=1),
        now=NOW + timedelta(seconds=40),
    )
    assert leases.acquire("w3", 1, NOW + timedelta(minutes=5)) == []  # not due again yet
    (later,) = leases.acquire("w3", 1, NOW + timedelta(minutes=16))
    assert later.token == new.token + 1 and later.previous_holder is None


def test_a_write_for_another_account_than_the_fence_is_refused(engine: Engine) -> None:
    leases = Leases(engine, ttl=30)
    leases.sync([due("a@x.nl"), due("b@x.nl")])
    lease_a = next(lease for lease in leases.acquire("w1", 2, NOW) if lease.account == "a@x.nl")
    with fenced(lease_a.fence), pytest.raises(LeaseLost):
        CaptureState(engine).start_or_resume_run("sf-1", "b@x.nl", "graph-mail")


def test_the_snapshot_shows_workers_their_leases_and_age(engine: Engine) -> None:
    leases = Leases(engine, ttl=30)
    leases.register_worker("w1", 4)
    leases.sync([due("a@x.nl"), due("b@x.nl")])
    now = datetime.now(UTC)
    leases.acquire("w1", 1, now - timedelta(seconds=20))
    snap = leases.snapshot(now)
    (worker,) = snap["workers"]
    assert worker["worker_id"] == "w1" and worker["state"] == "alive"
    (lease,) = worker["leases"]
    assert lease["age_seconds"] == pytest.approx(20, abs=1) and not lease["expired"]
    assert snap["queue"] == {"accounts": 2, "active": 2, "due_now": 2}
