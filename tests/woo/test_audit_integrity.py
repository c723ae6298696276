"""The audit log against an insider with shell access to the vault and the database (issue 16):
a missing seal segment is a clear error, not a traceback; the newest entries, cut or rewritten after
the last seal, are caught by the chain head every entry anchors in the vault (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from capstone.audit.anchors import HEADS
from capstone.audit.log import AuditEntry
from capstone.cli.main import cli
from capstone.db.engine import make_engine
from tests.access import admin_config

ROLES = {"ali": ["archivist"], "anna": ["woo-officer"], "otto": ["auditor"], "rita": ["registry-admin"]}
DESIGNATION = [
    "--name", "Marieke van Dalen", "--mail", "burgemeester@gemeente-demo.nl", "--function", "Burgemeester",
    "--organisation-unit", "Bestuur", "--category", "college", "--start-date", "2024-01-01",
    "--deciding-body", "Directieteam Gemeente Demo", "--decision-date", "2024-01-15",
    "--decision-reference", "DT-2024-003", "--personnel-number", "P-1001",
]  # fmt: skip
As = Callable[..., Result]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, capstone_home: Path) -> str:
    """The state database an insider edits: the embedded SQLite file, or a PostgreSQL database."""
    if request.param == "postgres":
        url: str = request.getfixturevalue("pg_db_url")
        return url
    return f"sqlite:///{capstone_home / 'capstone.sqlite3'}"


@pytest.fixture
def as_user(capstone_home: Path, db_url: str) -> As:
    runner = CliRunner()

    def invoke(user: str, *args: str) -> Result:
        env = {
            "CAPSTONE_HOME": str(capstone_home),
            "CAPSTONE_DB_URL": db_url,
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


# -- the tail of the log (issue 16) ---------------------------------------------------------------


def _case_with_searches(as_user: As, searches: int) -> None:
    """A vault, a designation, an open case and ``searches`` searches in it: each an audit entry."""
    assert as_user("ali", "vault", "init").exit_code == 0
    assert as_user("ali", "index", "rebuild", "--json").exit_code == 0
    designated = as_user("rita", "registry", "designate", *DESIGNATION)
    assert designated.exit_code == 0, designated.output
    opened = as_user("anna", "woo", "case", "open", "--ref", "WOO-2026-001", "--received", "2026-11-02",
                     "--subject", "Begroting", "--official", "Marieke van Dalen")  # fmt: skip
    assert opened.exit_code == 0, opened.output
    for n in range(searches):
        assert as_user("anna", "woo", "search", "--case", "WOO-2026-001", f"begroting {n}").exit_code == 0


def _around_the_triggers(url: str) -> sa.Engine:
    """What an insider with the database's credentials does first: switch the append-only guard off."""
    engine = make_engine(url)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        else:
            conn.execute(sa.text("DROP TRIGGER audit_log_no_delete"))
            conn.execute(sa.text("DROP TRIGGER audit_log_no_update"))
    return engine


def _seqs(engine: sa.Engine) -> list[int]:
    with engine.connect() as conn:
        return [int(s) for s in conn.execute(sa.text("SELECT seq FROM audit_log ORDER BY seq")).scalars()]


def _anchored(vault_dir: Path) -> list[int]:
    return sorted(int(p.name) for p in (vault_dir / "anchors" / HEADS).iterdir())


def test_every_access_anchors_the_chain_head_in_the_vault(
    as_user: As, capstone_home: Path, db_url: str
) -> None:
    _case_with_searches(as_user, 2)
    refused = as_user("rita", "woo", "search", "--case", "WOO-2026-001", "begroting")  # no woo-officer
    assert refused.exit_code != 0
    seqs = _seqs(make_engine(db_url))
    assert seqs and _anchored(capstone_home / "vault") == seqs  # every entry, the refusal included
    head = json.loads((capstone_home / "vault" / "anchors" / HEADS / f"{seqs[-1]:012d}").read_text())
    with make_engine(db_url).connect() as conn:
        stored = conn.execute(sa.text("SELECT entry_hash FROM audit_log WHERE seq = :s"), {"s": seqs[-1]})
        assert head["entry_hash"] == stored.scalar_one()
    verify = as_user("otto", "audit", "verify")
    assert verify.exit_code == 0, verify.output
    assert f"head anchored in the vault at entry {seqs[-1]}: ALL WELL" in verify.output


def test_cutting_the_newest_entries_is_reported(as_user: As, capstone_home: Path, db_url: str) -> None:
    _case_with_searches(as_user, 4)
    assert as_user("otto", "audit", "seal").exit_code == 0  # a seal in the middle...
    for n in range(3):  # ... and accesses after it that no seal covers yet
        assert as_user("anna", "woo", "search", "--case", "WOO-2026-001", f"fiets {n}").exit_code == 0
    engine = _around_the_triggers(db_url)
    seqs = _seqs(engine)
    last = seqs[-1]
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_log WHERE seq > :s"), {"s": last - 3})
    assert as_user("ali", "audit", "verify").exit_code == 3  # (a refusal: appended after the cut)

    verify = as_user("otto", "audit", "verify")
    assert verify.exit_code == 1, verify.output
    problems = [line for line in verify.output.splitlines() if line.startswith("PROBLEM")]
    cut = [p for p in problems if "cut from its end" in p]
    assert len(cut) == 1 and f"anchors its head at entry {last}" in cut[0]
    # The refusal took number last-2 again: the vault anchored another entry under that number.
    assert any(f"entries {last - 2} differ from the chain head" in p for p in problems), problems


def test_a_deleted_middle_entry_is_a_reported_gap(as_user: As, db_url: str) -> None:
    _case_with_searches(as_user, 4)
    engine = _around_the_triggers(db_url)
    middle = _seqs(engine)[-3]
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_log WHERE seq = :s"), {"s": middle})
    verify = as_user("otto", "audit", "verify", "--json")
    assert verify.exit_code == 1
    report = json.loads(verify.output)
    assert report["first_bad_seq"] == middle
    assert f"entries {middle}..{middle} are missing" in report["problems"]


def test_a_rewritten_tail_with_recomputed_hashes_is_reported(as_user: As, db_url: str) -> None:
    """Not sealed yet, edited and re-hashed so the chain alone is consistent: the anchors know."""
    _case_with_searches(as_user, 4)
    engine = _around_the_triggers(db_url)
    seqs = _seqs(engine)
    target = seqs[-3]
    with engine.begin() as conn:
        rows = (
            conn.execute(sa.text("SELECT * FROM audit_log WHERE seq >= :s ORDER BY seq"), {"s": target - 1})
            .mappings()
            .all()
        )
        previous = rows[0]["entry_hash"]
        for row in rows[1:]:
            detail = json.loads(row["detail"])
            if row["seq"] == target:
                detail["query"]["text"] = "iets onschuldigs"
            entry = AuditEntry(row["seq"], row["at"], row["actor"], row["role"], row["action"],
                               row["case_ref"], row["outcome"], detail, previous, "")  # fmt: skip
            new_hash = entry.computed_hash()
            conn.execute(
                sa.text("UPDATE audit_log SET detail = :d, prev_hash = :p, entry_hash = :h WHERE seq = :s"),
                {"d": json.dumps(detail, sort_keys=True, separators=(",", ":")), "p": previous,
                 "h": new_hash, "s": row["seq"]},
            )  # fmt: skip
            previous = new_hash
    verify = as_user("otto", "audit", "verify", "--json")
    assert verify.exit_code == 1
    report = json.loads(verify.output)
    assert report["first_bad_seq"] == target
    [rewritten] = report["problems"]  # the chain alone is consistent again: only the anchors know
    assert rewritten.startswith(f"entries {target}..{seqs[-1]} differ")
