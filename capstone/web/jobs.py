"""Background jobs of the web application (vault verify, Woo export, publication): a thread each in
the process that started it, with its state in the state database (``web_jobs``, migration
``w18_web_jobs``), so every worker process shows the same progress and result, and only to the
person who started it.

A job records which process runs it (``runner``: host, pid and a token of the :class:`Jobs` that
started it) and that process's heartbeat. A job whose process has gone (its pid is gone on this host,
the same pid now belongs to a new process, or no heartbeat for ``stale_after_seconds`` from another
host) is marked failed as *interrupted* the next time any process looks at it, and when a process
starts; it never shows as running for ever.

Example::

    jobs = Jobs(engine)
    record = jobs.start("woo@example.nl", "export", "Export van Z/1", work)   # work(job) in a thread
    jobs.get(record.job_id, "woo@example.nl")                                 # from any process
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    MetaData,
    String,
    Table,
    Text,
    and_,
    select,
    update,
)

from capstone.db.engine import write_transaction
from capstone.logging import get_logger

JobKind = Literal["vault-verify", "export", "publish"]
JobStatus = Literal["running", "done", "failed"]
INTERRUPTED = "interrupted"  # error_kind of a job whose process died while it ran

metadata = MetaData()
_WHEN = DateTime(timezone=True)
web_jobs = Table(
    "web_jobs",
    metadata,
    Column("job_id", String(32), primary_key=True),
    Column("owner", String(200), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("title", Text, nullable=False),
    Column("status", String(12), nullable=False),
    Column("done", BigInteger, nullable=False),
    Column("total", BigInteger, nullable=False),
    Column("result", Text, nullable=False),  # JSON object
    Column("download", Text),  # path of the archive to download
    Column("error_kind", Text),  # the names of the exception's type and bases, or "interrupted"
    Column("error", Text),  # the exception's message (English, for operators)
    Column("runner", String(300), nullable=False),  # host:pid:token
    Column("started_at", _WHEN, nullable=False),
    Column("heartbeat_at", _WHEN, nullable=False),
    Column("finished_at", _WHEN),
)

_HOST = socket.gethostname()
_LIVE_RUNNERS: set[str] = set()  # tokens of the Jobs of this process that have not been closed
_PROGRESS_INTERVAL = 0.5  # seconds between progress writes (the last one is always written)


def _log() -> Any:
    return get_logger("capstone.web")


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


@dataclass(frozen=True)
class JobRecord:
    """A job as stored: what the job page shows."""

    job_id: str
    owner: str
    kind: str
    title: str
    status: JobStatus
    done: int
    total: int
    result: dict[str, Any]
    download: Path | None
    error_kind: str | None
    error: str | None
    runner: str
    started_at: datetime
    heartbeat_at: datetime
    finished_at: datetime | None

    @property
    def percent(self) -> int:
        if self.status == "done":
            return 100
        return min(100, int(100 * self.done / self.total)) if self.total else 0

    @property
    def interrupted(self) -> bool:
        return self.error_kind == INTERRUPTED

    @classmethod
    def from_row(cls, row: Any) -> JobRecord:
        return cls(
            job_id=row.job_id, owner=row.owner, kind=row.kind, title=row.title, status=row.status,
            done=int(row.done), total=int(row.total), result=json.loads(row.result),
            download=Path(row.download) if row.download else None, error_kind=row.error_kind,
            error=row.error, runner=row.runner, started_at=_aware(row.started_at), heartbeat_at=_aware(row.heartbeat_at),
            finished_at=_aware(row.finished_at) if row.finished_at else None,
        )  # fmt: skip


@dataclass
class Job:
    """The handle the work function gets in the process that runs it: report progress, set the
    result and the archive to download (stored when the work returns)."""

    job_id: str
    kind: str
    _jobs: Jobs
    result: dict[str, Any] = field(default_factory=dict)
    download: Path | None = None
    _written: float = 0.0

    def progress(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self._written >= _PROGRESS_INTERVAL or (total and done >= total):
            self._written = now
            self._jobs._update(self.job_id, done=done, total=total)


class Jobs:
    """The jobs of one process on the state database. ``heartbeat_seconds``: how often this process
    says its running jobs are alive; ``stale_after_seconds``: after how long without a heartbeat a
    job of a process on another host counts as interrupted."""

    def __init__(
        self, engine: Engine, *, heartbeat_seconds: float = 10.0, stale_after_seconds: float | None = None
    ) -> None:
        self.engine = engine
        self.heartbeat_seconds = heartbeat_seconds
        self.stale_after = timedelta(seconds=stale_after_seconds or 6 * heartbeat_seconds)
        self.token = secrets.token_hex(8)
        self.runner = f"{_HOST}:{os.getpid()}:{self.token}"
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None
        self._lock = threading.Lock()
        _LIVE_RUNNERS.add(self.token)
        self.recover()

    # -- running -----------------------------------------------------------------------------------

    def start(self, owner: str, kind: JobKind, title: str, work: Callable[[Job], None]) -> JobRecord:
        job_id = secrets.token_urlsafe(12)
        now = datetime.now(UTC)
        with write_transaction(self.engine) as conn:
            conn.execute(
                web_jobs.insert().values(
                    job_id=job_id,
                    owner=owner,
                    kind=kind,
                    title=title,
                    status="running",
                    done=0,
                    total=0,
                    result="{}",
                    runner=self.runner,
                    started_at=now,
                    heartbeat_at=now,
                )
            )
        job = Job(job_id, kind, self)
        self._ensure_heartbeat()
        threading.Thread(target=self._run, args=(job, work), name=f"capstone-job-{kind}", daemon=True).start()
        record = self.get(job_id, owner)
        assert record is not None
        return record

    def _run(self, job: Job, work: Callable[[Job], None]) -> None:
        try:
            work(job)
        except Exception as exc:  # a failed job is shown, never lost
            _log().warning("job_failed", job=job.job_id, kind=job.kind, error=str(exc))
            self._finish(job, "failed", error_kind(exc), str(exc))
        else:
            self._finish(job, "done", None, None)

    def _finish(self, job: Job, status: JobStatus, error_kind: str | None, error: str | None) -> None:
        now = datetime.now(UTC)
        try:
            with write_transaction(self.engine) as conn:
                changed = conn.execute(
                    update(web_jobs)
                    .where(web_jobs.c.job_id == job.job_id, web_jobs.c.status == "running")
                    .values(
                        status=status,
                        result=json.dumps(job.result, default=str, ensure_ascii=False),
                        download=str(job.download) if job.download else None,
                        error_kind=error_kind,
                        error=error,
                        heartbeat_at=now,
                        finished_at=now,
                    )
                ).rowcount
            if not changed:  # another process declared it interrupted meanwhile: that stands
                _log().warning(
                    "job_finished_after_interruption", job=job.job_id, kind=job.kind, status=status
                )
        except Exception as exc:  # the job ran; only its record could not be written
            _log().error("job_record_failed", job=job.job_id, kind=job.kind, error=str(exc))

    def _update(self, job_id: str, **values: Any) -> None:
        values["heartbeat_at"] = datetime.now(UTC)
        with write_transaction(self.engine) as conn:
            conn.execute(
                update(web_jobs)
                .where(web_jobs.c.job_id == job_id, web_jobs.c.status == "running")
                .values(**values)
            )

    def _ensure_heartbeat(self) -> None:
        with self._lock:
            if self._beat is None or not self._beat.is_alive():
                self._beat = threading.Thread(
                    target=self._heartbeat, name="capstone-job-heartbeat", daemon=True
                )
                self._beat.start()

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.heartbeat_seconds):
            try:
                with write_transaction(self.engine) as conn:
                    conn.execute(
                        update(web_jobs)
                        .where(web_jobs.c.runner == self.runner, web_jobs.c.status == "running")
                        .values(heartbeat_at=datetime.now(UTC))
                    )
            except Exception as exc:  # try again at the next beat
                _log().warning("job_heartbeat_failed", error=str(exc))

    def close(self) -> None:
        """Stop the heartbeat; jobs still running in this process count as interrupted from now on."""
        _LIVE_RUNNERS.discard(self.token)
        self._stop.set()

    # -- reading -----------------------------------------------------------------------------------

    def get(self, job_id: str, owner: str) -> JobRecord | None:
        """The job, to the person who started it only (None for anyone else or an unknown id)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(web_jobs).where(web_jobs.c.job_id == job_id, web_jobs.c.owner == owner)
            ).first()
        if row is None:
            return None
        record = JobRecord.from_row(row)
        if record.status == "running" and self._gone(record.runner, record.heartbeat_at):
            self._interrupt(record)
            return self.get(job_id, owner)
        return record

    def recover(self) -> int:
        """Mark every running job whose process has gone as interrupted; how many were."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(web_jobs).where(web_jobs.c.status == "running")).all()
        gone = [JobRecord.from_row(r) for r in rows]
        gone = [r for r in gone if self._gone(r.runner, r.heartbeat_at)]
        for record in gone:
            self._interrupt(record)
        return len(gone)

    def _gone(self, runner: str, heartbeat_at: datetime) -> bool:
        host, _, rest = runner.partition(":")
        pid_text, _, token = rest.partition(":")
        if token in _LIVE_RUNNERS:
            return False
        if datetime.now(UTC) - heartbeat_at > self.stale_after:
            return True
        if host != _HOST:
            return False  # another machine: only its heartbeat tells
        pid = int(pid_text) if pid_text.isdigit() else -1
        if pid == os.getpid():
            return True  # this process did not start it (the token is not ours): an earlier one did
        return not _process_alive(pid)

    def _interrupt(self, record: JobRecord) -> None:
        now = datetime.now(UTC)
        with write_transaction(self.engine) as conn:
            changed = conn.execute(
                update(web_jobs)
                .where(
                    and_(
                        web_jobs.c.job_id == record.job_id,
                        web_jobs.c.status == "running",
                        web_jobs.c.runner == record.runner,
                    )
                )
                .values(
                    status="failed",
                    error_kind=INTERRUPTED,
                    finished_at=now,
                    error=f"interrupted: the process that ran it ({record.runner}) stopped",
                )
            ).rowcount
        if changed:
            _log().warning("job_interrupted", job=record.job_id, kind=record.kind, runner=record.runner)


def error_kind(exc: BaseException) -> str:
    """What a failed job stores as its ``error_kind``: its type's and bases' names (most specific
    first), so a page can say in Dutch what kind of failure it was."""
    return " ".join(c.__name__ for c in type(exc).__mro__ if c not in (object, BaseException))


def _process_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True
