"""The retention lifecycle (issue 21): exclusions (four eyes), holds, destruction lists, and a cache
of the locks a retention run already extended (so a run need not ask the store about each object).

Revision ID: 0011
Revises: 0004_latest_runs
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0004_latest_runs"
branch_labels = None
depends_on = None

_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "retention_exclusions",
        sa.Column("exclusion_id", sa.String(36), primary_key=True),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("value", sa.String(400), nullable=False),
        sa.Column("category", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("marked_by", sa.String(200), nullable=False),
        sa.Column("marked_at", _WHEN, nullable=False),
        sa.Column("decided_by", sa.String(200)),
        sa.Column("decided_at", _WHEN),
        sa.Column("decision_note", sa.Text),
    )
    op.create_table(
        "retention_exclusion_records",
        sa.Column("exclusion_id", sa.String(36), primary_key=True),
        sa.Column("record_id", sa.String(64), primary_key=True),
        sa.Column("blob_sha256", sa.String(64)),
    )
    op.create_index("retention_exclusion_records_record", "retention_exclusion_records", ["record_id"])
    op.create_table(
        "retention_holds",
        sa.Column("hold_id", sa.String(36), primary_key=True),
        sa.Column("ref", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("placed_by", sa.String(200), nullable=False),
        sa.Column("placed_at", _WHEN, nullable=False),
        sa.Column("released_by", sa.String(200)),
        sa.Column("released_at", _WHEN),
    )
    op.create_table(
        "retention_hold_objects",
        sa.Column("hold_id", sa.String(36), primary_key=True),
        sa.Column("blob_sha256", sa.String(64), primary_key=True),
        sa.Column("record_id", sa.String(64), nullable=False),
    )
    op.create_table(
        "retention_destruction_lists",
        sa.Column("list_id", sa.String(36), primary_key=True),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("proposed_by", sa.String(200), nullable=False),
        sa.Column("proposed_at", _WHEN, nullable=False),
        sa.Column("approved_by", sa.String(200)),
        sa.Column("approved_at", _WHEN),
        sa.Column("decision_ref", sa.String(200)),
        sa.Column("destroyed_at", _WHEN),
        sa.Column("certificate_sha256", sa.String(64)),
    )
    op.create_table(
        "retention_destruction_items",
        sa.Column("list_id", sa.String(36), primary_key=True),
        sa.Column("blob_sha256", sa.String(64), primary_key=True),
        sa.Column("designation_id", sa.String(40)),
        sa.Column("category", sa.String(40)),
        sa.Column("term", sa.String(20), nullable=False),
        sa.Column("earliest", _WHEN, nullable=False),
        sa.Column("latest", _WHEN, nullable=False),
        sa.Column("record_ids", sa.Text, nullable=False),
        sa.Column("size", sa.BigInteger),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("note", sa.Text),
    )
    op.create_table(
        "retention_secured",
        sa.Column("blob_sha256", sa.String(64), primary_key=True),
        sa.Column("retain_until", _WHEN, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("retention_secured")
    op.drop_table("retention_destruction_items")
    op.drop_table("retention_destruction_lists")
    op.drop_table("retention_hold_objects")
    op.drop_table("retention_holds")
    op.drop_index("retention_exclusion_records_record", table_name="retention_exclusion_records")
    op.drop_table("retention_exclusion_records")
    op.drop_table("retention_exclusions")
