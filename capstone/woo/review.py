"""The Woo review's records: assessments, redaction marks, the collegiale toets, document numbers.

Everything is append-only (see :mod:`capstone.woo.review_tables`): an assessment changed is a new row,
a mark accepted, rejected or withdrawn is a new event; the newest row is the current state and the
rows before it are its history, each with who and when. This module only stores and reads; the rules
(roles, scope, what may be assessed how) are :mod:`capstone.woo.review_service`'s.

Example::

    store = ReviewStore(engine)
    store.add_assessments("Z/2026/001234", [AssessmentInput("rec-1", Judgement.NOT_PUBLIC, ("5.1.2e",))], by="anna")
    store.current("Z/2026/001234")["rec-1"].judgement      # Judgement.NOT_PUBLIC
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import Engine, func, select
from sqlalchemy import text as sql_text

from capstone.db.engine import write_transaction
from capstone.woo.cases import CaseError
from capstone.woo.grounds import Judgement, parse_ground
from capstone.woo.review_tables import (
    woo_approvals,
    woo_assessments,
    woo_document_numbers,
    woo_redaction_marks,
    woo_review_rules,
)

MarkKind = Literal["text", "region"]
MarkStatus = Literal["proposed", "accepted", "rejected", "withdrawn"]
MARK_STATUSES: tuple[MarkStatus, ...] = ("proposed", "accepted", "rejected", "withdrawn")


class ReviewInputError(CaseError):
    """Review input that is refused (nothing is written)."""


@dataclass(frozen=True)
class AssessmentInput:
    doc_id: str
    judgement: Judgement
    grounds: tuple[str, ...] = ()
    toelichting: str = ""
    link: str | None = None


@dataclass(frozen=True)
class Assessment:
    seq: int
    ref: str
    doc_id: str
    judgement: Judgement
    grounds: tuple[str, ...]
    toelichting: str
    link: str | None
    batch: str
    assessed_by: str
    assessed_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "case": self.ref,
            "doc_id": self.doc_id,
            "judgement": self.judgement.value,
            "beoordeling": self.judgement.label,
            "grounds": list(self.grounds),
            "toelichting": self.toelichting,
            "link": self.link,
            "batch": self.batch,
            "assessed_by": self.assessed_by,
            "assessed_at": self.assessed_at.isoformat(),
        }


@dataclass(frozen=True)
class MarkInput:
    """A redaction mark as proposed or placed: a text span (every occurrence of ``text`` in the
    document) or a page region (``page`` counted from 1, ``rect`` in PDF points from the top left)."""

    kind: MarkKind
    ground: str
    text: str | None = None
    page: int | None = None
    rect: tuple[float, float, float, float] | None = None

    def checked(self) -> MarkInput:
        ground = parse_ground(self.ground)
        if self.kind == "text":
            if not self.text or not self.text.strip():
                raise ReviewInputError(
                    "a text redaction needs the text to withhold", code="mark-text-missing"
                )
            if len(self.text) > 2000:
                raise ReviewInputError(
                    "a text redaction holds at most 2000 characters", code="mark-text-too-long", limit=2000
                )
            return MarkInput("text", ground, text=self.text)
        if self.kind != "region":
            raise ReviewInputError(
                f"unknown redaction kind {self.kind!r}: text or region", code="mark-kind-unknown"
            )
        if self.page is None or self.page < 1 or self.rect is None:
            raise ReviewInputError(
                "a region redaction needs a page (from 1) and a rectangle x0,y0,x1,y1",
                code="mark-region-missing",
            )
        x0, y0, x1, y1 = self.rect
        if not (0 <= x0 < x1 and 0 <= y0 < y1):
            raise ReviewInputError(
                f"an empty or inverted rectangle {self.rect}: x0 < x1 and y0 < y1",
                code="mark-region-inverted",
            )
        return MarkInput("region", ground, page=self.page, rect=(x0, y0, x1, y1))

    @staticmethod
    def parse_region(value: str, ground: str) -> MarkInput:
        """``PAGE:x0,y0,x1,y1`` (as the CLI takes it)."""
        try:
            page, _, coords = value.partition(":")
            x0, y0, x1, y1 = (float(v) for v in coords.split(","))
            return MarkInput("region", ground, page=int(page), rect=(x0, y0, x1, y1))
        except ValueError:
            raise ReviewInputError(
                f"bad region {value!r}: expected PAGE:x0,y0,x1,y1, e.g. 1:72,100,300,120"
            ) from None


@dataclass(frozen=True)
class Mark:
    """A redaction mark's current state (its newest event)."""

    seq: int
    ref: str
    doc_id: str
    mark_id: str
    status: MarkStatus
    kind: MarkKind
    ground: str
    text: str | None
    page: int | None
    rect: tuple[float, float, float, float] | None
    origin: str
    changed_by: str
    changed_at: datetime

    @property
    def accepted(self) -> bool:
        return self.status == "accepted"

    def to_json(self, *, with_text: bool = True) -> dict[str, Any]:
        return {
            "mark_id": self.mark_id,
            "doc_id": self.doc_id,
            "status": self.status,
            "kind": self.kind,
            "ground": self.ground,
            "text": self.text if with_text else None,
            "page": self.page,
            "rect": list(self.rect) if self.rect else None,
            "origin": self.origin,
            "changed_by": self.changed_by,
            "changed_at": self.changed_at.isoformat(),
        }


@dataclass(frozen=True)
class Approval:
    seq: int
    ref: str
    approver: str
    through_assessment: int
    through_mark: int
    note: str
    approved_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "approver": self.approver,
            "approved_at": self.approved_at.isoformat(),
            "note": self.note,
            "through_assessment": self.through_assessment,
            "through_mark": self.through_mark,
        }


@dataclass(frozen=True)
class ReviewState:
    """Where a case's review stands: the newest assessment and mark event, the rule, the approval."""

    ref: str
    approval_required: bool
    last_assessment: int
    last_mark: int
    approval: Approval | None
    assessors: frozenset[str] = field(default_factory=frozenset)

    @property
    def approved(self) -> bool:
        """An approval that covers the review as it is now (nothing changed after it)."""
        return (
            self.approval is not None
            and self.approval.through_assessment >= self.last_assessment
            and self.approval.through_mark >= self.last_mark
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "case": self.ref,
            "approval_required": self.approval_required,
            "approved": self.approved,
            "approval": self.approval.to_json() if self.approval else None,
            "assessors": sorted(self.assessors),
        }


def text_key(value: str | None) -> str:
    """A text mark's identity for "already marked": case and runs of white space do not count."""
    return " ".join((value or "").split()).casefold()


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _assessment(row: Any) -> Assessment:
    return Assessment(
        seq=row.seq, ref=row.ref, doc_id=row.doc_id, judgement=Judgement(row.judgement),
        grounds=tuple(json.loads(row.grounds)), toelichting=row.toelichting, link=row.link,
        batch=row.batch, assessed_by=row.assessed_by, assessed_at=_utc(row.assessed_at),
    )  # fmt: skip


def _mark(row: Any) -> Mark:
    rect = None if row.x0 is None else (row.x0, row.y0, row.x1, row.y1)
    return Mark(
        seq=row.seq, ref=row.ref, doc_id=row.doc_id, mark_id=row.mark_id, status=row.status,
        kind=row.kind, ground=row.ground, text=row.text, page=row.page, rect=rect, origin=row.origin,
        changed_by=row.changed_by, changed_at=_utc(row.changed_at),
    )  # fmt: skip


class ReviewStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- assessments ---------------------------------------------------------------------------------

    def add_assessments(self, ref: str, items: Sequence[AssessmentInput], *, by: str) -> list[Assessment]:
        """One assessment act: every item a new row, all in one transaction; each document gets its
        number in the case on its first assessment."""
        batch, now = str(uuid.uuid4()), _now()
        with write_transaction(self.engine) as conn:
            for item in items:
                conn.execute(
                    woo_assessments.insert().values(
                        ref=ref, doc_id=item.doc_id, judgement=item.judgement.value,
                        grounds=json.dumps(list(item.grounds)), toelichting=item.toelichting, link=item.link,
                        batch=batch, assessed_by=by, assessed_at=now,
                    )
                )  # fmt: skip
            self._number(conn, ref, [item.doc_id for item in items])
        with self.engine.connect() as conn:
            rows = conn.execute(select(woo_assessments).where(woo_assessments.c.batch == batch)).all()
        return [_assessment(r) for r in sorted(rows, key=lambda r: r.seq)]

    def current(self, ref: str) -> dict[str, Assessment]:
        """The newest assessment of every assessed document of the case."""
        latest = (
            select(func.max(woo_assessments.c.seq))
            .where(woo_assessments.c.ref == ref)
            .group_by(woo_assessments.c.doc_id)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(select(woo_assessments).where(woo_assessments.c.seq.in_(latest))).all()
        return {r.doc_id: _assessment(r) for r in rows}

    def history(self, ref: str, doc_id: str | None = None) -> list[Assessment]:
        query = select(woo_assessments).where(woo_assessments.c.ref == ref).order_by(woo_assessments.c.seq)
        if doc_id is not None:
            query = query.where(woo_assessments.c.doc_id == doc_id)
        with self.engine.connect() as conn:
            return [_assessment(r) for r in conn.execute(query)]

    # -- document numbers ----------------------------------------------------------------------------

    def _number(self, conn: Any, ref: str, doc_ids: Iterable[str]) -> None:
        known = set(
            conn.execute(
                select(woo_document_numbers.c.doc_id).where(woo_document_numbers.c.ref == ref)
            ).scalars()
        )
        top = conn.execute(
            select(func.max(woo_document_numbers.c.number)).where(woo_document_numbers.c.ref == ref)
        ).scalar()
        number = int(top or 0)
        for doc_id in dict.fromkeys(doc_ids):
            if doc_id in known:
                continue
            number += 1
            conn.execute(woo_document_numbers.insert().values(ref=ref, doc_id=doc_id, number=number))
            known.add(doc_id)

    def numbers(self, ref: str, doc_ids: Iterable[str] = ()) -> dict[str, int]:
        """The case's document numbers; ``doc_ids`` not numbered yet get the next ones first."""
        wanted = list(doc_ids)
        if wanted:
            with write_transaction(self.engine) as conn:
                self._number(conn, ref, wanted)
        with self.engine.connect() as conn:
            rows = conn.execute(select(woo_document_numbers).where(woo_document_numbers.c.ref == ref)).all()
        return {r.doc_id: int(r.number) for r in rows}

    # -- redaction marks -----------------------------------------------------------------------------

    def add_marks(
        self, ref: str, doc_id: str, marks: Sequence[MarkInput], *, status: MarkStatus, origin: str, by: str
    ) -> list[Mark]:
        ids = [str(uuid.uuid4()) for _ in marks]
        now = _now()
        with write_transaction(self.engine) as conn:
            for mark_id, mark in zip(ids, marks, strict=True):
                rect = mark.rect or (None, None, None, None)
                conn.execute(
                    woo_redaction_marks.insert().values(
                        ref=ref, doc_id=doc_id, mark_id=mark_id, status=status, kind=mark.kind,
                        text=mark.text, page=mark.page, x0=rect[0], y0=rect[1], x1=rect[2], y1=rect[3],
                        ground=mark.ground, origin=origin, changed_by=by, changed_at=now,
                    )
                )  # fmt: skip
        found = self.marks(ref, doc_id)
        return [m for m in found if m.mark_id in set(ids)]

    def propose_once(
        self, ref: str, doc_id: str, proposals: Sequence[tuple[str, MarkInput]], *, by: str
    ) -> list[Mark]:
        """Store each ``(origin, text mark)`` as a proposed mark unless the document already has a
        mark on that text (any status, any origin; compared without case and extra spaces). The check
        and the writes are one transaction, serialised per document (``BEGIN IMMEDIATE`` on SQLite,
        a transaction-scoped advisory lock on PostgreSQL), so two runs at once propose nothing twice."""
        ids: list[str] = []
        now = _now()
        with write_transaction(self.engine) as conn:
            if conn.dialect.name == "postgresql":
                key = int.from_bytes(
                    hashlib.blake2b(f"{ref}\0{doc_id}".encode(), digest_size=8).digest(), "big", signed=True
                )
                conn.execute(sql_text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
            present = conn.execute(
                select(woo_redaction_marks.c.text).where(
                    woo_redaction_marks.c.ref == ref, woo_redaction_marks.c.doc_id == doc_id,
                    woo_redaction_marks.c.kind == "text",
                ).distinct()
            ).scalars()  # fmt: skip
            known = {text_key(t) for t in present}
            for origin, mark in proposals:
                if mark.kind != "text" or text_key(mark.text) in known:
                    continue
                known.add(text_key(mark.text))
                ids.append(str(uuid.uuid4()))
                conn.execute(
                    woo_redaction_marks.insert().values(
                        ref=ref, doc_id=doc_id, mark_id=ids[-1], status="proposed", kind="text", text=mark.text,
                        page=None, x0=None, y0=None, x1=None, y1=None, ground=mark.ground, origin=origin,
                        changed_by=by, changed_at=now,
                    )
                )  # fmt: skip
        wanted = set(ids)
        return [m for m in self.marks(ref, doc_id) if m.mark_id in wanted] if ids else []

    def change_mark(
        self, ref: str, mark: Mark, status: MarkStatus, *, by: str, ground: str | None = None
    ) -> Mark:
        rect = mark.rect or (None, None, None, None)
        with write_transaction(self.engine) as conn:
            conn.execute(
                woo_redaction_marks.insert().values(
                    ref=ref, doc_id=mark.doc_id, mark_id=mark.mark_id, status=status, kind=mark.kind,
                    text=mark.text, page=mark.page, x0=rect[0], y0=rect[1], x1=rect[2], y1=rect[3],
                    ground=ground or mark.ground, origin=mark.origin, changed_by=by, changed_at=_now(),
                )
            )  # fmt: skip
        changed = self.mark(ref, mark.mark_id)
        assert changed is not None
        return changed

    def marks(self, ref: str, doc_id: str | None = None) -> list[Mark]:
        """Every mark's current state (of one document, or of the whole case), oldest first."""
        latest = select(func.max(woo_redaction_marks.c.seq)).where(woo_redaction_marks.c.ref == ref)
        if doc_id is not None:
            latest = latest.where(woo_redaction_marks.c.doc_id == doc_id)
        latest = latest.group_by(woo_redaction_marks.c.mark_id)
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(woo_redaction_marks)
                .where(woo_redaction_marks.c.seq.in_(latest))
                .order_by(woo_redaction_marks.c.seq)
            ).all()
        found = [_mark(r) for r in rows]
        first_seen = {m.mark_id: i for i, m in enumerate(self._first_events(ref, doc_id))}
        return sorted(found, key=lambda m: first_seen.get(m.mark_id, 0))

    def _first_events(self, ref: str, doc_id: str | None) -> list[Mark]:
        first = select(func.min(woo_redaction_marks.c.seq)).where(woo_redaction_marks.c.ref == ref)
        if doc_id is not None:
            first = first.where(woo_redaction_marks.c.doc_id == doc_id)
        first = first.group_by(woo_redaction_marks.c.mark_id)
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(woo_redaction_marks)
                .where(woo_redaction_marks.c.seq.in_(first))
                .order_by(woo_redaction_marks.c.seq)
            ).all()
        return [_mark(r) for r in rows]

    def mark(self, ref: str, mark_id: str) -> Mark | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(woo_redaction_marks)
                .where(woo_redaction_marks.c.ref == ref, woo_redaction_marks.c.mark_id == mark_id)
                .order_by(woo_redaction_marks.c.seq.desc())
                .limit(1)
            ).first()
        return None if row is None else _mark(row)

    # -- collegiale toets ----------------------------------------------------------------------------

    def set_approval_required(self, ref: str, required: bool, *, by: str) -> None:
        with write_transaction(self.engine) as conn:
            conn.execute(
                woo_review_rules.insert().values(
                    ref=ref, approval_required=required, set_by=by, set_at=_now()
                )
            )

    def approve(self, ref: str, *, by: str, note: str, state: ReviewState) -> Approval:
        with write_transaction(self.engine) as conn:
            conn.execute(
                woo_approvals.insert().values(
                    ref=ref, approver=by, through_assessment=state.last_assessment,
                    through_mark=state.last_mark, note=note, approved_at=_now(),
                )
            )  # fmt: skip
        approval = self.state(ref).approval
        assert approval is not None
        return approval

    def state(self, ref: str) -> ReviewState:
        with self.engine.connect() as conn:
            rule = conn.execute(
                select(woo_review_rules.c.approval_required)
                .where(woo_review_rules.c.ref == ref)
                .order_by(woo_review_rules.c.seq.desc())
                .limit(1)
            ).scalar()
            last_assessment = conn.execute(
                select(func.max(woo_assessments.c.seq)).where(woo_assessments.c.ref == ref)
            ).scalar()
            last_mark = conn.execute(
                select(func.max(woo_redaction_marks.c.seq)).where(woo_redaction_marks.c.ref == ref)
            ).scalar()
            row = conn.execute(
                select(woo_approvals)
                .where(woo_approvals.c.ref == ref)
                .order_by(woo_approvals.c.seq.desc())
                .limit(1)
            ).first()
        approval = (
            None
            if row is None
            else Approval(
                row.seq, row.ref, row.approver, row.through_assessment, row.through_mark, row.note,
                _utc(row.approved_at),
            )
        )  # fmt: skip
        assessors = {a.assessed_by for a in self.current(ref).values()}
        assessors |= {m.changed_by for m in self.marks(ref) if m.accepted}
        return ReviewState(
            ref=ref, approval_required=bool(rule), last_assessment=int(last_assessment or 0),
            last_mark=int(last_mark or 0), approval=approval, assessors=frozenset(assessors),
        )  # fmt: skip


__all__ = [
    "MARK_STATUSES",
    "Approval",
    "Assessment",
    "AssessmentInput",
    "Mark",
    "MarkInput",
    "ReviewInputError",
    "ReviewState",
    "ReviewStore",
    "text_key",
]
