"""The bearer token goes to the configured Graph endpoint only, whatever URL a stored cursor names."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from sqlalchemy import select, update

from capstone.capture.mail import MailboxCapture
from capstone.capture.tables import folder_cursors
from capstone.services import state_engine
from connectors.graph.client import connect
from connectors.graph.origin import ForeignOriginError, OriginGuard
from tests.capture.conftest import CaptureWorld


class _Listener:
    """An HTTP server on a port the OS picks that records the headers of every request it gets."""

    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []
        seen = self.seen

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                seen.append({k.lower(): v for k, v in self.headers.items()})
                body = b'{"value": []}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> _Listener:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Body(httpx.AsyncByteStream):
    def __init__(self, data: bytes) -> None:
        self.data = data

    async def __aiter__(self):  # type: ignore[no-untyped-def]
        yield self.data


@pytest.fixture
def listener() -> Iterator[_Listener]:
    with _Listener() as running:
        yield running


def test_guard_keeps_the_configured_origin_and_rebases_others() -> None:
    guard = OriginGuard("https://graph.example/proxy/v1.0/")
    same = "https://graph.example/proxy/v1.0/users/a/messages?$top=5"
    assert str(guard.rebase(same)) == same
    moved = guard.rebase("http://old.example:8080/v1.0/users/a/mailFolders/x/messages/delta?$deltatoken=T1")
    assert (
        str(moved) == "https://graph.example/proxy/v1.0/users/a/mailFolders/x/messages/delta?$deltatoken=T1"
    )
    # the default port of the scheme is the same origin; another port is not
    assert guard.allows(httpx.URL("https://graph.example:443/x"))
    assert not guard.allows(httpx.URL("https://graph.example:8443/x"))
    with pytest.raises(ForeignOriginError):
        guard.rebase("file:///etc/passwd")


def test_no_request_of_a_connection_reaches_another_origin(listener: _Listener) -> None:
    """SDK builders with a foreign link, raw downloads and ``$batch`` all go to the configured base."""
    received: list[httpx.Request] = []

    class Recorder(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            received.append(request)
            body = b'{"value": [], "responses": []}'
            return httpx.Response(200, headers={"Content-Type": "application/json"}, stream=_Body(body))

    async def token(force: bool) -> str:
        return "SECRET-TOKEN"

    async def scenario() -> None:
        connection = connect(token, base_url="http://graph.configured/v1.0", inner=Recorder())
        try:
            await connection.raw.get(f"{listener.origin}/v1.0/users/a/messages/delta?$deltatoken=old")
            await connection.raw.post(f"{listener.origin}/v1.0/$batch", content=b'{"requests": []}')
            builder = connection.sdk.users.by_user_id("a").messages.delta.with_url(
                f"{listener.origin}/v1.0/users/a/messages/delta?$skiptoken=S"
            )
            await connection.get_json(builder)
            chats = connection.sdk.chats.with_url(f"{listener.origin}/v1.0/chats?$skiptoken=C")
            await connection.get_json(chats)
        finally:
            await connection.aclose()

    asyncio.run(scenario())
    assert listener.seen == []  # nothing at all reached the other port
    assert len(received) == 4
    for request in received:
        assert request.url.host == "graph.configured"
        assert request.headers["Authorization"] == "Bearer SECRET-TOKEN"
    paths = [(r.url.path, r.url.query.decode()) for r in received]
    assert paths[0] == ("/v1.0/users/a/messages/delta", "$deltatoken=old")
    assert paths[1][0] == "/v1.0/$batch"


def test_stored_cursors_naming_another_host_never_get_the_token(
    world: CaptureWorld, listener: _Listener, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a reconfiguration the state database's links name the old host: the next capture
    sends its requests (and the token) to the configured endpoint and completes. The first pages
    are asked one folder at a time, as after a failed ``$batch`` (whose URLs are relative)."""

    async def no_batch(self: MailboxCapture, folders: list[object]) -> dict[str, object]:
        return {}

    monkeypatch.setattr(MailboxCapture, "_first_pages", no_batch)
    first = world.capture(source=None)
    assert first and all(r.status == "complete" for r in first)
    engine = state_engine(world.settings)
    graph_origin = world.sim.graph_url.rsplit("/v1.0", 1)[0]
    with engine.begin() as conn:
        rows = conn.execute(
            select(
                folder_cursors.c.account,
                folder_cursors.c.mailbox_kind,
                folder_cursors.c.folder_id,
                folder_cursors.c.delta_link,
                folder_cursors.c.pending_link,
            )
        ).all()
        moved = 0
        for row in rows:
            values = {}
            for name in ("delta_link", "pending_link"):
                link = getattr(row, name)
                if link and graph_origin in link:
                    values[name] = link.replace(graph_origin, listener.origin)
            if values:
                moved += 1
                conn.execute(
                    update(folder_cursors)
                    .where(
                        folder_cursors.c.account == row.account,
                        folder_cursors.c.mailbox_kind == row.mailbox_kind,
                        folder_cursors.c.folder_id == row.folder_id,
                    )
                    .values(values)
                )
    assert moved > 0  # the stored cursors really named the endpoint, and now name the listener
    second = world.capture(source=None)
    assert second and all(r.status == "complete" for r in second)
    assert [h for h in listener.seen if "authorization" in h] == []
    assert listener.seen == []
