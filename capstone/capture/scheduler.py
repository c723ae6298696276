"""Which accounts are due for capture: the registry's designations in force now, plus designations
that have ended and still need their one final capture."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from capstone.capture.engine import RunResult
from capstone.capture.state import utcnow
from capstone.capture.tables import final_captures
from capstone.capture.target import CaptureTarget
from capstone.registry.model import Account, Designation, local_day
from capstone.registry.service import Registry


def graph_user_id(account: Account) -> str:
    """How Graph addresses the account: the UPN the DT registered (checkable by a person), else the
    Entra object id, else the primary SMTP address (Graph accepts each in ``/users/{id}``)."""
    return account.upn or account.entra_object_id or account.primary_smtp


def _targets(designation: Designation, *, final: bool) -> list[CaptureTarget]:
    window = designation.capture_window()
    return [
        CaptureTarget(
            designation_id=designation.designation_id,
            account=graph_user_id(account),
            official=designation.name,
            function=designation.function,
            decision_reference=designation.decision_reference,
            capture_mail=designation.scope.mail,
            capture_chats=designation.scope.chats,
            content_from=window.since,
            content_until=window.until,
            final=final,
            exchange_endpoint=account.exchange_endpoint or None,
            address=account.primary_smtp,
        )
        for account in designation.accounts
    ]


@dataclass(frozen=True)
class Unschedulable:
    """A designation the scheduler could not plan (a bad registration): reported, the others go on."""

    designation_id: str
    official: str
    accounts: tuple[str, ...]
    error: str

    @property
    def message(self) -> str:
        return f"designation {self.designation_id} ({self.official}) cannot be scheduled: {self.error}"


@dataclass(frozen=True)
class Schedule:
    targets: list[CaptureTarget]
    problems: list[Unschedulable] = field(default_factory=list)


def plan(engine: Engine, now: datetime, *, designation_id: str | None = None) -> Schedule:
    """The targets due at ``now``; a designation whose targets cannot be built is a problem of its
    own, never the end of the whole pass."""
    registry = Registry(engine)
    today = local_day(now)
    targets: list[CaptureTarget] = []
    problems: list[Unschedulable] = []

    def add(designation: Designation, *, final: bool, skip: set[tuple[str, str]]) -> None:
        if designation_id is not None and designation.designation_id != designation_id:
            return
        try:
            built = _targets(designation, final=final)
        except Exception as exc:  # one bad registration must not stop every other capture
            problem = Unschedulable(
                designation.designation_id,
                designation.name,
                tuple(graph_user_id(a) for a in designation.accounts),
                f"{type(exc).__name__}: {exc}",
            )
            _log().error(
                "designation_unschedulable", designation_id=problem.designation_id, error=problem.error
            )
            problems.append(problem)
            return
        targets.extend(t for t in built if (t.designation_id, t.account) not in skip)

    for assignment in registry.active_at(now):
        add(assignment.designation, final=False, skip=set())
    with engine.connect() as conn:
        done = {(r.designation_id, r.account) for r in conn.execute(select(final_captures))}
    for designation in registry.designations():
        if designation.withdrawn or designation.end_date is None or designation.end_date >= today:
            continue
        add(designation, final=True, skip=done)
    return Schedule(targets, problems)


def due_targets(engine: Engine, now: datetime, *, designation_id: str | None = None) -> list[CaptureTarget]:
    """The targets of :func:`plan` (a designation that cannot be scheduled is logged and left out)."""
    return plan(engine, now, designation_id=designation_id).targets


def _log() -> Any:
    from capstone.logging import get_logger

    return get_logger("capture")


def mark_final_captures(
    engine: Engine, targets: Sequence[CaptureTarget], results: Sequence[RunResult]
) -> None:
    """After a complete final capture (mail and chats), an ended designation's account is captured
    no more."""
    finals = {(t.designation_id, t.account) for t in targets if t.final}
    outcome: dict[tuple[str, str], list[RunResult]] = {}
    for result in results:
        outcome.setdefault((result.designation_id, result.account), []).append(result)
    with engine.begin() as conn:
        done = {(r.designation_id, r.account) for r in conn.execute(select(final_captures))}
        for key in sorted(finals - done):
            runs = outcome.get(key, [])
            if runs and all(r.status == "complete" for r in runs):
                conn.execute(
                    final_captures.insert().values(
                        designation_id=key[0], account=key[1], run_id=runs[0].run_id, captured_at=utcnow()
                    )
                )
