"""Which accounts are due for capture: the registry's designations in force now, plus designations
that have ended and still need their one final capture."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

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
        )
        for account in designation.accounts
    ]


def due_targets(engine: Engine, now: datetime, *, designation_id: str | None = None) -> list[CaptureTarget]:
    registry = Registry(engine)
    today = local_day(now)
    targets: list[CaptureTarget] = []
    for assignment in registry.active_at(now):
        targets.extend(_targets(assignment.designation, final=False))
    with engine.connect() as conn:
        done = {(r.designation_id, r.account) for r in conn.execute(select(final_captures))}
    for designation in registry.designations():
        if designation.withdrawn or designation.end_date is None or designation.end_date >= today:
            continue
        targets.extend(
            t for t in _targets(designation, final=True) if (t.designation_id, t.account) not in done
        )
    if designation_id is not None:
        targets = [t for t in targets if t.designation_id == designation_id]
    return targets


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
