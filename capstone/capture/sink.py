"""The engine's content sink: what a connector streams item content into, backed by the vault.

A connector never sees the vault: it writes chunks into a :class:`~connectors.base.ContentWriter`
(hashed with SHA-256 and spooled as they arrive, memory flat however large the item) and commits;
only a committed write is in the vault (content-addressed, so the same bytes are stored once).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

from connectors.base import StoredContent
from vault import BlobRef, Vault
from vault.vault import BlobWriter


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
        return stored(await asyncio.to_thread(self._writer.commit))


class VaultSink:
    """:class:`~connectors.base.ContentSink` over a vault."""

    def __init__(self, vault: Vault) -> None:
        self.vault = vault

    @contextmanager
    def writer(self, media_type: str) -> Iterator[_VaultWriter]:
        with self.vault.blob_writer(media_type=media_type) as writer:
            yield _VaultWriter(writer)

    async def put(self, data: bytes, media_type: str) -> StoredContent:
        return stored(await asyncio.to_thread(self.vault.put_blob, data, media_type=media_type))
