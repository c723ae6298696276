"""Alembic, run programmatically: the migration scripts ship inside this package, no alembic.ini.

Upgrades are serialised between processes: on PostgreSQL by a transaction-level advisory lock, on
SQLite by ``BEGIN IMMEDIATE``. Each upgrade runs in one transaction (both databases have
transactional DDL), so a failed migration leaves the schema as it was.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from capstone.db.engine import make_engine, write_transaction
from capstone.logging import get_logger

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_ADVISORY_LOCK_KEY = 0x43415053  # "CAPS"


def _log() -> Any:
    """The logger, looked up at use time so it follows the configuration of the running command."""
    return get_logger("capstone.db")


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine_or_url: Engine | str, revision: str = "head") -> str | None:
    """Bring the schema to ``revision`` (default: the newest). Returns the revision reached."""
    engine = make_engine(engine_or_url) if isinstance(engine_or_url, str) else engine_or_url
    config = _config()
    with write_transaction(engine) as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY})
        before = MigrationContext.configure(connection).get_current_revision()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        after = MigrationContext.configure(connection).get_current_revision()
    if after != before:
        _log().info("db_upgraded", backend=engine.dialect.name, from_revision=before, to_revision=after)
    if isinstance(engine_or_url, str):
        engine.dispose()
    return after


def open_database(url: str) -> Engine:
    """An engine for ``url`` whose schema is up to date (upgraded now when it was not)."""
    engine = make_engine(url)
    if current_revision(engine) != head_revision():
        upgrade(engine)
    return engine
