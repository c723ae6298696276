"""Background jobs of the web application (issue 18) in the state database.

Revision ID: w18_web_jobs
Revises: w19_woo_review

``web_jobs`` - one row per job (vault verify, Woo export, publication): its kind, owner, status
(running, done, failed), progress, result (JSON), the archive to download, the error, and which
process runs it (``runner``: host, pid and a token of that process) with its heartbeat, so any worker
can show a job another started, and a job whose process died is shown as interrupted, not as running
for ever. See ``capstone/web/jobs.py``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "w18_web_jobs"
down_revision: str | None = "w19_woo_review"
branch_labels = None
depends_on = None

_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "web_jobs",
        sa.Column("job_id", sa.String(32), primary_key=True),
        sa.Column("owner", sa.String(200), nullable=False, index=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("done", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("total", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("result", sa.Text, nullable=False, server_default="{}"),
        sa.Column("download", sa.Text),
        sa.Column("error_kind", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("runner", sa.String(300), nullable=False),
        sa.Column("started_at", _WHEN, nullable=False),
        sa.Column("heartbeat_at", _WHEN, nullable=False),
        sa.Column("finished_at", _WHEN),
    )
    op.create_index("web_jobs_running", "web_jobs", ["status", "runner"])


def downgrade() -> None:
    op.drop_index("web_jobs_running", table_name="web_jobs")
    op.drop_table("web_jobs")
