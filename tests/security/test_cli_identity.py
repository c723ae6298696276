"""The CLI is not a security boundary (issue 16): it acts as the OS user unless an administrator's
configuration (which the caller cannot write) says otherwise; environment variables grant nothing;
``--actor`` is gone; every registry change is audited."""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from capstone.cli.main import cli
from capstone.settings import os_user
from tests.access import admin_config

DESIGNATION = [
    "--name", "Marieke van Dalen", "--mail", "burgemeester@gemeente-demo.nl", "--function", "Burgemeester",
    "--organisation-unit", "Bestuur", "--category", "college", "--start-date", "2024-01-01",
    "--deciding-body", "Directieteam Gemeente Demo", "--decision-date", "2024-01-15",
    "--decision-reference", "DT-2024-003",
]  # fmt: skip
SAMPLE = resources.files("capstone.registry").joinpath("samples/sleutelfunctionarissen.csv")


def _invoke(home: Path, *args: str, **env: str) -> Result:
    base = {"CAPSTONE_HOME": str(home), "CAPSTONE_USER": "", "CAPSTONE_ROLES": "", "CAPSTONE_CONFIG": ""}
    base.update(env)
    result: Result = CliRunner().invoke(
        cli, list(args), env={k: (v or None) for k, v in base.items()}, catch_exceptions=False
    )
    return result


def test_environment_variables_grant_no_identity_and_no_role(capstone_home: Path) -> None:
    capstone_home.mkdir()
    forged = {"CAPSTONE_USER": "rita", "CAPSTONE_ROLES": json.dumps({"rita": ["registry-admin"]})}
    result = _invoke(capstone_home, "registry", "designate", *DESIGNATION, **forged)
    assert result.exit_code == 3, result.output
    assert f"refused: {os_user()} may not registry-designate" in result.output
    assert "CAPSTONE_USER and CAPSTONE_ROLES grant nothing" in result.output
    listed = _invoke(capstone_home, "registry", "list", "--json")
    assert json.loads(listed.stdout) == []


def test_an_administrators_file_gives_identity_and_roles_and_registry_changes_are_audited(
    capstone_home: Path, tmp_path: Path
) -> None:
    config = admin_config(capstone_home, "rita", {"rita": ["registry-admin", "auditor", "archivist"]})
    env = {"CAPSTONE_CONFIG": str(config)}
    assert _invoke(capstone_home, "vault", "init", **env).exit_code == 0
    created = _invoke(capstone_home, "registry", "designate", *DESIGNATION, "--json", **env)
    assert created.exit_code == 0, created.output
    did = json.loads(created.stdout)["designation_id"]
    assert json.loads(created.stdout)["registered_by"] == "rita"
    steps = [
        ["registry", "correct", did, "--function", "Burgemeester a.i.", "--reason", "titel"],
        ["registry", "end", did, "--date", "2026-06-30", "--reason", "einde termijn"],
        ["registry", "withdraw", did, "--reason", "ten onrechte"],
        ["registry", "import", str(SAMPLE)],
    ]
    for step in steps:
        result = _invoke(capstone_home, *step, **env)
        assert result.exit_code == 0, (step, result.output)
    assert _invoke(capstone_home, "registry", "end", did, "--date", "2026-06-30", "--reason", "x",
                   "--actor", "sg", **env).exit_code == 2  # fmt: skip
    entries = json.loads(_invoke(capstone_home, "audit", "show", "--json", **env).stdout)
    allowed = [(e["actor"], e["action"]) for e in entries if e["outcome"] == "allowed"]
    for action in ("designate", "correct", "end", "withdraw", "import"):
        assert ("rita", f"registry-{action}") in allowed, action
    designated = next(e for e in entries if e["action"] == "registry-designate" and e["outcome"] == "allowed")
    assert designated["role"] == "registry-admin" and designated["detail"]["designation_id"] == did


def test_the_os_user_holds_the_roles_the_administrator_grants_it(capstone_home: Path) -> None:
    config = capstone_home / "capstone.toml"
    capstone_home.mkdir()
    config.write_text(f'[roles]\n{json.dumps(os_user())} = ["registry-admin"]\n', encoding="utf-8")
    os.chmod(config, 0o644)
    created = _invoke(capstone_home, "registry", "designate", *DESIGNATION, "--json")
    assert created.exit_code == 0, created.output
    assert json.loads(created.stdout)["registered_by"] == os_user()


def test_a_roles_file_others_can_write_is_refused(capstone_home: Path) -> None:
    config = admin_config(capstone_home, "rita", {"rita": ["registry-admin"]})
    os.chmod(config, 0o666)
    result = _invoke(capstone_home, "registry", "designate", *DESIGNATION, CAPSTONE_CONFIG=str(config))
    assert result.exit_code == 2
    assert "writable by group or others" in result.output and "refusing it" in result.output


def test_a_roles_file_owned_by_someone_else_is_refused(capstone_home: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("giving a file to another account needs root")
    config = admin_config(capstone_home, "rita", {"rita": ["registry-admin"]})
    os.chown(config, 54321, -1)  # e.g. mallory's own file
    result = _invoke(capstone_home, "registry", "designate", *DESIGNATION, CAPSTONE_CONFIG=str(config))
    assert result.exit_code == 2
    assert "is owned by uid 54321" in result.output and "refusing it" in result.output
