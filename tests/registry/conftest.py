"""Registry fixtures: every registry test runs on SQLite and on a real PostgreSQL server, with the
real local vault as archive."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from capstone.db import open_database
from capstone.registry import Account, CaptureScope, Category, DesignationDraft, Registry
from capstone.registry.archive import vault_archive
from tests.fixtures.postgres import pg_db_url, pg_url
from vault import Vault, open_vault

# The PostgreSQL fixtures are also registered as a plugin by tests/conftest.py; importing them here
# keeps the registry tests self-sufficient.
__all__ = ["pg_db_url", "pg_url"]


class Clock:
    """A settable clock: recording times under the test's control."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now = self.now + timedelta(**delta)
        return self.now


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.sqlite3'}"
    url: str = request.getfixturevalue("pg_db_url")
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = open_database(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def vault(tmp_path: Path) -> Iterator[Vault]:
    vault = open_vault(f"file://{tmp_path / 'vault'}", cache_dir=tmp_path / "cache", create=True)
    yield vault
    vault.close()


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 2, 1, 9, 0, tzinfo=UTC))


@pytest.fixture
def registry(engine: Engine, vault: Vault, clock: Clock) -> Registry:
    return Registry(engine, archive=vault_archive(lambda: vault), clock=clock)


def make_draft(**overrides: Any) -> DesignationDraft:
    """A valid designation of the burgemeester of Gemeente Demo; override any field."""
    mail = overrides.pop("mail", "burgemeester@gemeente-demo.nl")
    aliases = overrides.pop("aliases", ())
    fields: dict[str, Any] = {
        "name": "Marieke van Dalen",
        "accounts": (Account(primary_smtp=mail, aliases=tuple(aliases)),),
        "function": "Burgemeester",
        "organisation_unit": "Bestuur",
        "category": Category.COLLEGE,
        "start_date": date(2024, 1, 1),
        "end_date": None,
        "deciding_body": "Directieteam Gemeente Demo",
        "decision_date": date(2024, 1, 15),
        "decision_reference": "DT-2024-003",
        "scope": CaptureScope(),
    }
    fields.update(overrides)
    return DesignationDraft(**fields)
