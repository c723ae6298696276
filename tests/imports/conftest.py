"""A vault, a designated official and an archivist for the import tests (through the CLI, in process)."""

from __future__ import annotations

import json
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from capstone.cli.main import cli
from tests.access import admin_config

SAMPLES = Path(__file__).parent / "samples"
ROLES = {
    "rita": ["registry-admin"], "ali": ["archivist"], "bea": ["archivist"], "anna": ["woo-officer"],
    "otto": ["auditor"], "olga": ["official"],
}  # fmt: skip
OFFICIAL = "Marieke van Dalen"
DESIGNATION = [
    "--name", OFFICIAL, "--mail", "burgemeester@gemeente-demo.nl", "--function", "Burgemeester",
    "--organisation-unit", "Bestuur", "--category", "college", "--start-date", "2024-01-01",
    "--deciding-body", "Directieteam Gemeente Demo", "--decision-date", "2024-01-15",
    "--decision-reference", "DT-2024-003", "--personnel-number", "P-1001",
]  # fmt: skip


@dataclass
class World:
    home: Path
    designation_id: str
    run: Callable[..., Result]


@pytest.fixture
def world(capstone_home: Path) -> World:
    runner = CliRunner()

    def run(user: str, *args: str) -> Result:
        env = {
            "CAPSTONE_HOME": str(capstone_home),
            "CAPSTONE_CONFIG": str(admin_config(capstone_home, user, ROLES)),
        }
        result: Result = runner.invoke(cli, list(args), env=env, catch_exceptions=False)
        return result

    assert run("ali", "vault", "init").exit_code == 0
    created = run("rita", "registry", "designate", *DESIGNATION, "--json")
    assert created.exit_code == 0, created.output
    return World(capstone_home, json.loads(created.stdout)["designation_id"], run)


def zip_folder(folder: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(folder.iterdir()):
            archive.write(file, file.name)
    return target


def copy_sample(name: str, target: Path) -> Path:
    source = SAMPLES / name
    if source.is_dir():
        shutil.copytree(source, target)
    else:
        shutil.copyfile(source, target)
    return target
