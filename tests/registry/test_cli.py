"""``capstone registry`` and ``capstone db`` as a person uses them: readable output, JSON on request,
``capstone: error: ...`` with exit code 2 naming the field or row, and nothing written on refusal."""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from capstone.cli.main import cli
from tests.access import admin_config

Run = Callable[..., Result]

SAMPLE = resources.files("capstone.registry").joinpath("samples/sleutelfunctionarissen.csv")


@pytest.fixture
def run(capstone_home: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Run:
    """Invoke ``capstone`` on an isolated home (with a vault) and the database under test."""
    monkeypatch.setenv("CAPSTONE_DB_URL", db_url)
    roles = {"dt-secretaris": ["registry-admin", "archivist"]}
    monkeypatch.setenv("CAPSTONE_CONFIG", str(admin_config(capstone_home, "dt-secretaris", roles)))
    runner = CliRunner()
    assert runner.invoke(cli, ["vault", "init"]).exit_code == 0

    def invoke(*args: str) -> Result:
        result: Result = runner.invoke(cli, list(args), catch_exceptions=False)
        return result

    return invoke


def _designate(run: Run, *extra: str) -> Result:
    return run(
        "registry",
        "designate",
        "--name",
        "Marieke van Dalen",
        "--mail",
        "burgemeester@gemeente-demo.nl",
        "--alias",
        "m.vandalen@gemeente-demo.nl",
        "--function",
        "Burgemeester",
        "--organisation-unit",
        "Bestuur",
        "--category",
        "college",
        "--start-date",
        "2024-01-01",
        "--deciding-body",
        "Directieteam Gemeente Demo",
        "--decision-date",
        "2024-01-15",
        "--decision-reference",
        "DT-2024-003",
        *extra,
    )


def test_designate_show_correct_end_history(run: Run) -> None:
    created = _designate(run, "--json")
    assert created.exit_code == 0, created.output
    designation = json.loads(created.stdout)
    did = designation["designation_id"]
    assert designation["registered_by"] == "dt-secretaris"
    assert designation["accounts"][0]["aliases"] == ["m.vandalen@gemeente-demo.nl"]

    shown = run("registry", "show", did)
    assert shown.exit_code == 0
    assert "Marieke van Dalen" in shown.stdout and "Lid college van B&W" in shown.stdout
    assert "hele mailbox" in shown.stdout

    corrected = run("registry", "correct", did, "--function", "Burgemeester a.i.", "--reason", "titel")
    assert corrected.exit_code == 0, corrected.output
    end = ["registry", "end", did, "--date", "2026-06-30", "--reason", "einde ambtstermijn"]
    assert run(*end, "--actor", "sg").exit_code == 2  # no name of one's choosing in the history
    ended = run(*end)
    assert ended.exit_code == 0, ended.output
    history = run("registry", "history", did, "--json")
    events = json.loads(history.stdout)
    assert [(e["event_type"], e["actor"], e["reason"]) for e in events] == [
        ("designated", "dt-secretaris", None),
        ("corrected", "dt-secretaris", "titel"),
        ("ended", "dt-secretaris", "einde ambtstermijn"),
    ]
    table = run("registry", "history", did).stdout
    assert "changed: function" in table and "ends 2026-06-30" in table

    on_day = json.loads(run("registry", "list", "--on", "2026-06-30", "--json").stdout)
    assert [d["designation_id"] for d in on_day] == [did]
    assert json.loads(run("registry", "list", "--on", "2026-07-01", "--json").stdout) == []
    as_registered = json.loads(
        run("registry", "list", "--on", "2026-07-01", "--as-of", "2000-01-01", "--json").stdout
    )
    assert as_registered == []


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--mail", "burgemeester@@gemeente-demo.nl"],
            "mail: 'burgemeester@@gemeente-demo.nl' is not a valid",
        ),
        (["--end-date", "2023-12-31"], "end_date: 2023-12-31 lies before start_date 2024-01-01"),
        (["--category", "burgemeester"], "category: unknown category 'burgemeester'"),
        (["--start-date", "1 januari"], "start_date: '1 januari' is not a date"),
    ],
)
def test_bad_input_exits_2_naming_the_field(run: Run, extra: list[str], message: str) -> None:
    result = _designate(run, *extra)
    assert result.exit_code == 2
    [error] = [line for line in result.stderr.splitlines() if line.startswith("capstone: error: ")]
    assert message in error
    assert json.loads(run("registry", "list", "--all", "--json").stdout) == []


def test_overlap_unknown_id_and_withdraw(run: Run) -> None:
    did = json.loads(_designate(run, "--json").stdout)["designation_id"]
    again = _designate(run, "--start-date", "2025-01-01")
    assert again.exit_code == 2
    assert f"already covered by designation {did}" in again.stderr
    unknown = run("registry", "show", "sf-bestaatniet")
    assert unknown.exit_code == 2 and "unknown designation id 'sf-bestaatniet'" in unknown.stderr
    assert run("registry", "withdraw", did, "--reason", "abuis").exit_code == 0
    assert json.loads(run("registry", "list", "--json").stdout) == []
    assert _designate(run, "--start-date", "2025-01-01").exit_code == 0


def test_import_publish_export(run: Run, tmp_path: Path) -> None:
    imported = run("registry", "import", str(SAMPLE))
    assert imported.exit_code == 0, imported.output
    assert "Imported 6 designations" in imported.stdout
    duplicate = run("registry", "import", str(SAMPLE))
    assert duplicate.exit_code == 2 and "this file was imported before" in duplicate.stderr

    published = run("registry", "publish")
    assert published.exit_code == 0
    assert "Register van sleutelfunctionarissen" in published.stdout
    assert "Sanne Visser" in published.stdout and "DT-2025-011" in published.stdout
    assert "@" not in published.stdout and "sf-" not in published.stdout
    assert "griffier@gemeente-demo.nl" in run("registry", "publish", "--with-addresses").stdout
    public = json.loads(run("registry", "publish", "--format", "json").stdout)
    assert len(public) == 6 and "designation_id" not in public[0]

    target = tmp_path / "export.csv"
    assert run("registry", "export", "--format", "csv", "--output", str(target)).exit_code == 0
    assert target.read_text().count("@gemeente-demo.nl") >= 6
    exported = json.loads(run("registry", "export", "--format", "json").stdout)
    assert {d["status"] for d in exported} == {"active"}


def test_a_bad_csv_row_is_reported_by_row_and_field(run: Run, tmp_path: Path) -> None:
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].replace("2024-01-01,,", "2024-01-01,2023-01-01,")
    bad = tmp_path / "dt.csv"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run("registry", "import", str(bad))
    assert result.exit_code == 2
    assert "dt.csv: 1 of 6 rows refused; nothing was imported" in result.stderr
    assert "row 4, end_date: 2023-01-01 lies before start_date 2024-01-01" in result.stderr
    assert json.loads(run("registry", "list", "--json").stdout) == []


def test_db_commands(run: Run) -> None:
    upgraded = run("db", "upgrade")
    assert upgraded.exit_code == 0 and "upgraded from (empty)" in upgraded.stdout
    current = json.loads(run("db", "current", "--json").stdout)
    assert current["up_to_date"] is True and current["current"] == current["head"]
    assert "already at revision" in run("db", "upgrade").stdout
