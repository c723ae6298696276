"""Background jobs live in the state database: a job started in one process is polled from another,
only by its owner, and a job whose process died shows as failed (interrupted), never as running for
ever. On SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, update

from capstone.db import open_database
from capstone.web.jobs import INTERRUPTED, Job, JobRecord, Jobs, web_jobs
from capstone.web.messages import BY_CODE, job_error
from capstone.woo.package_pdf import PublishError
from tests.fixtures.postgres import pg_db_url, pg_url

__all__ = ["pg_db_url", "pg_url"]

OWNER = "woo@example.nl"

# Another process: one job that finishes (with a result and an archive), one that stays at 3 of 10
# until the process is killed. It prints both ids, then waits.
WORKER = textwrap.dedent(
    """
    import sys, threading, time
    from pathlib import Path
    from capstone.db import open_database
    from capstone.web.jobs import Jobs

    engine = open_database(sys.argv[1])
    jobs = Jobs(engine, heartbeat_seconds=0.2)

    def finishes(job):
        job.progress(5, 5)
        job.result = {"documents": 5, "verified": True}
        job.download = Path(sys.argv[2])

    def hangs(job):
        job.progress(3, 10)
        threading.Event().wait()

    done = jobs.start("woo@example.nl", "export", "Export van Z/1", finishes)
    hanging = jobs.start("woo@example.nl", "publish", "Publicatie van Z/1", hangs)
    print(done.job_id, hanging.job_id, flush=True)
    time.sleep(600)
    """
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = (
        f"sqlite:///{tmp_path / 'state.sqlite3'}"
        if request.param == "sqlite"
        else str(request.getfixturevalue("pg_db_url"))
    )
    engine = open_database(url)
    yield engine
    engine.dispose()


def _wait(jobs: Jobs, job_id: str, until: str, timeout: float = 30) -> JobRecord:
    deadline = time.monotonic() + timeout
    while True:
        record = jobs.get(job_id, OWNER)
        assert record is not None
        if until == "progress" and record.done == 3:
            return record
        if record.status == until:
            return record
        assert time.monotonic() < deadline, record
        time.sleep(0.05)


def test_a_job_of_another_process_is_polled_and_shown_interrupted_when_it_dies(
    engine: Engine, tmp_path: Path
) -> None:
    archive = tmp_path / "export.zip"
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, engine.url.render_as_string(hide_password=False), str(archive)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert worker.stdout is not None
        done_id, hanging_id = worker.stdout.readline().split()
        here = Jobs(engine)  # this process: another web worker
        finished = _wait(here, done_id, "done")
        assert (finished.kind, finished.title, finished.result) == (
            "export", "Export van Z/1", {"documents": 5, "verified": True},
        )  # fmt: skip
        assert (finished.done, finished.total, finished.percent, finished.download) == (5, 5, 100, archive)
        assert finished.finished_at is not None and finished.finished_at >= finished.started_at
        running = _wait(here, hanging_id, "progress")
        assert (running.status, running.total, running.percent, running.error_kind) == (
            "running",
            10,
            30,
            None,
        )
        assert here.get(hanging_id, "someone-else@example.nl") is None  # the owner's only
        assert here.get(done_id, "someone-else@example.nl") is None
        time.sleep(0.5)  # alive with heartbeats: still running
        assert here.get(hanging_id, OWNER).status == "running"  # type: ignore[union-attr]
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)

    restarted = Jobs(engine)  # a process starting after the crash
    stored = _stored(engine, hanging_id)
    assert stored.status == "failed" and stored.error_kind == INTERRUPTED and stored.finished_at is not None
    record = restarted.get(hanging_id, OWNER)
    assert record is not None and record.interrupted and (record.done, record.total) == (3, 10)
    assert "onderbroken" in job_error(record.error_kind) == BY_CODE["interrupted"]
    assert restarted.get(done_id, OWNER).status == "done"  # type: ignore[union-attr]  # finished stays


def _stored(engine: Engine, job_id: str) -> JobRecord:
    with engine.connect() as conn:
        row = conn.execute(web_jobs.select().where(web_jobs.c.job_id == job_id)).one()
    return JobRecord.from_row(row)


@pytest.fixture
def gate(engine: Engine) -> Iterator[threading.Event]:
    """Work that waits until the test ends (then its thread finishes before the database goes)."""
    event = threading.Event()
    yield event
    event.set()
    time.sleep(0.5)


def test_a_job_of_another_host_counts_as_interrupted_only_after_its_heartbeat_stops(
    engine: Engine, gate: threading.Event
) -> None:
    jobs = Jobs(engine, heartbeat_seconds=1)
    record = jobs.start(OWNER, "vault-verify", "Kluis verifiëren", lambda job: gate.wait(30))
    with engine.begin() as conn:  # as if a worker on another machine ran it
        conn.execute(update(web_jobs).values(runner="elsewhere:4242:abc", heartbeat_at=datetime.now(UTC)))
    assert Jobs(engine).get(record.job_id, OWNER).status == "running"  # type: ignore[union-attr]
    with engine.begin() as conn:
        stale = datetime.now(UTC) - timedelta(seconds=61)
        conn.execute(update(web_jobs).values(heartbeat_at=stale))
    assert Jobs(engine, heartbeat_seconds=10).get(record.job_id, OWNER).interrupted  # type: ignore[union-attr]
    jobs.close()


def test_a_job_of_this_process_that_was_left_behind_is_interrupted(
    engine: Engine, gate: threading.Event
) -> None:
    old = Jobs(engine)
    record = old.start(OWNER, "export", "Export", lambda job: gate.wait(30))
    assert old.get(record.job_id, OWNER).status == "running"  # type: ignore[union-attr]
    old.close()  # e.g. the application was built again in the same process (same pid)
    Jobs(engine)  # recovers at start
    assert _stored(engine, record.job_id).interrupted
    assert Jobs(engine).recover() == 0  # once
    old._finish(Job(record.job_id, "export", old), "done", None, None)  # its thread ends after all
    assert _stored(engine, record.job_id).interrupted  # interrupted stays


def test_a_failed_job_keeps_its_error_and_says_it_in_dutch(engine: Engine) -> None:
    jobs = Jobs(engine)

    def fails(job: object) -> None:
        raise PublishError("document 3 has no PDF")

    record = jobs.start(OWNER, "publish", "Publicatie", fails)
    failed = _wait(jobs, record.job_id, "failed")
    assert failed.error == "document 3 has no PDF" and not failed.interrupted
    assert job_error(failed.error_kind).startswith("Het publicatiepakket kon niet worden gemaakt")
    jobs.close()


def test_no_process_check_for_a_pid_that_exists() -> None:
    from capstone.web.jobs import _process_alive

    assert _process_alive(os.getpid()) and not _process_alive(-1)
