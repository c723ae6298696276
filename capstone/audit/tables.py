"""State-database tables of Woo cases and the audit log (created by the Alembic migration 0003_woo)."""

from __future__ import annotations

from sqlalchemy import Column, Date, DateTime, ForeignKey, Integer, MetaData, String, Table, Text

metadata = MetaData()

woo_cases = Table(
    "woo_cases",
    metadata,
    Column("ref", String(64), primary_key=True),
    Column("subject", Text, nullable=False),
    Column("requester", Text),
    Column("received", Date, nullable=False),
    Column("status", String(16), nullable=False),
    Column("opened_by", String(200), nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("closed_at", DateTime(timezone=True)),
)

woo_case_officers = Table(
    "woo_case_officers",
    metadata,
    Column("ref", String(64), ForeignKey("woo_cases.ref"), primary_key=True),
    Column("officer", String(200), primary_key=True),
    Column("assigned_by", String(200), nullable=False),
    Column("assigned_at", DateTime(timezone=True), nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", String(40), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("role", String(40)),
    Column("action", String(40), nullable=False),
    Column("case_ref", String(64)),
    Column("outcome", String(16), nullable=False),
    Column("detail", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("entry_hash", String(64), nullable=False, unique=True),
)
