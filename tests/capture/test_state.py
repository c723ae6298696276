"""The capture state database on SQLite and on a real PostgreSQL server: a page commits its item rows,
removals, errors and the folder cursor in one transaction, with upsert semantics a repeat (after a
crash) cannot break."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from capstone.capture.state import CaptureState, ItemError, ItemRow
from capstone.capture.tables import captured_items
from capstone.db import open_database
from connectors.base import FolderInfo

ACCOUNT = "burgemeester@gemeente-demo.nl"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'state.sqlite3'}"
    if request.param == "postgres":
        url = request.getfixturevalue("pg_db_url")
    engine = open_database(url)
    yield engine
    engine.dispose()


def row(item_id: str, folder_id: str, change_key: str) -> ItemRow:
    return ItemRow(
        item_id, folder_id, change_key, "ab" * 32, f"rec-{item_id}-{change_key}", 10, "captured", False
    )


def test_pages_commit_rows_removals_errors_and_cursor_in_one_go(engine: Engine) -> None:
    state = CaptureState(engine)
    run1, resumed = state.start_or_resume_run("sf-1", ACCOUNT, "graph-mail")
    assert not resumed
    folders = [FolderInfo("f1", None, "Inbox", "Inbox"), FolderInfo("f2", None, "Archief", "Archief")]
    state.sync_folders(ACCOUNT, "primary", folders)

    # A page that names item a twice (changed in between): the later row wins, nothing fails.
    state.commit_page(
        account=ACCOUNT, kind="primary", folder_id="f1", run_id=run1, next_cursor="next-1",
        final_cursor=None, items=[row("a", "f1", "k1"), row("b", "f1", "k1"), row("a", "f1", "k2")],
        removals=["x", "x"], errors=[ItemError("e", "f1", "HTTP 500")],
    )  # fmt: skip
    held = state.items(ACCOUNT, "primary", ["a", "b", "e"])
    assert set(held) == {"a", "b"} and held["a"].change_key == "k2"
    assert state.cursor(ACCOUNT, "primary", "f1") == "next-1"
    assert state.pending_removals(ACCOUNT, "primary") == [("x", "f1")]
    assert [(e["item_id"], e["attempts"]) for e in state.open_errors(ACCOUNT)] == [("e", 1)]

    # The same page again (a crash before the cursor moved on): same rows, the error counted again.
    state.commit_page(
        account=ACCOUNT, kind="primary", folder_id="f1", run_id=run1, next_cursor=None, final_cursor="delta-1",
        items=[row("a", "f1", "k2")], removals=["x"], errors=[ItemError("e", "f1", "HTTP 503")],
    )  # fmt: skip
    assert state.cursor(ACCOUNT, "primary", "f1") == "delta-1"
    assert [(e["error"], e["attempts"]) for e in state.open_errors(ACCOUNT)] == [("HTTP 503", 2)]
    assert state.pending_removals(ACCOUNT, "primary") == [("x", "f1")]

    # A later run sees a moved to f2 and e captured: first_run stays, last_run moves, the error clears.
    state.finish_run(run1, status="complete", errors=0, manifest_key=None, summary={})
    run2, _ = state.start_or_resume_run("sf-1", ACCOUNT, "graph-mail")
    assert run2 != run1
    state.commit_page(
        account=ACCOUNT, kind="primary", folder_id="f2", run_id=run2, next_cursor=None, final_cursor="delta-2",
        items=[row("a", "f2", "k2"), row("e", "f1", "k1")], removals=[], errors=[], resolved_errors=["e"],
    )  # fmt: skip
    with engine.connect() as conn:
        runs = {
            r.item_id: (r.folder_id, r.first_run, r.last_run)
            for r in conn.execute(select(captured_items).where(captured_items.c.account == ACCOUNT))
        }
    assert runs == {"a": ("f2", run1, run2), "b": ("f1", run1, run1), "e": ("f1", run2, run2)}
    assert state.open_errors(ACCOUNT) == []
    assert state.item_ids_in_folder(ACCOUNT, "primary", "f2") == {"a"}


def test_latest_runs_follow_starts_and_finishes(engine: Engine) -> None:
    state = CaptureState(engine)
    first, _ = state.start_or_resume_run("sf-1", ACCOUNT, "graph-mail")
    state.finish_run(first, status="complete", errors=0, manifest_key="m1", summary={})
    chats, _ = state.start_or_resume_run("sf-1", ACCOUNT, "graph-teams")
    second, _ = state.start_or_resume_run("sf-1", ACCOUNT, "graph-mail")
    again, resumed = state.start_or_resume_run("sf-1", ACCOUNT, "graph-mail")
    assert again == second and resumed  # a resumed run is still the newest

    by_source = {r.source: r for r in state.latest_runs()}
    assert set(by_source) == {"graph-mail", "graph-teams"}
    assert by_source["graph-mail"].last["run_id"] == second
    assert by_source["graph-mail"].last["status"] == "running"
    assert by_source["graph-mail"].last_complete is not None
    assert by_source["graph-mail"].last_complete["run_id"] == first
    assert by_source["graph-teams"].last["run_id"] == chats and by_source["graph-teams"].last_complete is None

    state.finish_run(second, status="incomplete", errors=1, manifest_key="m2", summary={})
    mail = next(r for r in state.latest_runs() if r.source == "graph-mail")
    assert mail.last["status"] == "incomplete" and mail.last_complete is not None
    assert mail.last_complete["run_id"] == first  # an incomplete run is no success
    third, _ = state.start_or_resume_run("sf-1", ACCOUNT, "graph-mail")
    state.finish_run(third, status="complete", errors=0, manifest_key="m3", summary={})
    mail = next(r for r in state.latest_runs() if r.source == "graph-mail")
    assert mail.last["run_id"] == third and mail.last_complete is not None
    assert mail.last_complete["run_id"] == third


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_the_latest_runs_of_an_older_database_are_filled_in_by_its_upgrade(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from datetime import UTC, datetime, timedelta

    from capstone.db.engine import make_engine
    from capstone.db.migrate import upgrade

    url = (
        f"sqlite:///{tmp_path / 'old.sqlite3'}"
        if backend == "sqlite"
        else request.getfixturevalue("pg_db_url")
    )
    engine = make_engine(url)
    upgrade(engine, "0003_woo")  # a database written before migration 0004
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    runs = [  # run id, status, started, finished
        ("r1", "complete", t0, t0 + timedelta(minutes=5)),
        ("r2", "complete", t0 + timedelta(hours=1), t0 + timedelta(hours=1, minutes=5)),
        ("r3", "failed", t0 + timedelta(hours=2), t0 + timedelta(hours=2, minutes=1)),
    ]
    with engine.begin() as conn:
        from capstone.capture.tables import capture_runs

        for run_id, status, started, finished in runs:
            conn.execute(
                capture_runs.insert().values(
                    run_id=run_id, designation_id="sf-1", account=ACCOUNT, source="graph-mail", status=status,
                    started_at=started, finished_at=finished, items_new=0, bytes_new=0, errors=0,
                )
            )  # fmt: skip
    upgrade(engine)
    [latest] = CaptureState(engine).latest_runs()
    assert latest.last["run_id"] == "r3" and latest.last_complete is not None
    assert latest.last_complete["run_id"] == "r2"
    engine.dispose()
