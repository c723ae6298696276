"""Separation of duties through the CLI: each role does its own work only, and every refusal is an
audit entry with its reason (the registry administrator sees no content, the archivist captures and
verifies but does not search, the Woo officer searches but does not capture or designate)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from capstone.cli.main import cli
from tests.access import admin_config

ROLES = {"rita": ["registry-admin"], "ali": ["archivist"], "anna": ["woo-officer"], "otto": ["auditor"]}
DESIGNATION = [
    "--name", "Marieke van Dalen", "--mail", "burgemeester@gemeente-demo.nl", "--function", "Burgemeester",
    "--organisation-unit", "Bestuur", "--category", "college", "--start-date", "2024-01-01",
    "--deciding-body", "Directieteam Gemeente Demo", "--decision-date", "2024-01-15",
    "--decision-reference", "DT-2024-003",
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


def refused(result: Result, role: str) -> bool:
    return result.exit_code == 3 and "refused:" in result.output and f"role {role}" in result.output


def test_each_role_does_its_own_work_and_refusals_are_audited(as_user: As, tmp_path: Path) -> None:
    assert refused(as_user("anna", "vault", "init"), "archivist")
    assert as_user("ali", "vault", "init").exit_code == 0

    # Designations: only the registry administrator; a refused attempt registers nothing.
    assert refused(as_user("ali", "registry", "designate", *DESIGNATION), "registry-admin")
    assert refused(as_user("anna", "registry", "designate", *DESIGNATION), "registry-admin")
    assert json.loads(as_user("rita", "registry", "list", "--json").stdout) == []
    created = as_user("rita", "registry", "designate", *DESIGNATION, "--json")
    assert created.exit_code == 0, created.output
    did = json.loads(created.stdout)["designation_id"]
    assert refused(
        as_user("anna", "registry", "end", did, "--date", "2025-01-01", "--reason", "x"), "registry-admin"
    )
    assert json.loads(as_user("rita", "registry", "show", did, "--json").stdout)["end_date"] is None

    # Capture, verification and the index: the archivist (status and verify also the auditor).
    assert refused(as_user("rita", "capture", "run", "--once"), "archivist")
    assert refused(as_user("anna", "capture", "status"), "archivist or auditor")
    assert as_user("otto", "capture", "status", "--json").exit_code == 0
    assert refused(as_user("anna", "vault", "verify"), "archivist or auditor")
    assert as_user("otto", "vault", "verify").exit_code == 0
    assert refused(as_user("anna", "index", "rebuild"), "archivist")
    assert as_user("ali", "index", "rebuild", "--json").exit_code == 0

    # Content: neither the registry administrator nor the archivist may search or read chats.
    assert refused(as_user("rita", "woo", "search", "--case", "WOO-2026-001", "begroting"), "woo-officer")
    assert refused(as_user("ali", "woo", "search", "--case", "WOO-2026-001", "begroting"), "woo-officer")
    transcript = ["chats", "transcripts", "--case", "WOO-2026-001", "--out-dir", str(tmp_path / "t")]
    assert refused(as_user("ali", *transcript), "woo-officer")
    assert refused(as_user("rita", "chats", "list"), "woo-officer or archivist")
    assert not (tmp_path / "t").exists()

    entries = json.loads(as_user("otto", "audit", "show", "--json").stdout)
    refusals = [(e["actor"], e["action"]) for e in entries if e["outcome"] == "refused"]
    assert refusals == [
        ("anna", "vault-init"),
        ("ali", "registry-designate"),
        ("anna", "registry-designate"),
        ("anna", "registry-end"),
        ("rita", "capture-run"),
        ("anna", "capture-status"),
        ("anna", "vault-verify"),
        ("anna", "index-rebuild"),
        ("rita", "search"),
        ("ali", "search"),
        ("ali", "chat-transcript"),
        ("rita", "chat-list"),
    ]
    assert all("needs the role" in e["detail"]["reason"] for e in entries if e["outcome"] == "refused")
    alis = json.loads(as_user("otto", "audit", "show", "--user", "ali", "--json").stdout)
    assert alis and [e["seq"] for e in alis] == [e["seq"] for e in entries if e["actor"] == "ali"]
    today = entries[-1]["at"][:10]
    assert (
        json.loads(
            as_user("otto", "audit", "show", "--from", "2001-01-01", "--to", "2001-12-31", "--json").stdout
        )
        == []
    )
    assert (
        len(json.loads(as_user("otto", "audit", "show", "--from", today, "--to", today, "--json").stdout)) > 0
    )
    backwards = as_user("otto", "audit", "show", "--from", today, "--to", "2001-01-01")
    assert backwards.exit_code == 2 and "starts" in backwards.output
    assert as_user("otto", "audit", "verify").exit_code == 0
