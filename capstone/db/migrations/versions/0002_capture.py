"""Capture engine state: runs, folder cursors, captured items, pending removals, errors, finals.

Revision ID: 0002_capture
Revises: 0001_registry
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002_capture"
down_revision: str | None = "0001_registry"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "capture_runs",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("designation_id", sa.String(64), nullable=False, index=True),
        sa.Column("account", sa.String(320), nullable=False, index=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("items_new", sa.Integer, nullable=False),
        sa.Column("bytes_new", sa.BigInteger, nullable=False),
        sa.Column("errors", sa.Integer, nullable=False),
        sa.Column("manifest_key", sa.String(200)),
        sa.Column("summary", sa.JSON),
    )
    op.create_table(
        "folder_cursors",
        sa.Column("account", sa.String(320), primary_key=True),
        sa.Column("mailbox_kind", sa.String(16), primary_key=True),
        sa.Column("folder_id", sa.String(512), primary_key=True),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("parent_id", sa.String(512)),
        sa.Column("hidden", sa.Boolean, nullable=False),
        sa.Column("present", sa.Boolean, nullable=False),
        sa.Column("delta_link", sa.Text),
        sa.Column("pending_link", sa.Text),
        sa.Column("updated_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "captured_items",
        sa.Column("account", sa.String(320), primary_key=True),
        sa.Column("mailbox_kind", sa.String(16), primary_key=True),
        sa.Column("item_id", sa.String(512), primary_key=True),
        sa.Column("folder_id", sa.String(512), nullable=False, index=True),
        sa.Column("change_key", sa.String(512)),
        sa.Column("blob_sha256", sa.String(64)),
        sa.Column("record_id", sa.String(64)),
        sa.Column("size", sa.BigInteger),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("deleted_in_source", sa.Boolean, nullable=False),
        sa.Column("first_run", sa.String(64), nullable=False),
        sa.Column("last_run", sa.String(64), nullable=False),
    )
    op.create_table(
        "pending_removals",
        sa.Column("account", sa.String(320), primary_key=True),
        sa.Column("mailbox_kind", sa.String(16), primary_key=True),
        sa.Column("item_id", sa.String(512), primary_key=True),
        sa.Column("folder_id", sa.String(512), primary_key=True),
        sa.Column("run_id", sa.String(64), nullable=False),
    )
    op.create_table(
        "capture_errors",
        sa.Column("account", sa.String(320), primary_key=True),
        sa.Column("mailbox_kind", sa.String(16), primary_key=True),
        sa.Column("item_id", sa.String(512), primary_key=True),
        sa.Column("folder_id", sa.String(512), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "final_captures",
        sa.Column("designation_id", sa.String(64), primary_key=True),
        sa.Column("account", sa.String(320), primary_key=True),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "final_captures",
        "capture_errors",
        "pending_removals",
        "captured_items",
        "folder_cursors",
        "capture_runs",
    ):
        op.drop_table(table)
