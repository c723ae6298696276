"""The newest run and the newest complete run of every account and source, kept as runs start
and finish, so ``capture status`` and the metrics read a row per account instead of a year of runs.

Revision ID: 0004_latest_runs
Revises: 0003_woo

* ``capture_latest`` - (account, source) -> the newest run id and the newest complete run id; filled
  from ``capture_runs`` for a database that already has runs.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004_latest_runs"
down_revision: str | None = "0003_woo"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "capture_latest",
        sa.Column("account", sa.String(320), primary_key=True),
        sa.Column("source", sa.String(32), primary_key=True),
        sa.Column("last_run_id", sa.String(64), nullable=False),
        sa.Column("last_complete_run_id", sa.String(64)),
    )
    op.create_index("capture_runs_account_source", "capture_runs", ["account", "source", "started_at"])
    # Existing runs: the newest by start, and the newest complete one by finish.
    op.execute(
        """
        INSERT INTO capture_latest (account, source, last_run_id, last_complete_run_id)
        SELECT r.account, r.source,
               (SELECT n.run_id FROM capture_runs n WHERE n.account = r.account AND n.source = r.source
                ORDER BY n.started_at DESC, n.run_id DESC LIMIT 1),
               (SELECT c.run_id FROM capture_runs c WHERE c.account = r.account AND c.source = r.source
                AND c.status = 'complete' AND c.finished_at IS NOT NULL
                ORDER BY c.finished_at DESC, c.run_id DESC LIMIT 1)
        FROM (SELECT DISTINCT account, source FROM capture_runs) r
        """
    )


def downgrade() -> None:
    op.drop_index("capture_runs_account_source", table_name="capture_runs")
    op.drop_table("capture_latest")
