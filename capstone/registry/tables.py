"""SQLAlchemy Core tables of the registry, as created by migration ``0001_registry``.

The migration is the authority on the schema (it also creates the overlap and append-only rules,
which are not expressed here); these definitions are what the queries use.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

_ID = sa.String(40)
_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

designations = sa.Table(
    "registry_designations",
    metadata,
    sa.Column("designation_id", _ID, primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

events = sa.Table(
    "registry_events",
    metadata,
    sa.Column("seq", _SEQ, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(36), nullable=False, unique=True),
    sa.Column("designation_id", _ID, sa.ForeignKey("registry_designations.designation_id"), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("event_type", sa.String(16), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("designation_id", "version", name="uq_registry_events_designation_version"),
)

event_archive = sa.Table(
    "registry_event_archive",
    metadata,
    sa.Column("event_id", sa.String(36), sa.ForeignKey("registry_events.event_id"), primary_key=True),
    sa.Column("record_id", sa.String(64), nullable=False),
    sa.Column("run_id", sa.String(100), nullable=False),
    sa.Column("archived_at", sa.DateTime(timezone=True), nullable=False),
)

imports = sa.Table(
    "registry_imports",
    metadata,
    sa.Column("import_id", sa.String(36), primary_key=True),
    sa.Column("sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("filename", sa.String(500), nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
)

coverage = sa.Table(
    "registry_coverage",
    metadata,
    sa.Column("id", _SEQ, primary_key=True, autoincrement=True),
    sa.Column("designation_id", _ID, sa.ForeignKey("registry_designations.designation_id"), nullable=False),
    sa.Column("account_key", sa.String(400), nullable=False),
    sa.Column("start_date", sa.Date, nullable=False),
    sa.Column("end_date", sa.Date, nullable=True),
    sa.UniqueConstraint("designation_id", "account_key", name="uq_registry_coverage_designation_account"),
)

OVERLAP_CONSTRAINT = "registry_coverage_no_overlap"
VERSION_CONSTRAINT = "uq_registry_events_designation_version"
IMPORT_SHA_COLUMN = "sha256"
