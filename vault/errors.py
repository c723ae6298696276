"""Errors the vault raises. Every one names its cause in plain words."""

from __future__ import annotations


class VaultError(Exception):
    """Base class of every vault error."""


class VaultConfigError(VaultError):
    """The vault URL or the store's configuration is not usable (e.g. a bucket without Object Lock)."""


class VaultUnavailableError(VaultError):
    """The store cannot be reached or refuses our credentials."""


class VaultNotInitialisedError(VaultError):
    """The store exists but ``capstone vault init`` has not been run on it."""


class VaultConflictError(VaultError):
    """A write would replace an existing object with different bytes. The vault never overwrites."""


class VaultIntegrityError(VaultError):
    """Bytes read back do not match their recorded SHA-256."""


class VaultWriteError(VaultError):
    """A write failed (full disk, read-only directory, rejected upload); nothing was committed."""


class VaultLockedError(VaultError):
    """A delete was refused: the object is still locked (retain-until in the future) or on hold."""
