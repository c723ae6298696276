"""Resuming after ``kill -9`` while the server still counts the killed run's requests: the new
process paces with a margin, learns the server's budget from its 429s, and waits them out; no
item fails because of throttling alone."""

from __future__ import annotations

import asyncio
import json

import httpx

from capstone.settings import Settings
from connectors.graph.transport import GraphTransport, TransportPolicy
from connectors.simulator.server import run_simulator
from connectors.simulator.state import SimulatorConfig
from connectors.simulator.throttle import ThrottleConfig
from tests.capture.conftest import CaptureWorld, register_sample_officials, simulator_settings

MAYOR = "burgemeester@gemeente-demo.nl"
URL = f"https://graph.test/v1.0/users/{MAYOR}/mailFolders/inbox"


async def _token(force: bool) -> str:
    return "token"


def _throttled(reason: str, retry_after: str) -> httpx.Response:
    body = {"error": {"code": "ApplicationThrottled", "message": f"Application is over its {reason} limit."}}
    return httpx.Response(
        429, headers={"Retry-After": retry_after}, stream=httpx.ByteStream(json.dumps(body).encode())
    )


def _ok() -> httpx.Response:
    # A stream, as a real transport gives it (the transport reads the raw body itself).
    return httpx.Response(200, stream=httpx.ByteStream(b'{"id": "inbox"}'))


def test_429s_are_waited_out_and_never_count_as_failed_attempts() -> None:
    answers = iter([_throttled("request", "0.01") for _ in range(12)])  # more than max_attempts (8)

    def handler(request: httpx.Request) -> httpx.Response:
        return next(answers, _ok())

    async def scenario() -> tuple[int, int]:
        transport = GraphTransport(_token, inner=httpx.MockTransport(handler))
        async with httpx.AsyncClient(transport=transport) as client:
            response = await client.get(URL)
        return response.status_code, transport.stats.throttled

    assert asyncio.run(scenario()) == (200, 12)


def test_a_budget_429_makes_every_request_to_the_mailbox_wait_and_fills_the_window() -> None:
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        if len(sent) == 1:
            return _throttled("request", "0.3")
        return _ok()

    async def scenario() -> tuple[float, int, int]:
        policy = TransportPolicy(budget=100, window=3.0)
        transport = GraphTransport(_token, policy=policy, inner=httpx.MockTransport(handler))
        async with httpx.AsyncClient(transport=transport) as client:
            first = asyncio.create_task(client.get(URL))
            await asyncio.sleep(0.05)  # the 429 has arrived: the mailbox is blocked
            loop = asyncio.get_running_loop()
            started = loop.time()
            await client.get(URL)  # a second request to the same mailbox waits for Retry-After
            waited = loop.time() - started
            await first
        limiter = transport._limiters[MAYOR]
        return waited, limiter.learned, len(limiter.sent)

    waited, learned, counted = asyncio.run(scenario())
    assert waited >= 0.2  # not sent before the server's Retry-After
    assert learned == 1
    assert counted == 90  # the window is taken as full at the paced budget (90 % of 100)


def test_a_concurrency_429_is_not_taken_for_a_spent_budget() -> None:
    answers = iter([_throttled("MailboxConcurrency", "0.01")])

    def handler(request: httpx.Request) -> httpx.Response:
        return next(answers, _ok())

    async def scenario() -> int:
        transport = GraphTransport(_token, inner=httpx.MockTransport(handler))
        async with httpx.AsyncClient(transport=transport) as client:
            assert (await client.get(URL)).status_code == 200
        return transport._limiters[MAYOR].learned

    assert asyncio.run(scenario()) == 0


def test_pacing_keeps_a_margin_below_the_budget() -> None:
    assert TransportPolicy().paced_budget == 9_000
    assert TransportPolicy(budget=10, pace_fraction=0.9).paced_budget == 9


def test_a_run_started_while_the_servers_window_is_nearly_spent_fails_no_item(settings: Settings) -> None:
    """A killed process's requests still count at the server: its window is nearly used up for
    every mailbox when the new process starts with a fresh budget of its own."""
    budget, window = 40, 8.0
    config = SimulatorConfig(throttle=ThrottleConfig(mailbox_budget=budget, mailbox_window=window))
    with run_simulator(seed=7, profile="small", config=config) as sim:
        configured = simulator_settings(settings, sim, graph_budget=budget, graph_window_seconds=window)
        world = CaptureWorld(configured, sim)
        world.vault_init()
        register_sample_officials(configured)
        token = sim.mint_token()
        with httpx.Client(base_url=sim.graph_url, headers={"Authorization": f"Bearer {token}"}) as raw:
            for account in sorted(world.accounts()):
                for _ in range(budget):  # the killed run's requests, still in the window
                    assert raw.get(f"/users/{account}/mailFolders/inbox").status_code == 200
        results = world.capture(source="graph-mail")
        assert results and all(r.status == "complete" for r in results), [
            (r.account, r.status, r.uncapturable, r.error) for r in results
        ]
        assert all(r.counters["errors"] == 0 and not r.uncapturable for r in results)
        throttled = sum(b["throttledRate"] for b in sim.sim.throttle.stats())  # type: ignore[misc]
        assert throttled > 0  # the server did refuse: the budget was learnt, not assumed
