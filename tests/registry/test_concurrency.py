"""Two processes designating the same account at the same moment on PostgreSQL: exactly one wins,
because the database (an exclusion constraint) decides, not the Python check before it."""

from __future__ import annotations

import multiprocessing
from datetime import date
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from typing import Any

import pytest
import sqlalchemy as sa

from capstone.db import make_engine, open_database
from capstone.registry import OverlapError, Registry
from tests.registry.conftest import make_draft

pytestmark = pytest.mark.postgres


def _designate(
    url: str, name: str, start: str, barrier: Barrier, skip_python_check: bool, results: Queue[str]
) -> None:
    try:
        results.put(_race(url, name, start, barrier, skip_python_check))
    except BaseException as exc:
        results.put(f"error: {type(exc).__name__}: {exc}")


def _race(url: str, name: str, start: str, barrier: Barrier, skip_python_check: bool) -> str:
    engine = make_engine(url)
    registry = Registry(engine)
    if skip_python_check:
        # Both processes pass the service's own check, as they would if they read at the same time;
        # after the database refused, the real check runs again to name the conflict.
        real = registry._conflicts
        calls: list[int] = []

        def first_blind(*args: Any, **kwargs: Any) -> Any:
            calls.append(1)
            return [] if len(calls) == 1 else real(*args, **kwargs)

        registry._conflicts = first_blind  # type: ignore[method-assign]
    draft = make_draft(name=name, start_date=date.fromisoformat(start))
    barrier.wait(timeout=60)
    try:
        designation = registry.designate(draft, actor=name)
    except OverlapError as exc:
        return f"refused: {exc}"
    finally:
        engine.dispose()
    return f"won: {designation.designation_id}"


@pytest.mark.parametrize("skip_python_check", [True, False], ids=["database-decides", "both-checks"])
def test_two_processes_racing_for_one_account(pg_db_url: str, skip_python_check: bool) -> None:
    open_database(pg_db_url).dispose()  # schema first, so the racers only race on the designation
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    queue: Queue[str] = context.Queue()
    racers = [
        context.Process(target=_designate, args=(pg_db_url, name, start, barrier, skip_python_check, queue))
        for name, start in (("Eerste", "2024-01-01"), ("Tweede", "2025-01-01"))
    ]
    for racer in racers:
        racer.start()
    results = [queue.get(timeout=120) for _ in racers]
    for racer in racers:
        racer.join(timeout=60)
        assert racer.exitcode == 0
    won = [r for r in results if r.startswith("won")]
    refused = [r for r in results if r.startswith("refused")]
    assert len(won) == 1 and len(refused) == 1, results
    assert "burgemeester@gemeente-demo.nl" in refused[0]
    engine = make_engine(pg_db_url)
    with engine.connect() as conn:
        designations = conn.execute(sa.text("SELECT count(*) FROM registry_designations")).scalar_one()
        coverage = conn.execute(sa.text("SELECT count(*) FROM registry_coverage")).scalar_one()
    engine.dispose()
    assert (designations, coverage) == (1, 1)
