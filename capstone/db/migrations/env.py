"""Alembic environment for Capstone's state database.

Run through :func:`capstone.db.migrate.upgrade`, which hands over a connection inside an open
transaction; the migrations then run inside that transaction. Offline (SQL script) mode is not used.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("run Capstone's migrations through capstone.db.upgrade(engine_or_url)")

context.configure(connection=connection, target_metadata=None, transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations()
