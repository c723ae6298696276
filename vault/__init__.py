"""Capstone's write-once vault: content-addressed blobs, provenance records, manifest chain.

The vault knows nothing of mail or Microsoft. It stores bytes by SHA-256, provenance records in
write-once segments, and a hash chain of run manifests, on a local directory or an S3 bucket with
Object Lock. ``open_vault`` picks the backend from a URL::

    from vault import open_vault
    vault = open_vault("file:///srv/capstone/vault", cache_dir=Path("cache"))
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from vault.errors import (
    VaultConfigError,
    VaultConflictError,
    VaultError,
    VaultIntegrityError,
    VaultNotInitialisedError,
    VaultUnavailableError,
    VaultWriteError,
)
from vault.manifest import ManifestRef
from vault.records import Record, RecordRef
from vault.retention import RetentionPolicy
from vault.store import ObjectStore
from vault.vault import BlobRef, Vault

__all__ = [
    "BlobRef",
    "ManifestRef",
    "ObjectStore",
    "Record",
    "RecordRef",
    "RetentionPolicy",
    "Vault",
    "VaultConfigError",
    "VaultConflictError",
    "VaultError",
    "VaultIntegrityError",
    "VaultNotInitialisedError",
    "VaultUnavailableError",
    "VaultWriteError",
    "make_store",
    "open_vault",
]


def make_store(url: str, *, staging_dir: Path) -> ObjectStore:
    """The store for a vault URL: ``file:///path`` or ``s3://bucket[/prefix]``."""
    if url.startswith("file://"):
        from vault.local import LocalStore

        return LocalStore.from_url(url)
    if url.startswith("s3://"):
        from vault.s3 import S3Store

        return S3Store.from_url(url, staging_dir=staging_dir)
    raise VaultConfigError(f"unsupported vault URL {url!r}: use file:///path or s3://bucket[/prefix]")


def catalog_path_for(url: str, cache_dir: Path) -> Path:
    return cache_dir / f"vault-{hashlib.sha256(url.encode()).hexdigest()[:16]}.sqlite3"


def open_vault(
    url: str,
    *,
    cache_dir: Path,
    staging_dir: Path | None = None,
    retention: RetentionPolicy | None = None,
    create: bool = False,
    sync: bool = True,
) -> Vault:
    """Open (or with ``create=True`` initialise) the vault at ``url``; ``sync=False`` skips bringing
    the local catalog up to date (for a writer of anchors only, which needs no catalog)."""
    store = make_store(url, staging_dir=staging_dir or cache_dir / "staging")
    catalog = catalog_path_for(url, cache_dir)
    if create:
        return Vault.initialise(store, catalog_path=catalog, retention=retention)
    return Vault.open(store, catalog_path=catalog if sync else None, retention=retention, sync=sync)
