"""The store primitives of the retention lifecycle (issue 21) on both backends: a lock is extended,
never shortened; a legal hold blocks a delete; only a lapsed, unheld object can be deleted."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.vault.conftest import VaultFactory
from vault import RetentionPolicy
from vault.errors import VaultLockedError
from vault.layout import blob_key
from vault.retention import LifecyclePolicy, Term


def _aware(moment: datetime | None) -> datetime:
    assert moment is not None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def test_extend_never_shortens_and_hold_blocks_delete(make_vault: VaultFactory) -> None:
    lifecycle = LifecyclePolicy(window=timedelta(seconds=2), margin=timedelta(seconds=1))
    vault = make_vault(retention=RetentionPolicy(lifecycle=lifecycle))
    try:
        ref = vault.put_blob(b"lifecycle primitive", media_type="text/plain")
        key = blob_key(ref.sha256)
        first = _aware(vault.store.head(key).retain_until)  # type: ignore[union-attr]
        assert first < datetime.now(UTC) + timedelta(seconds=5)  # provisional, not ten years
        with pytest.raises(VaultLockedError):
            vault.store.delete_all_versions(key)
        later = first + timedelta(seconds=3)
        assert _aware(vault.store.extend_retention(key, later)) >= later - timedelta(seconds=1)
        kept = _aware(vault.store.extend_retention(key, first - timedelta(days=1)))  # shorter: ignored
        assert kept >= later - timedelta(seconds=1)
        assert _aware(vault.store.head(key).retain_until) >= later - timedelta(seconds=1)  # type: ignore[union-attr]

        vault.store.set_legal_hold(key, True)
        assert vault.store.head(key).legal_hold  # type: ignore[union-attr]
        time.sleep(max(0.0, (later - datetime.now(UTC)).total_seconds()) + 1.5)
        with pytest.raises(VaultLockedError):  # lapsed, but held
            vault.store.delete_all_versions(key)
        vault.store.set_legal_hold(key, False)
        assert vault.store.delete_all_versions(key) >= 1
        assert vault.store.head(key) is None
        assert vault.store.delete_all_versions(key) == 0  # idempotent
        with pytest.raises(KeyError):
            vault.store.extend_retention(key, later)
    finally:
        vault.close()


def test_terms_parse() -> None:
    assert Term.parse("B") == Term("B", years=10)
    assert Term.parse("V:7y") == Term("V", years=7)
    assert Term.parse("V:30s").until(datetime(2026, 1, 1, tzinfo=UTC)) == datetime(
        2026, 1, 1, 0, 0, 30, tzinfo=UTC
    )
    assert Term.parse("B:2w").seconds == 14 * 86400
    for bad in ("X", "V:0y", "V:7", "7y"):
        with pytest.raises(ValueError):
            Term.parse(bad)
