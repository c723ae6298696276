"""``$batch``: the first delta page of many folders in one round trip, Retry-After honoured for the
requests a batch answered with 429, and an idle run that costs a round trip per 20 folders."""

from __future__ import annotations

import asyncio
import math

from capstone.capture.state import CaptureState
from capstone.services import graph_connection, state_engine
from capstone.settings import Settings
from connectors.base import ChangePage
from connectors.graph.archive import GraphExportMailbox
from connectors.graph.mail import GraphMailbox
from connectors.simulator.server import run_simulator
from connectors.simulator.state import SimulatorConfig
from connectors.simulator.throttle import ThrottleConfig
from tests.capture.conftest import CaptureWorld, register_sample_officials, simulator_settings

MAYOR = "burgemeester@gemeente-demo.nl"


def _ids(page: ChangePage) -> list[str]:
    return [c.item_id for c in page.changes]


def test_batched_first_pages_equal_single_requests_and_wait_out_429s(settings: Settings) -> None:
    # 8 requests per 2 s and mailbox on the server: a batch of every folder is partly throttled.
    throttle = ThrottleConfig(mailbox_budget=8, mailbox_window=600.0)
    config = SimulatorConfig(throttle=throttle, time_scale=300.0)
    with run_simulator(seed=7, profile="small", config=config) as sim:
        configured = simulator_settings(settings, sim)

        async def scenario() -> tuple[dict[str, ChangePage], dict[str, ChangePage]]:
            connection = graph_connection(configured)
            try:
                mailbox = GraphMailbox(connection, MAYOR, page_size=5)
                folders = await mailbox.list_folders()
                assert len(folders) > 8
                before = connection.transport.stats_by_mailbox[MAYOR]
                throttled_before, waited_before = before.throttled, before.wait_seconds
                batched = await mailbox.first_pages({f.folder_id: None for f in folders})
                stats = connection.transport.stats_by_mailbox[MAYOR]
                assert stats.throttled > throttled_before  # 429s inside the batch's 200
                assert stats.wait_seconds - waited_before >= 1.0  # their Retry-After was waited out
                single = {f.folder_id: await mailbox.folder_changes(f.folder_id, None) for f in folders}
                pages = {k: v for k, v in batched.items() if isinstance(v, ChangePage)}
                assert set(pages) == set(batched) == set(single), {
                    k: v for k, v in batched.items() if not isinstance(v, ChangePage)
                }
                return pages, single
            finally:
                await connection.aclose()

        pages, single = asyncio.run(scenario())
        for folder_id, page in pages.items():
            assert _ids(page) == _ids(single[folder_id])
            assert page.complete == single[folder_id].complete
            assert (page.next_cursor is None) == (single[folder_id].next_cursor is None)


def test_an_idle_run_asks_every_folder_cursor_in_batches(settings: Settings) -> None:
    with run_simulator(seed=7, profile="small") as sim:
        configured = simulator_settings(settings, sim)
        world = CaptureWorld(configured, sim)
        world.vault_init()
        register_sample_officials(configured)
        assert all(r.status == "complete" for r in world.capture())

        idle = {r.account: r for r in world.capture()}
        state = CaptureState(state_engine(configured))
        mayor = idle[MAYOR]
        # What counts for the user's mailbox: /users/{id} and the export API on its primary mailbox.
        kinds = ("primary", "primary-json", "primary-export")
        cursors = sum(len(state.folder_paths(MAYOR, kind)) for kind in kinds)
        assert mayor.counters["items"] == 0 and mayor.content_requests == 0
        assert mayor.delta_requests == cursors  # one per folder cursor
        # A batch per 20 folder cursors of each source (mail, export, JSON items) instead of a
        # round trip per cursor; the folder listings are single requests.
        batches = 3 * math.ceil(cursors / 20)
        assert mayor.round_trips <= mayor.requests - mayor.delta_requests + batches
        assert mayor.delta_requests > batches


def test_the_export_api_shares_the_users_mailbox_limits(settings: Settings) -> None:
    # Outlook throttles per mailbox, whether it is addressed as /users/{upn} or by its MBX: id.
    with run_simulator(seed=7, profile="small") as sim:
        configured = simulator_settings(settings, sim)

        async def scenario() -> tuple[int, int]:
            connection = graph_connection(configured)
            try:
                primary_id, _ = await GraphExportMailbox.mailbox_ids(connection, MAYOR)
                assert primary_id
                mailbox = GraphExportMailbox(connection, MAYOR, primary_id, kind="primary-export")
                await mailbox.list_folders()
                stats = connection.transport.stats_by_mailbox
                return stats[MAYOR].requests, sum(
                    s.requests for k, s in stats.items() if k.startswith("mbx:")
                )
            finally:
                await connection.aclose()

        user_requests, by_id = asyncio.run(scenario())
        assert user_requests > 1 and by_id == 0
