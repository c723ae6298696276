"""Fault injection from a seed: 5xx, 503 with Retry-After, connection resets, slow responses and
truncated bodies; off by default, switchable per run, deterministic, never on admin endpoints."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest

from connectors.simulator.faults import Faults, FaultSpec
from tests.simulator.conftest import run
from tests.simulator.graph_client import config, graph_client

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

GRIFFIER = "griffier@gemeente-demo.nl"


def test_spec_parsing_and_determinism() -> None:
    spec = FaultSpec.parse("seed=7,rate=0.25,kinds=500,503,reset,slow,truncate,slow=0.1,max=50")
    assert spec.kinds == ("500", "503", "reset", "slow", "truncate") and spec.rate == 0.25
    assert spec.slow_seconds == 0.1 and spec.max_faults == 50
    assert not FaultSpec.parse(None).enabled and not FaultSpec.parse("off").enabled
    with pytest.raises(ValueError):
        FaultSpec.parse("rate=0.1,kinds=boom")
    targets = [f"/v1.0/users/x/messages/{n}" for n in range(200)]
    first, second = Faults(spec), Faults(spec)
    one = [first.decide("GET", t) for t in targets]
    # the same URL asked again (a retry) gets its own, independent draw
    two = [second.decide("GET", t) for t in reversed(targets)][::-1]
    assert one == two and 20 < sum(k is not None for k in one) < 90
    assert set(one) - {None} == set(spec.kinds)
    other = Faults(FaultSpec.parse("seed=8,rate=0.25"))
    assert [other.decide("GET", t) for t in targets] != one


def test_each_fault_kind(fresh_sim: Any) -> None:
    with fresh_sim() as sim:
        token = sim.mint_token()
        headers = {"Authorization": f"Bearer {token}"}
        item = next(iter(sim.tenant.user(GRIFFIER).mailbox.by_well_known["inbox"].items.values()))
        url = f"{sim.graph_url}/users/{GRIFFIER}/messages/{item.rest_id()}/$value"
        expected = item.mime_bytes()
        assert httpx.get(url, headers=headers).content == expected  # off by default

        def switch(spec: str) -> None:
            answer = httpx.post(f"{sim.base_url}/_sim/faults", json={"spec": spec})
            assert answer.status_code == 200

        switch("seed=1,rate=1,kinds=503,retry_after=2")
        unavailable = httpx.get(url, headers=headers)
        assert unavailable.status_code == 503 and unavailable.headers["Retry-After"] == "2"
        assert httpx.get(f"{sim.base_url}/_sim/health").status_code == 200  # admin untouched
        token_answer = httpx.post(
            sim.token_url,
            data={"grant_type": "client_credentials", "client_id": sim.client_id, "client_secret": sim.client_secret,
                  "scope": "https://graph.microsoft.com/.default"},
        )  # fmt: skip
        assert token_answer.status_code == 200  # the token endpoint only when asked (auth=true)
        switch("seed=1,rate=1,kinds=500")
        assert httpx.get(url, headers=headers).status_code == 500
        switch("seed=1,rate=1,kinds=reset")
        with pytest.raises(httpx.TransportError):
            httpx.get(url, headers=headers)
        switch("seed=1,rate=1,kinds=truncate")
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.get(url, headers=headers)
        switch("seed=1,rate=1,kinds=slow,slow=0.2")
        assert httpx.get(url, headers=headers).content == expected
        stats = httpx.get(f"{sim.base_url}/_sim/stats").json()["faults"]
        assert stats["injected"] == {"slow": 1}
        switch("off")
        assert httpx.get(url, headers=headers).content == expected


def test_sdk_recovers_from_injected_503s(fresh_sim: Any) -> None:
    # at most 3 faults: no request can fail more often than the SDK retries (3 times)
    spec = FaultSpec.parse("seed=3,rate=0.3,kinds=503,retry_after=1,max=3,paths=/v1.0/users")
    with fresh_sim(faults=spec) as sim:

        async def scenario() -> list[str]:
            client = graph_client(sim)  # kiota retries 503 (up to 3 times) honouring Retry-After
            user = client.users.by_user_id(GRIFFIER)
            digests = []
            for folder in ("inbox", "sentitems", "deleteditems"):
                messages = await user.mail_folders.by_mail_folder_id(folder).messages.get(
                    request_configuration=config()
                )
                for message in messages.value:
                    data = await user.messages.by_message_id(message.id).content.get(
                        request_configuration=config()
                    )
                    digests.append(hashlib.sha256(data).hexdigest())
            return digests

        digests = run(scenario())
        truth = sim.truth(mailbox=GRIFFIER)
        known = {i["sha256"] for m in truth["mailboxes"] for i in m["items"]}
        assert digests and set(digests) <= known
        assert sim.sim.faults.injected["503"] > 0


def test_stats_count_graph_requests_per_route(fresh_sim: Any) -> None:
    """``/_sim/stats`` counts every answered Graph request, and each under its route's pattern
    (what bench/workers_bench.py reports per route); the per-route counts add up to the total."""
    with fresh_sim() as sim:
        headers = {"Authorization": f"Bearer {sim.mint_token()}"}
        inbox = sim.tenant.user(GRIFFIER).mailbox.by_well_known["inbox"]
        item = next(iter(inbox.items.values()))
        for _ in range(2):
            assert (
                httpx.get(f"{sim.graph_url}/users/{GRIFFIER}/mailFolders", headers=headers).status_code == 200
            )
        url = f"{sim.graph_url}/users/{GRIFFIER}/messages/{item.rest_id()}/$value"
        assert httpx.get(url, headers=headers).status_code == 200
        counts = httpx.get(f"{sim.base_url}/_sim/stats").json()["requests"]
        routes = {k: v for k, v in counts.items() if k.startswith("graph:")}
        assert routes == {
            "graph:GET /users/{user}/mailFolders": 2,
            "graph:GET /users/{user}/messages/{message}/$value": 1,
        }
        assert counts["graph"] == sum(routes.values()) == 3
