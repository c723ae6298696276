"""The asyncio network backend under httpx: the same answers and the same errors as httpcore's own
backend (a silent server times out, a refused port fails to connect, a cut body is an error)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable

import httpx
import pytest

from connectors.graph.netio import AsyncioBackend, asyncio_http_transport

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _get(handler: Handler, path: str = "/x", timeout: float = 5.0) -> httpx.Response:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    transport = asyncio_http_transport(retries=0)
    assert isinstance(transport._pool._network_backend, AsyncioBackend)
    try:
        async with httpx.AsyncClient(transport=transport, timeout=timeout) as client:
            return await client.get(f"http://127.0.0.1:{port}{path}")
    finally:
        server.close()


def _reply(body: bytes, declared: int | None = None) -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        length = len(body) if declared is None else declared
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % length + body)
        await writer.drain()
        writer.close()

    return handler


def test_a_body_arrives_whole() -> None:
    body = bytes(range(256)) * 5000  # 1.28 MB: several reads
    response = asyncio.run(_get(_reply(body)))
    assert response.status_code == 200 and response.content == body


def test_a_silent_server_times_out() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    with pytest.raises(httpx.ReadTimeout):
        asyncio.run(_get(silent, timeout=0.3))


def test_a_cut_body_is_an_error() -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        asyncio.run(_get(_reply(b"only ten b", declared=100)))


def test_a_refused_port_fails_to_connect() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, never listening: connections are refused

        async def get() -> None:
            async with httpx.AsyncClient(transport=asyncio_http_transport(retries=0)) as client:
                await client.get(f"http://127.0.0.1:{port}/")

        with pytest.raises(httpx.ConnectError):
            asyncio.run(get())
