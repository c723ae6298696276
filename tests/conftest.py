"""Shared fixtures. Real servers come from plugins under tests/fixtures/ (Ceph RGW, PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from capstone.settings import Settings

pytest_plugins = ["tests.fixtures.ceph", "tests.fixtures.postgres"]


@pytest.fixture
def capstone_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An isolated CAPSTONE_HOME with no stray configuration from the environment."""
    home = tmp_path / "capstone-home"
    for name in ("CAPSTONE_VAULT", "CAPSTONE_DB_URL", "CAPSTONE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CAPSTONE_HOME", str(home))
    yield home


@pytest.fixture
def settings(capstone_home: Path) -> Settings:
    return Settings(home=capstone_home)
