"""EWS throttling as Exchange applies it, met by the connector: storms of ErrorServerBusy with
BackOffMilliseconds honoured, budget errors backed off, EWSMaxConcurrency per mailbox kept (or its
refusals absorbed), transient 5xx and resets retried, and a clear error when the server never
relents."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from connectors.ews.errors import EwsThrottledError
from connectors.ews.mailbox import EwsMailbox
from connectors.simulator.ews.throttle import EwsThrottleConfig
from connectors.simulator.faults import FaultSpec
from tests.ews.conftest import BURGEMEESTER, GRIFFIER, connect, mailbox_truth, run


async def _digests(box: EwsMailbox, item_ids: list[str]) -> dict[str, str]:
    async def one(item_id: str) -> tuple[str, str]:
        async def discard(_: bytes) -> None:
            return None

        return item_id, (await box.fetch_mime(item_id, discard)).sha256

    return dict(await asyncio.gather(*(one(i) for i in item_ids)))


async def _inbox_ids(box: EwsMailbox) -> list[str]:
    inbox = next(f for f in await box.list_folders() if f.path == "Inbox")
    page = await box.folder_changes(inbox.folder_id, None)
    return [c.item_id for c in page.changes]


@pytest.mark.parametrize(
    "code", ["ErrorServerBusy", "ErrorExceededConnectionCount", "ErrorTooManyObjectsOpened"]
)
def test_storm_of_throttling_errors_completes(fresh_sim: Callable[..., Any], code: str) -> None:
    with fresh_sim() as sim:
        sim.sim.ews_throttle.storm(5, code, back_off_ms=40)
        connection = connect(sim)
        try:
            ids = run(_inbox_ids(EwsMailbox(connection, GRIFFIER)))
        finally:
            connection.close()
        expected = {
            i["ewsId"] for i in mailbox_truth(sim.truth(), GRIFFIER)["items"] if i["folderPath"] == "Inbox"
        }
        assert set(ids) == expected
        assert sim.sim.ews_throttle.stats()["refused"] == {code: 5}
        assert connection.stats.throttled == {code: 5}
        if code == "ErrorServerBusy":  # the server's BackOffMilliseconds, honoured each time
            assert connection.stats.back_offs == [0.04] * 5
        else:
            assert connection.stats.back_offs == []


def test_endless_busy_ends_in_a_throttling_error(fresh_sim: Callable[..., Any]) -> None:
    with fresh_sim() as sim:
        sim.sim.ews_throttle.storm(1000, "ErrorServerBusy", back_off_ms=10)
        connection = connect(sim, retry_attempts=3)
        try:
            with pytest.raises(EwsThrottledError) as caught:
                run(EwsMailbox(connection, GRIFFIER).list_folders())
        finally:
            connection.close()
        assert caught.value.code == "ErrorServerBusy" and caught.value.retry_after == 0.01
        assert sim.sim.ews_throttle.stats()["refused"] == {"ErrorServerBusy": 3}


def test_max_concurrency_refusals_are_absorbed(fresh_sim: Callable[..., Any]) -> None:
    """The server allows 3 requests at once for the mailbox; the connector sends up to 10 and gets
    ErrorServerBusy with BackOffMilliseconds for the rest: every item still arrives byte-exact."""
    with fresh_sim(latency=0.2, ews_throttle=EwsThrottleConfig(max_concurrency=3, back_off_ms=20)) as sim:
        connection = connect(sim, max_concurrency=10)
        try:
            box = EwsMailbox(connection, BURGEMEESTER)
            ids = run(_inbox_ids(box))
            digests = run(_digests(box, ids))
        finally:
            connection.close()
        truth = {i["ewsId"]: i["sha256"] for i in mailbox_truth(sim.truth(), BURGEMEESTER)["items"]}
        assert len(ids) > 3 and digests == {i: truth[i] for i in ids}
        stats = sim.sim.ews_throttle.stats()
        assert stats["refused"].get("MaxConcurrency", 0) > 0
        assert stats["peak"][BURGEMEESTER] == 3
        assert connection.stats.back_offs and set(connection.stats.back_offs) == {0.02}


def test_connector_keeps_within_ews_max_concurrency(fresh_sim: Callable[..., Any]) -> None:
    with fresh_sim(latency=0.2, ews_throttle=EwsThrottleConfig(max_concurrency=3)) as sim:
        connection = connect(sim, max_concurrency=3)
        try:
            box = EwsMailbox(connection, BURGEMEESTER)
            ids = run(_inbox_ids(box))
            run(_digests(box, ids))
        finally:
            connection.close()
        stats = sim.sim.ews_throttle.stats()
        assert stats["refused"] == {}
        assert stats["peak"][BURGEMEESTER] == 3 == connection.stats.peak_in_flight


@pytest.mark.slow
def test_transient_faults_are_retried(fresh_sim: Callable[..., Any]) -> None:
    with fresh_sim() as sim:
        sim.sim.faults.configure(FaultSpec.parse("seed=11,rate=0.3,kinds=500,503,reset,paths=/EWS"))
        connection = connect(sim, retry_attempts=10)
        try:
            box = EwsMailbox(connection, GRIFFIER)
            folders = run(box.list_folders())
            found: list[str] = []
            for folder in folders:
                cursor = None
                while True:
                    page = run(box.folder_changes(folder.folder_id, cursor))
                    found.extend(c.item_id for c in page.changes)
                    if page.complete:
                        break
                    cursor = page.next_cursor
            digests = run(_digests(box, found))
        finally:
            connection.close()
        injected = sim.sim.faults.stats()["injected"]
        truth = {i["ewsId"]: i["sha256"] for i in mailbox_truth(sim.truth(), GRIFFIER)["items"]}
        assert digests == truth
        assert sum(injected.values()) >= 5 and connection.stats.retries >= 5
