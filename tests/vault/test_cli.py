"""``capstone vault`` as a user runs it: one JSON document on stdout, exit codes that mean something."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.access import admin_config
from vault import layout
from vault.local import LocalStore

REPO = Path(__file__).resolve().parents[2]


def _capstone(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAPSTONE_")}
    env.update(
        CAPSTONE_HOME=str(home), CAPSTONE_CONFIG=str(admin_config(home, "ops", {"ops": ["archivist"]}))
    )
    return subprocess.run(
        [sys.executable, "-m", "capstone.cli.main", *args], env=env, cwd=REPO, capture_output=True, text=True
    )


def test_init_stats_verify_and_a_tampered_vault(tmp_path: Path) -> None:
    home = tmp_path / "home"
    before_init = _capstone(home, "vault", "stats")
    assert before_init.returncode == 2 and "vault init" in before_init.stderr

    init = _capstone(home, "vault", "init", "--json")
    assert init.returncode == 0, init.stderr
    assert json.loads(init.stdout)["worm"] is False

    demo = _capstone(home, "vault", "verify", "--json")
    assert demo.returncode == 0
    assert json.loads(demo.stdout)["all_well"] is True

    # Store something through the API the demo and capture use, then tamper with it.
    from vault import Record, open_vault

    vault = open_vault(f"file://{home / 'vault'}", cache_dir=home / "cache")
    blob = vault.put_blob(b"Woo-verzoek WOO-2026-014", media_type="text/plain")
    refs = vault.put_records(
        [Record(kind="sample", source={"id": 1}, capture={"run_id": "t"}, blob_sha256=blob.sha256)]
    )
    vault.write_manifest("t", refs)
    stats = json.loads(_capstone(home, "vault", "stats", "--json").stdout)
    assert stats["records_by_kind"] == {"sample": 1} and stats["by_prefix"]["blobs"]["objects"] == 1

    target = LocalStore(home / "vault").path_of(layout.blob_key(blob.sha256))
    target.chmod(0o644)
    target.write_bytes(b"Woo-verzoek WOO-2026-015")
    tampered = _capstone(home, "vault", "verify", "--json")
    assert tampered.returncode == 1
    assert json.loads(tampered.stdout)["corrupted"] == [layout.blob_key(blob.sha256)]
    readable = _capstone(home, "vault", "verify")
    assert readable.returncode == 1 and "PROBLEMS FOUND" in readable.stdout


def test_unsupported_vault_url_is_a_clear_error(tmp_path: Path) -> None:
    result = _capstone(tmp_path, "--vault", "ftp://example/vault", "vault", "init")
    assert result.returncode == 2
    assert "unsupported vault URL" in result.stderr
