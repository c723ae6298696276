"""``capstone demo`` runs only in a home it created itself (issue 16, critical)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from capstone.cli.main import cli
from capstone.demo import DEMO_MARKER, DemoHomeRefused, claim_demo_home
from capstone.services import open_vault
from capstone.settings import Settings


def _snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in sorted(root.rglob("*"))
    }


def test_the_demo_refuses_a_home_it_did_not_create_and_writes_nothing(
    capstone_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    home = capstone_home
    open_vault(Settings(home=home), create=True).close()  # an installation's vault
    (home / "capstone.toml").write_text("retention_years = 10\n", encoding="utf-8")
    before = _snapshot(home)
    assert any(name.startswith("vault") for name in before)

    monkeypatch.setenv("CAPSTONE_USER", "mallory")
    result = runner.invoke(cli, ["--home", str(home), "demo"])

    assert result.exit_code == 3, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "refused" in lines[0] and DEMO_MARKER in lines[0]
    assert _snapshot(home) == before  # no case, no audit entry, no vault object, no marker


def test_a_home_with_only_a_state_database_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "capstone.sqlite3").write_bytes(b"")
    with pytest.raises(DemoHomeRefused, match="did not create"):
        claim_demo_home(Settings(home=home))
    assert not (home / DEMO_MARKER).exists()


def test_a_fresh_home_is_marked_and_a_second_run_is_accepted(tmp_path: Path) -> None:
    home = tmp_path / "capstone-data"
    settings = Settings(home=home)
    marker = claim_demo_home(settings)
    assert marker == home / DEMO_MARKER and marker.is_file()
    (home / "capstone.sqlite3").write_bytes(b"")  # what the first run left
    assert claim_demo_home(settings) == marker  # `make demo` again on its own home
    empty = tmp_path / "empty"
    empty.mkdir()
    assert claim_demo_home(Settings(home=empty)).is_file()


def test_an_s3_vault_needs_the_demo_bucket_flag(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "fresh", vault="s3://archive/capstone")
    with pytest.raises(DemoHomeRefused, match="--s3-demo-bucket"):
        claim_demo_home(settings)
    assert not settings.home.exists()
    assert claim_demo_home(settings, s3_demo_bucket=True).is_file()


def test_outside_configuration_or_databases_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(DemoHomeRefused, match="CAPSTONE_DB_URL"):
        claim_demo_home(Settings(home=tmp_path / "a", db_url="postgresql+psycopg://prod/capstone"))
    config = tmp_path / "prod.toml"
    config.write_text("", encoding="utf-8")
    monkeypatch.setenv("CAPSTONE_CONFIG", str(config))
    with pytest.raises(DemoHomeRefused, match="CAPSTONE_CONFIG"):
        claim_demo_home(Settings(home=tmp_path / "b"))
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
