"""Woo cases, their officers, and the append-only, hash-chained audit log.

Revision ID: 0003_woo
Revises: 0002_capture

* ``woo_cases`` - one row per Woo-verzoek (reference, dates, subject, status).
* ``woo_case_officers`` - which Woo officers a case is assigned to.
* ``audit_log`` - append-only: UPDATE, DELETE (and on PostgreSQL TRUNCATE) are refused by triggers;
  each entry carries the SHA-256 of the previous one, so an edit made around the triggers is found.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003_woo"
down_revision: str | None = "0002_capture"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "woo_cases",
        sa.Column("ref", sa.String(64), primary_key=True),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("requester", sa.Text),
        sa.Column("received", sa.Date, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("opened_by", sa.String(200), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "woo_case_officers",
        sa.Column("ref", sa.String(64), sa.ForeignKey("woo_cases.ref"), primary_key=True),
        sa.Column("officer", sa.String(200), primary_key=True),
        sa.Column("assigned_by", sa.String(200), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("role", sa.String(40)),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("case_ref", sa.String(64)),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),  # canonical JSON: query, counts, items, reason
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False, unique=True),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION capstone_refuse_change()"
        )
        op.execute(
            "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION capstone_refuse_change()"
        )
    else:
        for operation in ("UPDATE", "DELETE"):
            op.execute(
                f"""
                CREATE TRIGGER audit_log_no_{operation.lower()} BEFORE {operation} ON audit_log
                BEGIN
                    SELECT RAISE(ABORT, 'capstone: audit_log is append-only: {operation} refused');
                END
                """
            )


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_table("woo_case_officers")
    op.drop_table("woo_cases")
