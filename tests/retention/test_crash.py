"""kill -9 during ``retention run`` and during ``retention destroy``, then a restart: no object is
deleted without its record in the chain, none is left unextended past its window (issue 21)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from capstone.retention.objects import Scope
from capstone.retention.service import ExclusionCategory
from tests.access import admin_config
from tests.retention.conftest import ROLES, V_TERM, WINDOW, Env, capture, retain_until, wait_until
from vault.layout import blob_key
from vault.removals import DESTRUCTION_KIND, EXCLUSION_KIND
from vault.verify import verify_vault

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


def _killed(env: Env, *args: str) -> None:
    settings = env.settings
    environment = dict(os.environ)
    environment.update(
        CAPSTONE_HOME=str(settings.home),
        CAPSTONE_VAULT=settings.vault_url,
        CAPSTONE_EXCLUSION_WINDOW=settings.exclusion_window,
        CAPSTONE_EXCLUSION_MARGIN=settings.exclusion_margin,
        CAPSTONE_RETENTION_TERMS=json.dumps(settings.retention_terms),
        CAPSTONE_CONFIG=str(admin_config(settings.home, "ali", ROLES)),
    )
    done = subprocess.run(
        [sys.executable, "-m", "tests.retention.crash_worker", *args],
        cwd=REPO, env=environment, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]


def _verify_clean(env: Env) -> int:
    vault = env.vault()
    try:
        report = verify_vault(vault)
        assert report.all_well, report.to_json()
        return report.removed_with_record
    finally:
        vault.close()


def test_kill_during_retention_run(env: Env) -> None:
    # A wider margin: the exclusions' locks must outlast the first killed run and its restart.
    env.settings = env.settings.model_copy(update={"exclusion_margin": "15s"})
    vault = env.vault()
    kept = [capture(vault, f"kept {i}".encode(), item=f"k{i}")[0] for i in range(3)]
    private = [capture(vault, f"private {i}".encode(), item=f"p{i}")[0] for i in range(2)]
    written = datetime.now(UTC)
    olga, bea, ali = env.service("olga"), env.service("bea"), env.service("ali")
    assert all(retain_until(vault, sha) > written + timedelta(seconds=15) for sha in private)
    vault.close()
    for i in range(2):
        bea.confirm(olga.mark(Scope.ITEM, f"p{i}", ExclusionCategory.PRIVE, "private").exclusion_id)
    wait_until(written + timedelta(seconds=WINDOW))

    _killed(env, "run", "extend_retention", "2")  # killed after securing one object
    vault = env.vault()
    decade = datetime.now(UTC) + timedelta(days=3600)
    assert sum(retain_until(vault, sha) > decade for sha in kept) == 1
    assert all(vault.store.head(blob_key(sha)) is not None for sha in private)
    vault.close()
    ali.run()  # the restart secures the rest
    vault = env.vault()
    assert all(retain_until(vault, sha) > decade for sha in kept)
    lapse = max(retain_until(vault, sha) for sha in private)
    vault.close()

    wait_until(lapse + timedelta(seconds=1))
    _killed(env, "run", "delete_all_versions", "2")  # killed after deleting one exclusion
    vault = env.vault()
    try:
        present = [sha for sha in private if vault.store.head(blob_key(sha)) is not None]
        assert len(present) == 1
        recorded = {r.extra["sha256"] for r in vault.iter_records(EXCLUSION_KIND)}
        assert recorded == set(private)  # both records written before either delete
    finally:
        vault.close()
    assert _verify_clean(env) == 1  # the deleted one is accounted for

    report = ali.run()
    assert report.excluded_deleted == 1 and report.accounted == 1
    assert _verify_clean(env) == 2
    vault = env.vault()
    try:
        assert len(list(vault.iter_records(EXCLUSION_KIND))) == 2  # no duplicate records
    finally:
        vault.close()


def test_kill_during_destroy(env: Env) -> None:
    vault = env.vault()
    doomed = [capture(vault, f"V {i}".encode(), item=f"v{i}", category="overig")[0] for i in range(3)]
    written = datetime.now(UTC)
    vault.close()
    ali, bea = env.service("ali"), env.service("bea")
    wait_until(written + timedelta(seconds=V_TERM + 1))
    listing = ali.propose()
    assert listing.items == 3
    bea.approve(listing.list_id, "BESLUIT-2026-9")

    _killed(env, "destroy", "delete_all_versions", "2", listing.list_id)
    vault = env.vault()
    try:
        gone = [sha for sha in doomed if vault.store.head(blob_key(sha)) is None]
        assert len(gone) == 1
        recorded = {r.extra["sha256"] for r in vault.iter_records(DESTRUCTION_KIND)}
        assert set(gone) <= recorded
    finally:
        vault.close()
    assert _verify_clean(env) == 1
    assert ali.destruction_list(listing.list_id).status == "approved"  # no certificate yet

    done = ali.destroy(listing.list_id)
    assert done.status == "destroyed" and done.destroyed == 3
    assert _verify_clean(env) == 3
    vault = env.vault()
    try:
        assert done.certificate_sha256
        certificate = json.loads(vault.read_blob(done.certificate_sha256))
        assert sorted(d["sha256"] for d in certificate["destroyed"]) == sorted(doomed)
    finally:
        vault.close()
