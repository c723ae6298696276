"""State-database tables of the capture engine (created by the Alembic migrations 0002_capture
and 0012_leases)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

capture_runs = Table(
    "capture_runs",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("designation_id", String(64), nullable=False, index=True),
    Column("account", String(320), nullable=False, index=True),
    Column("source", String(32), nullable=False),  # graph-mail, graph-teams, ...
    Column("status", String(16), nullable=False),  # running, complete, incomplete, failed
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("items_new", Integer, nullable=False, default=0),
    Column("bytes_new", BigInteger, nullable=False, default=0),
    Column("errors", Integer, nullable=False, default=0),
    Column("manifest_key", String(200)),
    Column("summary", JSON),
)

# Per account and source, the newest run and the newest complete one (migration 0004), kept in the
# transactions that start and finish runs.
capture_latest = Table(
    "capture_latest",
    metadata,
    Column("account", String(320), primary_key=True),
    Column("source", String(32), primary_key=True),
    Column("last_run_id", String(64), nullable=False),
    Column("last_complete_run_id", String(64)),
)

# One delta cursor per folder. ``pending_link`` is the next page of an unfinished round,
# ``delta_link`` the start of the next round; both are whole URLs, advanced only after the vault
# confirmed every item of the page they follow.
folder_cursors = Table(
    "folder_cursors",
    metadata,
    Column("account", String(320), primary_key=True),
    Column("mailbox_kind", String(16), primary_key=True),
    Column("folder_id", String(512), primary_key=True),
    Column("path", Text, nullable=False),
    Column("parent_id", String(512)),
    Column("hidden", Boolean, nullable=False, default=False),
    Column("present", Boolean, nullable=False, default=True),
    Column("delta_link", Text),
    Column("pending_link", Text),
    Column("updated_at", DateTime(timezone=True)),
)

# Every source item the vault holds (or accountably excluded), where it was last seen.
captured_items = Table(
    "captured_items",
    metadata,
    Column("account", String(320), primary_key=True),
    Column("mailbox_kind", String(16), primary_key=True),
    Column("item_id", String(512), primary_key=True),
    Column("folder_id", String(512), nullable=False, index=True),
    Column("change_key", String(512)),
    Column("blob_sha256", String(64)),
    Column("record_id", String(64)),
    Column("size", BigInteger),
    Column("state", String(16), nullable=False),  # captured, excluded, out_of_window
    Column("deleted_in_source", Boolean, nullable=False, default=False),
    Column("first_run", String(64), nullable=False),
    Column("last_run", String(64), nullable=False),
)

# Removals seen in a folder's delta; resolved at the end of the run as a move or a deletion.
pending_removals = Table(
    "pending_removals",
    metadata,
    Column("account", String(320), primary_key=True),
    Column("mailbox_kind", String(16), primary_key=True),
    Column("item_id", String(512), primary_key=True),
    Column("folder_id", String(512), primary_key=True),
    Column("run_id", String(64), nullable=False),
)

# Items that could not be captured (after retries): retried by every later run until resolved.
capture_errors = Table(
    "capture_errors",
    metadata,
    Column("account", String(320), primary_key=True),
    Column("mailbox_kind", String(16), primary_key=True),
    Column("item_id", String(512), primary_key=True),
    Column("folder_id", String(512), nullable=False),
    Column("run_id", String(64), nullable=False),
    Column("error", Text, nullable=False),
    Column("attempts", Integer, nullable=False, default=1),
    Column("first_seen", DateTime(timezone=True), nullable=False),
    Column("last_seen", DateTime(timezone=True), nullable=False),
)

# Designations whose end date has passed get one final capture; then they are no longer captured.
final_captures = Table(
    "final_captures",
    metadata,
    Column("designation_id", String(64), primary_key=True),
    Column("account", String(320), primary_key=True),
    Column("run_id", String(64), nullable=False),
    Column("captured_at", DateTime(timezone=True), nullable=False),
)

# -- many capture workers (issue 20, migration 0012_leases) ----------------------------------------

# One row per account due for capture: the work queue of ``capstone capture worker``. A worker takes
# rows with ``SELECT ... FOR UPDATE SKIP LOCKED``, raises ``token`` (the fencing token) and sets
# ``holder`` and ``expires_at``; it renews ``expires_at`` while it works. Every state commit of the
# account checks that the token is still the one the worker took (see capstone.capture.leases).
capture_leases = Table(
    "capture_leases",
    metadata,
    Column("account", String(320), primary_key=True),
    Column("designation_id", String(64)),
    Column("active", Boolean, nullable=False, default=True),  # in the registry's plan now
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("last_success_at", DateTime(timezone=True)),  # lag: capture order, oldest first
    Column("chat_deadline", DateTime(timezone=True)),  # last complete chat run + chat max age
    Column("holder", String(200)),
    Column("token", BigInteger, nullable=False, default=0),
    Column("acquired_at", DateTime(timezone=True)),
    Column("renewed_at", DateTime(timezone=True)),
    Column("expires_at", DateTime(timezone=True)),
    Column("released_at", DateTime(timezone=True)),
    Column("last_outcome", String(16)),
)

# The capture workers that ran: heartbeat while alive, stopped_at when they ended cleanly.
capture_workers = Table(
    "capture_workers",
    metadata,
    Column("worker_id", String(200), primary_key=True),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("concurrency", Integer, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("heartbeat_at", DateTime(timezone=True), nullable=False),
    Column("stopped_at", DateTime(timezone=True)),
    Column("accounts_done", Integer, nullable=False, default=0),
    Column("leases_lost", Integer, nullable=False, default=0),
)

# The head of a vault's manifest chain, one row per vault URL. A writer appends a manifest while it
# holds this row (``FOR UPDATE``), so the chain stays one sequence with any number of writers.
vault_chain_heads = Table(
    "vault_chain_heads",
    metadata,
    Column("vault", String(64), primary_key=True),  # SHA-256 prefix of the vault URL
    Column("seq", Integer, nullable=False),
    Column("manifest_key", String(200), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Token buckets shared by every worker (Graph's tenant-wide limits): refilled at ``rate`` per second
# up to ``capacity``; a worker takes a handful of tokens per statement.
rate_buckets = Table(
    "rate_buckets",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("tokens", Float, nullable=False),
    Column("updated", Float, nullable=False),  # epoch seconds of the last refill
)
