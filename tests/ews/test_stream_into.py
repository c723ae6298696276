"""A large item's MIME handed block by block to the engine's writer in the connection's worker
thread that read it (``EwsConnection.stream_into``): never on the event loop, the mailbox's slot
given back however the stream ends."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from connectors.base import SourceError
from connectors.ews.connection import EwsConnection
from connectors.ews.mailbox import EwsMailbox
from connectors.simulator.server import RunningSimulator
from tests.ews.conftest import BURGEMEESTER, connect, mailbox_truth, run
from vault import VaultWriteError


@pytest.fixture
def connection(sim: RunningSimulator) -> Iterator[EwsConnection]:
    conn = connect(sim)
    yield conn
    conn.close()


def _largest(truth: dict[str, Any]) -> dict[str, Any]:
    item: dict[str, Any] = max(mailbox_truth(truth, BURGEMEESTER)["items"], key=lambda i: i["size"])
    assert item["size"] > 4 * 65536  # several blocks
    return item


def _in_flight(connection: EwsConnection) -> int:
    return connection._in_flight.get(BURGEMEESTER.lower(), 0)


def test_blocks_are_consumed_in_a_worker_thread_byte_exact(
    connection: EwsConnection, truth: dict[str, Any]
) -> None:
    item = _largest(truth)
    digest = hashlib.sha256()
    threads: set[str] = set()

    def consume(block: bytes) -> None:
        threads.add(threading.current_thread().name)
        digest.update(block)

    async def fetch() -> tuple[int, str]:
        size = await EwsMailbox(connection, BURGEMEESTER).stream_mime_into(item["ewsId"], consume)
        return size, threading.current_thread().name

    size, loop_thread = run(fetch())
    assert (size, digest.hexdigest()) == (item["size"], item["sha256"])
    assert threads and loop_thread not in threads
    assert all(name.startswith("capstone-ews") for name in threads)
    assert _in_flight(connection) == 0


def test_a_failing_consumer_raises_its_own_error_and_frees_the_slot(
    connection: EwsConnection, truth: dict[str, Any]
) -> None:
    item = _largest(truth)
    blocks: list[int] = []

    def consume(block: bytes) -> None:
        blocks.append(len(block))
        if len(blocks) == 2:
            raise VaultWriteError("could not spool a blob: the disk is full; nothing was written")

    with pytest.raises(VaultWriteError, match="disk is full"):  # not a SourceError of the stream
        run(EwsMailbox(connection, BURGEMEESTER).stream_mime_into(item["ewsId"], consume))
    assert len(blocks) == 2 and _in_flight(connection) == 0
    # the connection goes on serving the mailbox
    assert (
        run(EwsMailbox(connection, BURGEMEESTER).stream_mime_into(item["ewsId"], lambda b: None))
        == item["size"]
    )


def test_a_cancelled_stream_stops_reading_and_frees_the_slot(
    connection: EwsConnection, truth: dict[str, Any]
) -> None:
    item = _largest(truth)
    consumed: list[int] = []
    first = threading.Event()

    def consume(block: bytes) -> None:
        consumed.append(len(block))
        first.set()
        time.sleep(0.05)  # a slow disk: the cancellation comes while blocks are still to be read

    async def cancel_midway() -> int:
        task = asyncio.create_task(
            EwsMailbox(connection, BURGEMEESTER).stream_mime_into(item["ewsId"], consume)
        )
        assert await asyncio.to_thread(first.wait, 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        after = len(consumed)
        await asyncio.sleep(0.3)
        assert len(consumed) == after  # the worker stopped before the cancelled task returned
        return after

    blocks = run(cancel_midway())
    assert 0 < sum(consumed) < item["size"] and blocks == len(consumed)
    assert _in_flight(connection) == 0


def test_a_missing_item_is_the_connectors_error(connection: EwsConnection) -> None:
    missing = "AAMkAGJvZ3VzAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
    with pytest.raises(SourceError):
        run(EwsMailbox(connection, BURGEMEESTER).stream_mime_into(missing, lambda b: None))
    assert _in_flight(connection) == 0
