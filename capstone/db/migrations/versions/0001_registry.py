"""The registry of key officials (sleutelfunctionarissen).

Revision ID: 0001_registry
Revises:
Create Date: 2026-11-22

Tables:

* ``registry_designations`` - one row per designation id (the anchor for foreign keys).
* ``registry_events`` - the truth: an append-only log of designated / corrected / ended / withdrawn
  events. UPDATE, DELETE (and on PostgreSQL TRUNCATE) are refused by triggers.
* ``registry_event_archive`` - append-only: which event went into the vault as which record.
* ``registry_imports`` - append-only: each CSV file imported, by SHA-256 (a duplicate import is refused).
* ``registry_coverage`` - a projection kept in step with the events in the same transaction: one row
  per (designation, account key) with the designation's current period. The database refuses two rows
  for the same account key with overlapping periods: on PostgreSQL an exclusion constraint
  (btree_gist), on SQLite triggers (SQLite serialises writers, so a trigger's check cannot race).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_registry"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_APPEND_ONLY = ("registry_events", "registry_event_archive", "registry_imports")

_ID = sa.String(40)
_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "registry_designations",
        sa.Column("designation_id", _ID, primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "registry_events",
        sa.Column("seq", _SEQ, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column(
            "designation_id",
            _ID,
            sa.ForeignKey("registry_designations.designation_id", name="fk_registry_events_designation"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("event_type", sa.String(16), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("designation_id", "version", name="uq_registry_events_designation_version"),
        sa.CheckConstraint(
            "event_type IN ('designated', 'corrected', 'ended', 'withdrawn')",
            name="ck_registry_events_type",
        ),
        sa.CheckConstraint("version >= 1", name="ck_registry_events_version"),
    )
    op.create_index("ix_registry_events_recorded_at", "registry_events", ["recorded_at"])
    op.create_table(
        "registry_event_archive",
        sa.Column(
            "event_id",
            sa.String(36),
            sa.ForeignKey("registry_events.event_id", name="fk_registry_event_archive_event"),
            primary_key=True,
        ),
        sa.Column("record_id", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(100), nullable=False),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "registry_imports",
        sa.Column("import_id", sa.String(36), primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("filename", sa.String(500), nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "registry_coverage",
        sa.Column("id", _SEQ, primary_key=True, autoincrement=True),
        sa.Column(
            "designation_id",
            _ID,
            sa.ForeignKey("registry_designations.designation_id", name="fk_registry_coverage_designation"),
            nullable=False,
        ),
        sa.Column("account_key", sa.String(400), nullable=False),
        sa.Column("start_date", sa.Date, nullable=False),
        sa.Column("end_date", sa.Date, nullable=True),
        sa.UniqueConstraint("designation_id", "account_key", name="uq_registry_coverage_designation_account"),
        sa.CheckConstraint("end_date IS NULL OR end_date >= start_date", name="ck_registry_coverage_period"),
    )
    op.create_index("ix_registry_coverage_account", "registry_coverage", ["account_key"])

    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        _postgresql_rules()
    elif dialect == "sqlite":
        _sqlite_rules()
    else:  # pragma: no cover - only the two supported databases
        raise RuntimeError(f"Capstone's registry supports SQLite and PostgreSQL, not {dialect}")


def _postgresql_rules() -> None:
    # btree_gist lets a GiST index combine equality on text with range overlap; it is a trusted
    # extension (PostgreSQL 13+), so a database owner without superuser rights may create it.
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.execute(
        "ALTER TABLE registry_coverage ADD CONSTRAINT registry_coverage_no_overlap "
        "EXCLUDE USING gist (account_key WITH =, daterange(start_date, end_date, '[]') WITH &&)"
    )
    op.execute(
        """
        CREATE FUNCTION capstone_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'capstone: % is append-only: % refused', TG_TABLE_NAME, TG_OP
                USING ERRCODE = 'integrity_constraint_violation';
        END
        $$
        """
    )
    for table in _APPEND_ONLY:
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION capstone_refuse_change()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION capstone_refuse_change()"
        )


_SQLITE_OVERLAP = """
    SELECT 1 FROM registry_coverage AS c
    WHERE c.account_key = NEW.account_key
      AND c.start_date <= COALESCE(NEW.end_date, '9999-12-31')
      AND NEW.start_date <= COALESCE(c.end_date, '9999-12-31')
"""


def _sqlite_rules() -> None:
    # Dates are stored as ISO 'YYYY-MM-DD' text, so text comparison is date comparison; an open end
    # compares as 9999-12-31. Periods are inclusive at both ends, like daterange(..., '[]').
    op.execute(
        f"""
        CREATE TRIGGER registry_coverage_no_overlap_insert BEFORE INSERT ON registry_coverage
        WHEN EXISTS ({_SQLITE_OVERLAP})
        BEGIN
            SELECT RAISE(ABORT, 'registry_coverage_no_overlap: overlapping coverage of the same account');
        END
        """
    )
    op.execute(
        f"""
        CREATE TRIGGER registry_coverage_no_overlap_update
        BEFORE UPDATE OF account_key, start_date, end_date ON registry_coverage
        WHEN EXISTS ({_SQLITE_OVERLAP} AND c.id != NEW.id)
        BEGIN
            SELECT RAISE(ABORT, 'registry_coverage_no_overlap: overlapping coverage of the same account');
        END
        """
    )
    for table in _APPEND_ONLY:
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
    dialect = op.get_bind().dialect.name
    for table in ("registry_coverage", "registry_imports", "registry_event_archive", "registry_events"):
        op.drop_table(table)
    op.drop_table("registry_designations")
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS capstone_refuse_change()")
