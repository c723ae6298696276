"""Are the designations' Teams chats captured often enough?

Chats change by the minute and deleted chat messages leave Teams' recoverable store after 21 days,
so the schedule captures them often (hourly by default). :func:`stale_chat_captures` lists every
designated account due for chat capture whose last *complete* ``graph-teams`` run finished longer
ago than the configured maximum (or that never had one): ``capture status`` warns about each.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from capstone.capture.scheduler import due_targets
from capstone.capture.state import CaptureState

SOURCE = "graph-teams"
DEFAULT_MAX_AGE = "1h"
_DURATION = re.compile(r"^(\d+)\s*([smhd]?)$")


def parse_duration(text: str) -> timedelta:
    """``90``, ``90s``, ``15m``, ``1h``, ``1d`` -> a positive timedelta (the grammar of
    ``capture run --interval``)."""
    match = _DURATION.match(text.strip())
    if not match or int(match.group(1)) <= 0:
        raise ValueError(f"{text!r} is not a duration like 15m, 1h or 900s")
    unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2) or "s"]
    return timedelta(seconds=int(match.group(1)) * unit)


@dataclass(frozen=True)
class StaleChats:
    designation_id: str
    account: str
    official: str
    last_complete_run: str | None
    last_complete_at: datetime | None  # None: never captured completely
    age: timedelta | None
    max_age: timedelta

    def message(self) -> str:
        if self.last_complete_at is None:
            return (
                f"Teams chats of {self.official} ({self.account}) have never been captured completely "
                f"(maximum interval {_human(self.max_age)})"
            )
        assert self.age is not None
        return (
            f"Teams chats of {self.official} ({self.account}) were last captured completely "
            f"{_human(self.age)} ago, longer than the maximum of {_human(self.max_age)}"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "designation_id": self.designation_id,
            "account": self.account,
            "official": self.official,
            "last_complete_run": self.last_complete_run,
            "last_complete_at": self.last_complete_at.isoformat() if self.last_complete_at else None,
            "age_seconds": round(self.age.total_seconds(), 1) if self.age is not None else None,
            "max_age_seconds": self.max_age.total_seconds(),
            "message": self.message(),
        }


def _human(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 2 * 3600:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def stale_chat_captures(engine: Engine, max_age: timedelta, now: datetime | None = None) -> list[StaleChats]:
    """Accounts due for chat capture now without a complete chat run that finished within ``max_age``."""
    now = _aware(now or datetime.now(UTC))
    last: dict[str, dict[str, Any]] = {}  # by account: a run under any designation counts
    for runs in CaptureState(engine).latest_runs():
        run = runs.last_complete
        if runs.source != SOURCE or run is None:
            continue
        key = runs.account.lower()
        previous = last.get(key)
        if previous is None or _aware(run["finished_at"]) > _aware(previous["finished_at"]):
            last[key] = run
    stale = []
    for target in due_targets(engine, now):
        if not target.capture_chats:
            continue
        latest = last.get(target.account.lower())
        finished = _aware(latest["finished_at"]) if latest is not None else None
        age = now - finished if finished is not None else None
        if age is None or age > max_age:
            stale.append(
                StaleChats(
                    designation_id=target.designation_id,
                    account=target.account,
                    official=target.official,
                    last_complete_run=str(latest["run_id"]) if latest is not None else None,
                    last_complete_at=finished,
                    age=age,
                    max_age=max_age,
                )
            )
    return sorted(stale, key=lambda s: (s.official, s.account))
