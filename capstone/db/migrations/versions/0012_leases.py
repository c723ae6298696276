"""Many capture workers on one state database (issue 20).

Revision ID: 0012_leases
Revises: 0008

* ``capture_leases`` - the work queue: one row per account due for capture, with its lease (holder,
  expiry) and fencing token (raised at every take-over; every state commit checks it).
* ``capture_workers`` - the workers that ran, with their heartbeat (``capture status``).
* ``vault_chain_heads`` - the head of each vault's manifest chain, locked while a manifest is
  appended, so concurrent writers keep one sequence.
* ``rate_buckets`` - token buckets shared by every worker (Graph's tenant-wide limits).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0012_leases"
down_revision: str | None = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "capture_leases",
        sa.Column("account", sa.String(320), primary_key=True),
        sa.Column("designation_id", sa.String(64)),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_success_at", sa.DateTime(timezone=True)),
        sa.Column("chat_deadline", sa.DateTime(timezone=True)),
        sa.Column("holder", sa.String(200)),
        sa.Column("token", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("acquired_at", sa.DateTime(timezone=True)),
        sa.Column("renewed_at", sa.DateTime(timezone=True)),
        sa.Column("expires_at", sa.DateTime(timezone=True)),
        sa.Column("released_at", sa.DateTime(timezone=True)),
        sa.Column("last_outcome", sa.String(16)),
    )
    op.create_index("capture_leases_due", "capture_leases", ["active", "due_at"])
    op.create_table(
        "capture_workers",
        sa.Column("worker_id", sa.String(200), primary_key=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("concurrency", sa.Integer, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True)),
        sa.Column("accounts_done", sa.Integer, nullable=False, server_default="0"),
        sa.Column("leases_lost", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_table(
        "vault_chain_heads",
        sa.Column("vault", sa.String(64), primary_key=True),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("manifest_key", sa.String(200), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "rate_buckets",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("tokens", sa.Float, nullable=False),
        sa.Column("updated", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("rate_buckets")
    op.drop_table("vault_chain_heads")
    op.drop_table("capture_workers")
    op.drop_index("capture_leases_due", table_name="capture_leases")
    op.drop_table("capture_leases")
