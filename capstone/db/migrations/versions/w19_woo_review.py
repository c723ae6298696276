"""The Woo review (issue 19): assessments, redaction marks, the collegiale toets, document numbers.

Revision ID: w19_woo_review
Revises: 0008

See ``capstone/woo/review_tables.py`` for the tables. The assessments, marks, rules and approvals
are append-only: UPDATE and DELETE are refused by triggers (on PostgreSQL by the function
``capstone_refuse_change`` of 0001_registry), as for the audit log.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "w19_woo_review"
down_revision: str | None = "0012_leases"
branch_labels = None
depends_on = None

_WHEN = sa.DateTime(timezone=True)
_APPEND_ONLY = ("woo_assessments", "woo_redaction_marks", "woo_review_rules", "woo_approvals")


def upgrade() -> None:
    op.create_table(
        "woo_assessments",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ref", sa.String(64), nullable=False, index=True),
        sa.Column("doc_id", sa.String(300), nullable=False),
        sa.Column("judgement", sa.String(20), nullable=False),
        sa.Column("grounds", sa.Text, nullable=False),
        sa.Column("toelichting", sa.Text, nullable=False),
        sa.Column("link", sa.Text),
        sa.Column("batch", sa.String(36), nullable=False),
        sa.Column("assessed_by", sa.String(200), nullable=False),
        sa.Column("assessed_at", _WHEN, nullable=False),
    )
    op.create_table(
        "woo_redaction_marks",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ref", sa.String(64), nullable=False, index=True),
        sa.Column("doc_id", sa.String(300), nullable=False),
        sa.Column("mark_id", sa.String(36), nullable=False, index=True),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("text", sa.Text),
        sa.Column("page", sa.Integer),
        sa.Column("x0", sa.Float),
        sa.Column("y0", sa.Float),
        sa.Column("x1", sa.Float),
        sa.Column("y1", sa.Float),
        sa.Column("ground", sa.String(12), nullable=False),
        sa.Column("origin", sa.String(40), nullable=False),
        sa.Column("changed_by", sa.String(200), nullable=False),
        sa.Column("changed_at", _WHEN, nullable=False),
    )
    op.create_table(
        "woo_review_rules",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ref", sa.String(64), nullable=False, index=True),
        sa.Column("approval_required", sa.Boolean, nullable=False),
        sa.Column("set_by", sa.String(200), nullable=False),
        sa.Column("set_at", _WHEN, nullable=False),
    )
    op.create_table(
        "woo_approvals",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ref", sa.String(64), nullable=False, index=True),
        sa.Column("approver", sa.String(200), nullable=False),
        sa.Column("through_assessment", sa.Integer, nullable=False),
        sa.Column("through_mark", sa.Integer, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("approved_at", _WHEN, nullable=False),
    )
    op.create_table(
        "woo_document_numbers",
        sa.Column("ref", sa.String(64), primary_key=True),
        sa.Column("doc_id", sa.String(300), primary_key=True),
        sa.Column("number", sa.Integer, nullable=False),
        sa.UniqueConstraint("ref", "number", name="woo_document_numbers_unique"),
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in _APPEND_ONLY:
        if postgres:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION capstone_refuse_change()"
            )
            continue
        for operation in ("UPDATE", "DELETE"):
            op.execute(
                f"""
                CREATE TRIGGER {table}_no_{operation.lower()} BEFORE {operation} ON {table}
                BEGIN
                    SELECT RAISE(ABORT, 'capstone: {table} is append-only: {operation} refused');
                END
                """
            )


def downgrade() -> None:
    for table in ("woo_document_numbers", *_APPEND_ONLY):
        op.drop_table(table)
