"""Archived mail is readable by the service account only: home 0700, state database and index 0600,
vault objects 0400, whatever the umask (issue 16)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from capstone.index import open_index
from capstone.services import open_vault, state_engine
from capstone.settings import Settings
from vault import Record


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    old = os.umask(0o000)  # the most careless umask: nothing masked
    try:
        yield
    finally:
        os.umask(old)


def test_home_databases_index_and_objects_are_private(settings: Settings, open_umask: None) -> None:
    home = settings.home
    assert not home.exists()
    vault = open_vault(settings, create=True)
    blob = vault.put_blob(b"Vertrouwelijk: begroting 2027", media_type="text/plain")
    refs = vault.put_records(
        [Record(kind="sample", source={"id": 1}, capture={"run_id": "t"}, blob_sha256=blob.sha256)]
    )
    vault.write_manifest("t", refs)
    vault.close()
    engine = state_engine(settings)
    with engine.connect():
        pass
    engine.dispose()
    index = open_index(settings.search_index_url)
    index.close()

    assert _mode(home) == 0o700
    assert _mode(home / "capstone.sqlite3") == 0o600
    assert _mode(home / "index.sqlite3") == 0o600
    for side in home.glob("*.sqlite3-*"):
        assert _mode(side) == 0o600, side
    objects = [p for p in (home / "vault").rglob("*") if p.is_file() and ".staging" not in p.parts]
    assert objects
    assert {p.name: _mode(p) for p in objects} == {p.name: 0o400 for p in objects}
    directories = [p for p in (home / "vault").rglob("*") if p.is_dir()]
    assert all(not _mode(p) & 0o077 for p in directories)


def test_an_existing_open_home_and_database_are_tightened(settings: Settings) -> None:
    home = settings.home
    home.mkdir(mode=0o755)
    os.chmod(home, 0o755)
    database = home / "capstone.sqlite3"
    database.write_bytes(b"")
    os.chmod(database, 0o644)
    state_engine(settings).dispose()
    assert _mode(home) == 0o700 and _mode(database) == 0o600


def test_the_systemd_units_set_a_private_umask() -> None:
    units = Path(__file__).resolve().parents[2] / "deploy" / "systemd"
    for unit in units.glob("*.service"):
        assert "\nUMask=0077\n" in unit.read_text(encoding="utf-8"), unit.name
