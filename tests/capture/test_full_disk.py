"""A full disk under the vault catalog: ``capture run`` says so in one line (no traceback), and a
manifest whose catalog update failed after its upload is adopted by the retried run, never written
again with the same records."""

from __future__ import annotations

import sqlite3
from collections import Counter
from typing import Any

import pytest
from click.testing import CliRunner

from capstone.cli.capture import group as capture_cli
from capstone.cli.context import AppContext
from tests.capture.conftest import CaptureWorld
from vault import layout
from vault.catalog import Catalog
from vault.verify import verify_vault


def _listed_records(world: CaptureWorld) -> Counter[str]:
    vault = world.vault()
    listed: Counter[str] = Counter()
    for info in vault.store.list(layout.MANIFEST_PREFIX):
        listed.update(entry[0] for entry in vault.read_manifest(info.key).get("records", []))
    return listed


def test_a_full_disk_is_one_line_and_the_retried_run_adopts_the_uploaded_manifest(
    world: CaptureWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = Catalog.mark_manifested
    failures: list[int] = []

    def disk_full(self: Catalog, seq: int, record_ids: Any) -> None:
        ids = list(record_ids)
        if ids and not failures:  # the first manifest with records: uploaded, then the disk is full
            failures.append(seq)
            raise sqlite3.OperationalError("database or disk is full")
        original(self, seq, ids)

    monkeypatch.setattr(Catalog, "mark_manifested", disk_full)
    app = AppContext(
        settings=world.settings.model_copy(update={"user": "ops", "roles": {"ops": ["archivist"]}})
    )
    runner = CliRunner()
    first = runner.invoke(capture_cli, ["run", "--once", "--json"], obj=app)
    assert failures, "the injected fault never fired"
    assert first.exit_code == 2, first.output
    errors = [line for line in first.output.splitlines() if line.startswith("capstone: error:")]
    assert len(errors) == 1 and "database or disk is full" in errors[0] and "free disk space" in errors[0]
    assert "Traceback" not in first.output and "OperationalError" not in first.output
    manifest_key = layout.manifest_key(failures[0])
    assert world.vault().store.head(manifest_key) is not None  # the upload had succeeded

    monkeypatch.setattr(Catalog, "mark_manifested", original)
    second = runner.invoke(capture_cli, ["run", "--once", "--json"], obj=app)
    assert second.exit_code == 0, second.output
    listed = _listed_records(world)
    twice = {rid: n for rid, n in listed.items() if n > 1}
    assert not twice, f"{len(twice)} records are listed by more than one manifest"
    adopted = world.vault().read_manifest(manifest_key)["records"]
    assert adopted and all(listed[entry[0]] == 1 for entry in adopted)
    assert verify_vault(world.vault()).all_well
