"""Throttling as Graph does it: per app per mailbox a request budget per window and 4 concurrent
requests, answered with 429 and Retry-After (also inside ``$batch``); clients recover by waiting.
Windows are shrunk with ``time_scale`` so the test takes seconds."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from connectors.simulator.graph.auth import AppRegistration
from connectors.simulator.throttle import Throttle, ThrottleConfig
from tests.simulator.conftest import run
from tests.simulator.graph_client import config, graph_client

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

GRIFFIER = "griffier@gemeente-demo.nl"
BURGEMEESTER = "burgemeester@gemeente-demo.nl"


def test_budget_429_retry_after_and_sdk_recovers(fresh_sim: Any) -> None:
    # 5 requests per 600 s, time-scaled by 300: a 2-second window.
    throttle = ThrottleConfig(mailbox_budget=5, mailbox_window=600.0)
    second_app = AppRegistration("0ddba11-0000-4000-8000-000000000002", "other-secret")
    with fresh_sim(time_scale=300.0, throttle=throttle, extra_apps=(second_app,)) as sim:
        token = sim.mint_token()
        with httpx.Client(base_url=sim.graph_url, headers={"Authorization": f"Bearer {token}"}) as raw:
            statuses = [raw.get(f"/users/{GRIFFIER}/mailFolders/inbox").status_code for _ in range(5)]
            assert statuses == [200] * 5
            throttled = raw.get(f"/users/{GRIFFIER}/mailFolders/inbox")
            assert throttled.status_code == 429
            assert throttled.json()["error"]["code"] == "ApplicationThrottled"
            retry_after = throttled.headers["Retry-After"]
            assert retry_after.isdigit() and 1 <= int(retry_after) <= 2
            # the budget is per mailbox and per app
            assert raw.get(f"/users/{BURGEMEESTER}/mailFolders/inbox").status_code == 200
            other = sim.mint_token(client_id=second_app.client_id)
            assert (
                raw.get(
                    f"/users/{GRIFFIER}/mailFolders/inbox", headers={"Authorization": f"Bearer {other}"}
                ).status_code
                == 200
            )

        async def sdk_requests() -> list[str]:
            client = graph_client(sim)  # kiota's retry handler honours Retry-After
            names = []
            for _ in range(8):
                folder = (
                    await client.users.by_user_id(GRIFFIER)
                    .mail_folders.by_mail_folder_id("inbox")
                    .get(request_configuration=config())
                )
                names.append(folder.display_name)
            return names

        assert run(sdk_requests()) == ["Inbox"] * 8
        mailbox = sim.tenant.user(GRIFFIER).mailbox
        assert mailbox is not None
        bucket = next(
            b
            for b in sim.sim.throttle.stats()
            if b["app"] == sim.client_id and b["mailbox"] == mailbox.guid.hex()
        )
        assert bucket["throttledRate"] >= 2  # the raw 429 above and at least one the SDK waited out


def test_concurrency_limit(fresh_sim: Any) -> None:
    # Each request holds its slot for a second; six at once: four run, two are refused.
    with fresh_sim(latency=1.0) as sim:
        token = sim.mint_token()

        async def burst() -> list[httpx.Response]:
            async with httpx.AsyncClient(
                base_url=sim.graph_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
            ) as client:
                return list(
                    await asyncio.gather(
                        *(client.get(f"/users/{GRIFFIER}/mailFolders/inbox") for _ in range(6))
                    )
                )

        responses = run(burst())
        codes = sorted(r.status_code for r in responses)
        assert codes == [200, 200, 200, 200, 429, 429]
        refused = [r for r in responses if r.status_code == 429]
        assert all("MailboxConcurrency" in r.json()["error"]["message"] for r in refused)
        assert all(r.headers["Retry-After"] == "1" for r in refused)


def test_batch_requests_are_throttled_individually(fresh_sim: Any) -> None:
    throttle = ThrottleConfig(mailbox_budget=3, mailbox_window=600.0)
    with fresh_sim(time_scale=600.0, throttle=throttle) as sim:
        # (msgraph-core's batch helpers need the 'deprecated' package, which Capstone does not
        # install; the batch is posted as Graph documents it, JSON over HTTP)
        token = sim.mint_token()
        batch = {
            "requests": [
                {"id": str(n), "method": "GET", "url": f"/users/{GRIFFIER}/mailFolders/inbox"}
                for n in range(1, 6)
            ]
        }
        answer = httpx.post(
            f"{sim.graph_url}/$batch", json=batch, headers={"Authorization": f"Bearer {token}"}
        )
        assert answer.status_code == 200
        responses = answer.json()["responses"]
        assert [r["id"] for r in responses] == ["1", "2", "3", "4", "5"]
        assert sorted(r["status"] for r in responses) == [200, 200, 200, 429, 429]
        for entry in responses:
            if entry["status"] == 429:
                assert int(entry["headers"]["Retry-After"]) >= 1
                assert entry["body"]["error"]["code"] == "ApplicationThrottled"
            else:
                assert entry["body"]["displayName"] == "Inbox"
        # an over-long batch is refused as a whole
        too_long = {"requests": [{"id": str(n), "method": "GET", "url": "/users"} for n in range(21)]}
        answer = httpx.post(
            f"{sim.graph_url}/$batch", json=too_long, headers={"Authorization": f"Bearer {token}"}
        )
        assert answer.status_code == 400


def test_throttled_requests_count_against_the_window() -> None:
    now = [0.0]
    throttle = Throttle(ThrottleConfig(mailbox_budget=2, mailbox_window=10.0), clock=lambda: now[0])
    for _ in range(2):
        throttle.admit_mailbox("app", "mbx").release()
    now[0] = 5.0
    refused = throttle.admit_mailbox("app", "mbx")
    assert not refused.admitted and refused.retry_after == 5
    now[0] = 6.0  # a client that retries too early is refused again, and that counts too
    again = throttle.admit_mailbox("app", "mbx")
    assert not again.admitted and again.retry_after == 9
    now[0] = 10.5  # the two admitted requests aged out, the two refused ones did not
    assert not throttle.admit_mailbox("app", "mbx").admitted
    now[0] = 20.0
    assert throttle.admit_mailbox("app", "mbx").admitted
