"""The scope of a Woo case (officials, designations, period), one row per version.

Revision ID: 0008
Revises: 0004_latest_runs

* ``woo_case_scopes`` - (case, version) -> officials and designation ids (JSON lists), period, who
  set it, when and why. The newest version is the case's scope; a widening adds a version.

Cases opened before this migration get no row: no scope can be inferred for them, so content
access in them is refused until a Woo officer sets one with ``capstone woo case widen`` and a reason
(audited like every widening).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "woo_case_scopes",
        sa.Column("ref", sa.String(64), sa.ForeignKey("woo_cases.ref"), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("officials", sa.Text, nullable=False),
        sa.Column("designations", sa.Text, nullable=False),
        sa.Column("date_from", sa.Date),
        sa.Column("date_to", sa.Date),
        sa.Column("set_by", sa.String(200), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("woo_case_scopes")
