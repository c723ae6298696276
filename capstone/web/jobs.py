"""Background jobs of the web application (vault verify, Woo export): a thread each, with progress
a page can show and a result only the person who started it can read."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from capstone.logging import get_logger


@dataclass
class Job:
    job_id: str
    owner: str
    kind: str  # "vault-verify" | "export"
    title: str
    status: str = "running"  # running | done | failed
    done: int = 0
    total: int = 0
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    download: Path | None = None

    def progress(self, done: int, total: int) -> None:
        self.done, self.total = done, total

    @property
    def percent(self) -> int:
        if self.status == "done":
            return 100
        return int(100 * self.done / self.total) if self.total else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id, "kind": self.kind, "title": self.title, "status": self.status,
            "done": self.done, "total": self.total, "percent": self.percent, "result": self.result,
            "error": self.error, "download": self.download is not None,
        }  # fmt: skip


class Jobs:
    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def start(self, owner: str, kind: str, title: str, work: Callable[[Job], None]) -> Job:
        job = Job(secrets.token_urlsafe(12), owner, kind, title)
        with self._lock:
            self._jobs[job.job_id] = job

        def run() -> None:
            try:
                work(job)
                job.status = "done"
            except Exception as exc:  # a failed job is shown, never lost
                job.status, job.error = "failed", str(exc)
                get_logger("capstone.web").warning("job_failed", job=job.job_id, kind=kind, error=str(exc))

        threading.Thread(target=run, name=f"capstone-job-{kind}", daemon=True).start()
        return job

    def get(self, job_id: str, owner: str) -> Job | None:
        job = self._jobs.get(job_id)
        return job if job is not None and job.owner == owner else None
