"""The state database shared by the whole service: the registry of key officials today; the capture
engine's cursors and runs later, each in its own Alembic migration.

SQLite under ``$CAPSTONE_HOME`` by default; PostgreSQL through ``CAPSTONE_DB_URL``
(``postgresql+psycopg://user@host/db``). Every command that opens the database brings its schema up to
date first (:func:`open_database`).
"""

from __future__ import annotations

from capstone.db.engine import make_engine, normalise_url, write_transaction
from capstone.db.migrate import current_revision, head_revision, open_database, upgrade

__all__ = [
    "current_revision",
    "head_revision",
    "make_engine",
    "normalise_url",
    "open_database",
    "upgrade",
    "write_transaction",
]
