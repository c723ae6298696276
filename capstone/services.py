"""Builds Capstone's services from settings: the one place that wires configuration to components."""

from __future__ import annotations

from capstone.settings import Settings
from vault import RetentionPolicy, Vault
from vault import open_vault as _open_vault


def retention_policy(settings: Settings) -> RetentionPolicy:
    return RetentionPolicy(
        default_class=settings.retention_class,
        years_by_class=settings.retention_years_by_class(),
        legal_hold=settings.legal_hold,
    )


def open_vault(settings: Settings, *, create: bool = False) -> Vault:
    """Open the configured vault (``CAPSTONE_VAULT``); ``create=True`` initialises it first."""
    return _open_vault(
        settings.vault_url,
        cache_dir=settings.cache_dir,
        staging_dir=settings.tmp_dir,
        retention=retention_policy(settings),
        create=create,
    )
