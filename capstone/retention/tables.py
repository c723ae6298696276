"""SQLAlchemy Core tables of the retention lifecycle, as created by migration ``0011_retention``."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

_WHEN = sa.DateTime(timezone=True)

exclusions = sa.Table(
    "retention_exclusions",
    metadata,
    sa.Column("exclusion_id", sa.String(36), primary_key=True),
    sa.Column("scope", sa.String(16), nullable=False),  # record | item | conversation | chat
    sa.Column("value", sa.String(400), nullable=False),
    sa.Column("category", sa.String(20), nullable=False),  # prive | partijpolitiek
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("status", sa.String(12), nullable=False),  # marked | confirmed | refused
    sa.Column("marked_by", sa.String(200), nullable=False),
    sa.Column("marked_at", _WHEN, nullable=False),
    sa.Column("decided_by", sa.String(200)),
    sa.Column("decided_at", _WHEN),
    sa.Column("decision_note", sa.Text),
)

exclusion_records = sa.Table(
    "retention_exclusion_records",
    metadata,
    sa.Column("exclusion_id", sa.String(36), primary_key=True),
    sa.Column("record_id", sa.String(64), primary_key=True),
    sa.Column("blob_sha256", sa.String(64)),
)

holds = sa.Table(
    "retention_holds",
    metadata,
    sa.Column("hold_id", sa.String(36), primary_key=True),
    sa.Column("ref", sa.String(200), nullable=False),  # the Woo case or legal matter
    sa.Column("kind", sa.String(16), nullable=False),  # woo-case | legal
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("placed_by", sa.String(200), nullable=False),
    sa.Column("placed_at", _WHEN, nullable=False),
    sa.Column("released_by", sa.String(200)),
    sa.Column("released_at", _WHEN),
)

hold_objects = sa.Table(
    "retention_hold_objects",
    metadata,
    sa.Column("hold_id", sa.String(36), primary_key=True),
    sa.Column("blob_sha256", sa.String(64), primary_key=True),
    sa.Column("record_id", sa.String(64), nullable=False),
)

destruction_lists = sa.Table(
    "retention_destruction_lists",
    metadata,
    sa.Column("list_id", sa.String(36), primary_key=True),
    sa.Column("status", sa.String(12), nullable=False),  # proposed | approved | destroyed
    sa.Column("proposed_by", sa.String(200), nullable=False),
    sa.Column("proposed_at", _WHEN, nullable=False),
    sa.Column("approved_by", sa.String(200)),
    sa.Column("approved_at", _WHEN),
    sa.Column("decision_ref", sa.String(200)),
    sa.Column("destroyed_at", _WHEN),
    sa.Column("certificate_sha256", sa.String(64)),
)

destruction_items = sa.Table(
    "retention_destruction_items",
    metadata,
    sa.Column("list_id", sa.String(36), primary_key=True),
    sa.Column("blob_sha256", sa.String(64), primary_key=True),
    sa.Column("designation_id", sa.String(40)),
    sa.Column("category", sa.String(40)),
    sa.Column("term", sa.String(20), nullable=False),
    sa.Column("earliest", _WHEN, nullable=False),
    sa.Column("latest", _WHEN, nullable=False),
    sa.Column("record_ids", sa.Text, nullable=False),  # JSON list
    sa.Column("size", sa.BigInteger),
    sa.Column("state", sa.String(12), nullable=False),  # pending | destroyed | refused
    sa.Column("note", sa.Text),
)

secured = sa.Table(
    "retention_secured",
    metadata,
    sa.Column("blob_sha256", sa.String(64), primary_key=True),
    sa.Column("retain_until", _WHEN, nullable=False),  # the lock the store confirmed (a cache)
)
