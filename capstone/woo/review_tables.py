"""State-database tables of the Woo review (issue 19), created by the migration ``w19_woo_review``.

Every table is append-only (UPDATE and DELETE refused by triggers): a change is a new row, the
newest row per document (or mark, or case) is the current state, and the older rows are its history.

* ``woo_assessments`` - per case and document: judgement (the platform's enum value), grounds,
  toelichting, link (reeds openbaar), who and when; ``batch`` groups one assessment act.
* ``woo_redaction_marks`` - events of a redaction mark (a text span or a page region with its ground
  code): proposed (a suggestion), accepted, rejected, withdrawn; the newest event is its state.
* ``woo_review_rules`` - whether a case requires a second officer's approval (*collegiale toets*).
* ``woo_approvals`` - approvals given, each for the review state up to ``through_seq``.
* ``woo_document_numbers`` - the stable number (the platform's document ID) of a case's document.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()
_WHEN = DateTime(timezone=True)

woo_assessments = Table(
    "woo_assessments",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("ref", String(64), nullable=False, index=True),
    Column("doc_id", String(300), nullable=False),
    Column("judgement", String(20), nullable=False),
    Column("grounds", Text, nullable=False),  # JSON list of codes
    Column("toelichting", Text, nullable=False),
    Column("link", Text),
    Column("batch", String(36), nullable=False),
    Column("assessed_by", String(200), nullable=False),
    Column("assessed_at", _WHEN, nullable=False),
)

woo_redaction_marks = Table(
    "woo_redaction_marks",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("ref", String(64), nullable=False, index=True),
    Column("doc_id", String(300), nullable=False),
    Column("mark_id", String(36), nullable=False, index=True),
    Column("status", String(12), nullable=False),  # proposed | accepted | rejected | withdrawn
    Column("kind", String(8), nullable=False),  # text | region
    Column("text", Text),
    Column("page", Integer),
    Column("x0", Float),
    Column("y0", Float),
    Column("x1", Float),
    Column("y1", Float),
    Column("ground", String(12), nullable=False),
    Column("origin", String(40), nullable=False),  # officer | suggestion:<kind>
    Column("changed_by", String(200), nullable=False),
    Column("changed_at", _WHEN, nullable=False),
)

woo_review_rules = Table(
    "woo_review_rules",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("ref", String(64), nullable=False, index=True),
    Column("approval_required", Boolean, nullable=False),
    Column("set_by", String(200), nullable=False),
    Column("set_at", _WHEN, nullable=False),
)

woo_approvals = Table(
    "woo_approvals",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("ref", String(64), nullable=False, index=True),
    Column("approver", String(200), nullable=False),
    Column("through_assessment", Integer, nullable=False),
    Column("through_mark", Integer, nullable=False),
    Column("note", Text, nullable=False),
    Column("approved_at", _WHEN, nullable=False),
)

woo_document_numbers = Table(
    "woo_document_numbers",
    metadata,
    Column("ref", String(64), primary_key=True),
    Column("doc_id", String(300), primary_key=True),
    Column("number", Integer, nullable=False),
    UniqueConstraint("ref", "number", name="woo_document_numbers_unique"),
)

APPEND_ONLY = ("woo_assessments", "woo_redaction_marks", "woo_review_rules", "woo_approvals")
