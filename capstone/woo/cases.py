"""Woo cases: a reference, the date the request was received, its deadlines, and its officers.

Deadlines (Woo art. 4.4): a decision within 4 weeks of receipt, extendable once by 2 weeks. When third
parties are asked for a *zienswijze* they get 2 weeks, so the latest day to ask them is 2 weeks before
the extended deadline (received + 4 weeks).

Example::

    cases = CaseStore(engine)
    case = cases.open(ref="WOO-2026-014", received=date(2026, 11, 2), subject="Fietsbrug", by="anna")
    case.decision_due, case.extended_due, case.zienswijze_by
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from capstone.audit.tables import woo_case_officers, woo_cases
from capstone.coded import Coded
from capstone.db.engine import write_transaction

# A case system's own reference: ``WOO-2026-014``, ``Z/2026/001234``, ``2026-0147``, ``ZK.2026.12``:
# letters, digits and ``/ . -``, starting and ending with a letter or digit, no two separators in a row.
REF_PATTERN = re.compile(r"^[A-Z0-9](?:[A-Z0-9]|[/.\-](?=[A-Z0-9])){0,63}$")
REF_MAX = 64
DECISION_TERM = timedelta(weeks=4)
EXTENSION = timedelta(weeks=2)
ZIENSWIJZE_TERM = timedelta(weeks=2)


class CaseError(Coded, ValueError):
    """A case that does not exist, is closed, or bad case input."""


class UnknownCaseError(CaseError, LookupError):
    """No case has this reference (a refusal: the CLI exits 3, as for a missing role)."""


@dataclass(frozen=True)
class WooCase:
    ref: str
    subject: str
    requester: str | None
    received: date
    status: str
    opened_by: str
    opened_at: datetime
    closed_at: datetime | None
    officers: tuple[str, ...]

    @property
    def decision_due(self) -> date:
        return self.received + DECISION_TERM

    @property
    def extended_due(self) -> date:
        return self.decision_due + EXTENSION

    @property
    def zienswijze_by(self) -> date:
        return self.extended_due - ZIENSWIJZE_TERM

    @property
    def slug(self) -> str:
        """The reference as a file name or URL path segment (see :func:`ref_slug`)."""
        return self.ref.replace("/", "_")

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    def to_json(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "subject": self.subject,
            "requester": self.requester,
            "received": self.received.isoformat(),
            "status": self.status,
            "decision_due": self.decision_due.isoformat(),
            "extended_due": self.extended_due.isoformat(),
            "zienswijze_by": self.zienswijze_by.isoformat(),
            "opened_by": self.opened_by,
            "opened_at": self.opened_at.isoformat(),
            "closed_at": self.closed_at.isoformat() if self.closed_at else None,
            "officers": list(self.officers),
        }


def validate_ref(ref: str) -> str:
    """The case reference as its case system writes it (upper case): letters, digits and ``/ . -``.
    Its :func:`ref_slug` (``_`` for ``/``, as in a URL path or a file name) names the same case."""
    ref = ref.strip().upper().replace("_", "/")
    if len(ref) > REF_MAX or not REF_PATTERN.match(ref):
        raise CaseError(
            f"invalid case reference {ref[:80]!r}: letters, digits and / . - (at most {REF_MAX} characters, "
            "starting and ending with a letter or digit), e.g. Z/2026/001234, 2026-0147 or WOO-2026-014"
        )
    return ref


def ref_slug(ref: str) -> str:
    """The reference as one safe file or directory name: ``/`` becomes ``_`` (which a reference never
    holds, so two references never share a name): ``Z/2026/001234`` -> ``Z_2026_001234``."""
    return validate_ref(ref).replace("/", "_")


def ref_zaaknummer(ref: str) -> str:
    """The reference in the Woo platform's column *Zaaknummer* (``Inquiry::INQUIRY_NUMBER_REGEX``
    allows letters, digits and ``- . ; ( )`` and spaces, no ``/``): ``/`` becomes ``-``."""
    return validate_ref(ref).replace("/", "-")


class CaseStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def open(
        self, *, ref: str, received: date, subject: str, by: str, requester: str | None = None
    ) -> WooCase:
        ref = validate_ref(ref)
        if not subject.strip():
            raise CaseError("a case needs a subject")
        if received > date.today():
            raise CaseError(f"received date {received} lies in the future")
        now = datetime.now(UTC)
        try:
            with write_transaction(self.engine) as conn:
                conn.execute(
                    woo_cases.insert().values(
                        ref=ref,
                        subject=subject.strip(),
                        requester=requester,
                        received=received,
                        status="open",
                        opened_by=by,
                        opened_at=now,
                    )
                )
                conn.execute(
                    woo_case_officers.insert().values(ref=ref, officer=by, assigned_by=by, assigned_at=now)
                )
        except IntegrityError:
            raise CaseError(f"case {ref} already exists") from None
        return self.get(ref)

    def get(self, ref: str) -> WooCase:
        ref = validate_ref(ref)
        with self.engine.connect() as conn:
            row = conn.execute(select(woo_cases).where(woo_cases.c.ref == ref)).first()
            if row is None:
                raise UnknownCaseError(
                    f"no Woo case {ref}; open it with `capstone woo case open --ref {ref} ...`",
                    code="case-unknown",
                    ref=ref,
                )
            officers = conn.execute(
                select(woo_case_officers.c.officer).where(woo_case_officers.c.ref == ref).order_by("officer")
            ).scalars()
            return WooCase(
                ref=row.ref,
                subject=row.subject,
                requester=row.requester,
                received=row.received,
                status=row.status,
                opened_by=row.opened_by,
                opened_at=row.opened_at,
                closed_at=row.closed_at,
                officers=tuple(officers),
            )

    def list(self, *, status: str | None = None) -> list[WooCase]:
        query = select(woo_cases.c.ref).order_by(woo_cases.c.received, woo_cases.c.ref)
        if status:
            query = query.where(woo_cases.c.status == status)
        with self.engine.connect() as conn:
            refs = list(conn.execute(query).scalars())
        return [self.get(ref) for ref in refs]

    def assign(self, ref: str, officer: str, *, by: str) -> WooCase:
        case = self.get(ref)
        if officer in case.officers:
            return case
        with write_transaction(self.engine) as conn:
            conn.execute(
                woo_case_officers.insert().values(
                    ref=case.ref, officer=officer, assigned_by=by, assigned_at=datetime.now(UTC)
                )
            )
        return self.get(ref)

    def close(self, ref: str) -> WooCase:
        case = self.get(ref)
        if not case.is_open:
            raise CaseError(f"case {case.ref} is already closed", code="case-closed", ref=case.ref)
        with write_transaction(self.engine) as conn:
            conn.execute(
                woo_cases.update()
                .where(woo_cases.c.ref == case.ref)
                .values(status="closed", closed_at=datetime.now(UTC))
            )
        return self.get(ref)
