"""Both index backends behind one fixture: SQLite in tmp_path, PostgreSQL on the real test server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from capstone.index import SearchIndex, open_index


@pytest.fixture(params=["sqlite", "postgres"])
def index_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'index.sqlite3'}"
    url: str = request.getfixturevalue("pg_db_url")
    return url


@pytest.fixture
def index(index_url: str) -> Iterator[SearchIndex]:
    opened = open_index(index_url)
    try:
        yield opened
    finally:
        opened.close()
