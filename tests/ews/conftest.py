"""Fixtures: a simulated tenant served in-process, and the EWS connector pointed at it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import replace
from typing import Any, TypeVar

import pytest

from connectors.ews.config import EwsConfig, Secret
from connectors.ews.connection import EwsConnection
from connectors.simulator.server import RunningSimulator, run_simulator
from connectors.simulator.state import SimulatorConfig

SEED = 7
SERVICE_USER = "svc-capstone@gemeente-demo.nl"
SERVICE_PASSWORD = next(iter(SimulatorConfig().ews_users.values()))
BURGEMEESTER = "burgemeester@gemeente-demo.nl"
GRIFFIER = "griffier@gemeente-demo.nl"
T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def ews_config(sim: RunningSimulator, **overrides: Any) -> EwsConfig:
    base = EwsConfig(
        username=SERVICE_USER,
        secret=Secret(SERVICE_PASSWORD),
        service_endpoint=sim.ews_url,
        auth="ntlm",
        allow_insecure_http=True,  # the simulator listens on plain HTTP on 127.0.0.1
        retry_base=0.01,
    )
    return replace(base, **overrides)


def connect(sim: RunningSimulator, **overrides: Any) -> EwsConnection:
    return EwsConnection(ews_config(sim, **overrides))


def mailbox_truth(truth: dict[str, Any], address: str, kind: str = "primary") -> dict[str, Any]:
    return next(m for m in truth["mailboxes"] if m["address"] == address and m["kind"] == kind)


@pytest.fixture(scope="module")
def sim() -> Iterator[RunningSimulator]:
    with run_simulator(seed=SEED, profile="small") as running:
        yield running


@pytest.fixture(scope="module")
def truth(sim: RunningSimulator) -> dict[str, Any]:
    return sim.truth()


@pytest.fixture
def fresh_sim() -> Iterator[Callable[..., Any]]:
    """A factory: ``with fresh_sim(**config) as s:`` starts a private simulator."""
    yield lambda **kwargs: run_simulator(
        seed=kwargs.pop("seed", SEED), profile=kwargs.pop("profile", "small"), **kwargs
    )
