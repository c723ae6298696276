"""The engine's content sink: what a connector streams item content into, backed by the vault.

A connector never sees the vault: it writes chunks into a :class:`~connectors.base.ContentWriter`
(hashed with SHA-256 and spooled as they arrive, memory flat however large the item) and commits;
only a committed write is in the vault (content-addressed, so the same bytes are stored once).

Commits run in a pool of their own (:data:`COMMITS` threads, process-wide), not in asyncio's
default executor (a handful of threads, shared with the state database): a local vault fsyncs each
blob and its directory, and those waits overlap on disk, so many at once store many more blobs per
second than a few (a sequential put is bound by one fsync after another).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from typing import TypeVar

from connectors.base import StoredContent
from vault import BlobRef, Vault
from vault.vault import BlobWriter

T = TypeVar("T")
COMMITS = 16  # vault writes in flight at once, over every sink of the process
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _commit_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=COMMITS, thread_name_prefix="capstone-sink")
        return _pool


async def in_commit_pool(fn: Callable[[], T]) -> T:
    return await asyncio.get_running_loop().run_in_executor(_commit_pool(), fn)


def stored(ref: BlobRef) -> StoredContent:
    return StoredContent(sha256=ref.sha256, size=ref.size, created=ref.created)


class _VaultWriter:
    def __init__(self, writer: BlobWriter) -> None:
        self._writer = writer

    @property
    def media_type(self) -> str:
        return self._writer.media_type

    @media_type.setter
    def media_type(self, value: str) -> None:
        self._writer.media_type = value

    def write(self, chunk: bytes) -> None:
        self._writer.write(chunk)

    async def commit(self) -> StoredContent:
        return stored(await in_commit_pool(self._writer.commit))


class VaultSink:
    """:class:`~connectors.base.ContentSink` over a vault."""

    def __init__(self, vault: Vault) -> None:
        self.vault = vault

    @contextmanager
    def writer(self, media_type: str) -> Iterator[_VaultWriter]:
        with self.vault.blob_writer(media_type=media_type) as writer:
            yield _VaultWriter(writer)

    async def put(self, data: bytes, media_type: str) -> StoredContent:
        return stored(await in_commit_pool(partial(self.vault.put_blob, data, media_type=media_type)))

    async def put_many(self, contents: Sequence[bytes], media_type: str) -> list[StoredContent]:
        """One group commit (:meth:`vault.Vault.put_blobs`): each blob hashed once, and on a local
        vault one sync for the batch instead of an fsync of each blob and its directory."""
        if not contents:
            return []
        refs = await in_commit_pool(partial(self.vault.put_blobs, contents, media_type=media_type))
        return [stored(ref) for ref in refs]
