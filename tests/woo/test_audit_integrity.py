"""The audit log against an insider with shell access to the vault and the database (issue 16):
a missing seal segment is a clear error, not a traceback."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from capstone.cli.main import cli
from tests.access import admin_config

ROLES = {"ali": ["archivist"], "anna": ["woo-officer"], "otto": ["auditor"], "rita": ["registry-admin"]}
DESIGNATION = [
    "--name", "Marieke van Dalen", "--mail", "burgemeester@gemeente-demo.nl", "--function", "Burgemeester",
    "--organisation-unit", "Bestuur", "--category", "college", "--start-date", "2024-01-01",
    "--deciding-body", "Directieteam Gemeente Demo", "--decision-date", "2024-01-15",
    "--decision-reference", "DT-2024-003", "--personnel-number", "P-1001",
]  # fmt: skip
As = Callable[..., Result]


@pytest.fixture
def as_user(capstone_home: Path) -> As:
    runner = CliRunner()

    def invoke(user: str, *args: str) -> Result:
        env = {
            "CAPSTONE_HOME": str(capstone_home),
            "CAPSTONE_CONFIG": str(admin_config(capstone_home, user, ROLES)),
        }
        result: Result = runner.invoke(cli, list(args), env=env, catch_exceptions=False)
        return result

    return invoke


def _remove(path: Path) -> None:
    path.parent.chmod(0o755)
    path.unlink()


def _segments_holding(vault_dir: Path, kind: str) -> list[Path]:
    return [
        p
        for p in (vault_dir / "segments").rglob("*.jsonl")
        if any(json.loads(line)["kind"] == kind for line in p.read_text().splitlines() if line)
    ]


def test_a_seal_segment_missing_from_the_vault_is_a_one_line_error(
    as_user: As, capstone_home: Path, tmp_path: Path
) -> None:
    assert as_user("ali", "vault", "init").exit_code == 0
    assert as_user("ali", "index", "rebuild", "--json").exit_code == 0
    designated = as_user("rita", "registry", "designate", *DESIGNATION)
    assert designated.exit_code == 0, designated.output
    opened = as_user("anna", "woo", "case", "open", "--ref", "WOO-2026-001", "--received", "2026-11-02",
                     "--subject", "Begroting", "--official", "Marieke van Dalen")  # fmt: skip
    assert opened.exit_code == 0, opened.output
    assert as_user("anna", "woo", "search", "--case", "WOO-2026-001", "begroting").exit_code == 0
    assert as_user("otto", "audit", "seal").exit_code == 0
    [segment] = _segments_holding(capstone_home / "vault", "audit-seal")
    _remove(segment)  # the local catalog still knows the segment; the vault lost it

    verify = as_user("otto", "audit", "verify")
    assert verify.exit_code == 1
    assert "Traceback" not in verify.output and "KeyError" not in verify.output
    [problem] = [line for line in verify.output.splitlines() if line.startswith("PROBLEM")]
    assert segment.name in problem and "missing from the vault" in problem

    export = as_user("anna", "woo", "export", "--case", "WOO-2026-001", "--out", str(tmp_path / "export"))
    assert export.exit_code == 1
    assert "Traceback" not in export.output and "KeyError" not in export.output
    [line] = export.stderr.strip().splitlines()
    assert line.startswith("capstone: error:") and segment.name in line and "missing from the vault" in line
