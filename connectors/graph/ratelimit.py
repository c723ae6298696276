"""An HTTP transport that takes a token from a shared bucket before each request it passes on:
the app's tenant-wide Graph limits shared by every capture worker (the bucket itself lives in the
state database, :class:`capstone.capture.ratelimit.SharedBucket`)."""

from __future__ import annotations

import asyncio
from typing import Protocol

import httpx


class TokenBucket(Protocol):
    def try_local(self) -> bool:
        """A token without waiting, if one is at hand."""
        ...

    def acquire_blocking(self) -> float:
        """One token, waiting for it; returns the seconds waited."""
        ...


class SharedRateLimit(httpx.AsyncBaseTransport):
    """An HTTP transport that takes a token of ``bucket`` before each request it passes on."""

    def __init__(self, inner: httpx.AsyncBaseTransport, bucket: TokenBucket) -> None:
        self.inner = inner
        self.bucket = bucket
        self.waited = 0.0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not self.bucket.try_local():
            self.waited += await asyncio.to_thread(self.bucket.acquire_blocking)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()
