"""A case that does not exist is a refusal like the others: exit code 3 (issue 16)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from capstone.cli.main import cli
from tests.access import admin_config


def test_an_unknown_case_exits_3(capstone_home: Path) -> None:
    config = admin_config(capstone_home, "anna", {"anna": ["woo-officer", "archivist"]})
    env = {"CAPSTONE_HOME": str(capstone_home), "CAPSTONE_CONFIG": str(config)}
    runner = CliRunner()
    assert runner.invoke(cli, ["vault", "init"], env=env).exit_code == 0
    for args in (
        ["woo", "search", "--case", "WOO-2026-998", "begroting"],
        ["woo", "case", "show", "WOO-2026-998"],
    ):
        result = runner.invoke(cli, args, env=env)
        assert result.exit_code == 3, (args, result.output)
        assert "refused: no Woo case WOO-2026-998" in result.output
    bad = runner.invoke(cli, ["woo", "search", "--case", "../not-a-ref", "x"], env=env)
    assert bad.exit_code == 2  # bad input stays exit 2
