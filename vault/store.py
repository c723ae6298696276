"""The object-store protocol both backends implement, and what they exchange.

A store knows keys, bytes, checksums and retention; it knows nothing of mail or records.
Every write is *put-if-absent*: an existing identical object is success (idempotent), an existing
different object is a :class:`~vault.errors.VaultConflictError`. Nothing is ever replaced; the
retention lifecycle (issue 21) may *extend* a lock, set or clear a legal hold, and delete an object
whose lock has lapsed and that is not on hold (the server refuses anything else).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol


@dataclass(frozen=True)
class Retention:
    """How long an object is locked, and whether it is under legal hold."""

    retention_class: str
    retain_until: datetime
    legal_hold: bool = False


@dataclass(frozen=True)
class ObjectInfo:
    """What a store knows about one object without reading its bytes."""

    key: str
    size: int
    sha256: str | None = None
    media_type: str | None = None
    retain_until: datetime | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    legal_hold: bool = False
    versions: int = 1  # real versions of the key (more than one: two writers raced for it)


@dataclass(frozen=True)
class PutResult:
    key: str
    sha256: str
    size: int
    created: bool  # False when an identical object was already there


@dataclass(frozen=True)
class BatchItem:
    """One object of a group commit (:meth:`ObjectStore.put_many`): bytes the vault hashed itself."""

    key: str
    data: bytes
    sha256: str
    media_type: str
    retention: Retention


@dataclass(frozen=True)
class StoreCapabilities:
    """What the server behind a store proved it does (detected at ``vault init``, never assumed)."""

    worm: bool  # immutability enforced by the server (S3 Object Lock, compliance mode)
    checksum_sha256: bool = False  # server checks x-amz-checksum-sha256 on upload
    notes: tuple[str, ...] = ()


class ObjectStore(Protocol):
    """A write-once object store: the one interface both vault backends implement."""

    url: str

    def initialise(self) -> StoreCapabilities:
        """Create or validate the container (bucket/directory) and detect capabilities."""
        ...

    def check(self) -> None:
        """Validate that the store is usable; raise a clear VaultError if not. No writes."""
        ...

    def use_capabilities(self, capabilities: StoreCapabilities) -> None:
        """Adopt the capabilities recorded in the vault descriptor at ``init`` time."""
        ...

    @property
    def capabilities(self) -> StoreCapabilities: ...

    def staging_dir(self) -> Path:
        """A directory for spooling large uploads (on the same file system for local stores)."""
        ...

    def head(self, key: str) -> ObjectInfo | None: ...

    def put_bytes(
        self, key: str, data: bytes, *, sha256: str, md5: bytes, media_type: str, retention: Retention
    ) -> PutResult: ...

    def put_file(
        self,
        key: str,
        path: Path,
        *,
        sha256: str,
        md5: bytes,
        size: int,
        media_type: str,
        retention: Retention,
    ) -> PutResult:
        """Store a spooled file. The store may consume (link or remove) ``path``."""
        ...

    def put_many(self, items: Sequence[BatchItem]) -> list[PutResult]:
        """Store a batch put-if-absent, as one group commit: returns (a result per item, in order)
        only when every object of the batch is durable. No object becomes visible under its key
        before its bytes are durable, so a crash never leaves a torn object under a final key."""
        ...

    def open(self, key: str) -> BinaryIO:
        """A readable stream of the object's bytes; raises KeyError if absent."""
        ...

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Objects under ``prefix`` in key order (metadata may be partial: size always set)."""
        ...

    # -- the retention lifecycle (issue 21) --------------------------------------------------------

    def extend_retention(self, key: str, until: datetime) -> datetime:
        """Lock every version of ``key`` at least until ``until`` (extend, never shorten); returns
        the retain-until date the store now holds. Raises KeyError if the key is absent."""
        ...

    def set_legal_hold(self, key: str, on: bool) -> None:
        """Set or clear the legal hold of every version of ``key``. Raises KeyError if absent."""
        ...

    def delete_all_versions(self, key: str) -> int:
        """Delete every version of ``key``; the number deleted (0: nothing was there). Raises
        :class:`~vault.errors.VaultLockedError` if a version is still locked or on hold."""
        ...


class PresenceIndex(Protocol):
    """What a store may learn and remember about which of its content-addressed keys exist (the
    vault's catalog implements it), so it need not ask the server before every write."""

    def store_key_state(self, key: str) -> int | None: ...

    def add_store_key(self, key: str) -> None: ...

    def forget_store_key(self, key: str) -> None: ...

    def add_listed_keys(self, keys: Iterable[tuple[str, int]], started: float) -> None: ...

    def finish_listing(self, started: float, seconds: float) -> None: ...

    def last_listing(self) -> tuple[float, float] | None: ...


class KeyLocks:
    """One lock per key, held while a writer checks for and writes that key, so two threads of one
    process never both find a key absent and both write it. Locks exist only while in use."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}

    @contextlib.contextmanager
    def hold(self, key: str) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(key) or (threading.Lock(), 0)
            self._locks[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._locks[key]
                if users == 1:
                    del self._locks[key]
                else:
                    self._locks[key] = (lock, users - 1)
