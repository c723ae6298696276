"""Fixtures: a simulated tenant served in-process on a free port.

``sim`` is shared by the read-only tests of a module; tests that change the tenant start their own
with ``fresh_sim`` (a small tenant builds in milliseconds)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import pytest

from connectors.simulator.server import RunningSimulator, run_simulator

SEED = 7
T = TypeVar("T")


@pytest.fixture(scope="module")
def sim() -> Iterator[RunningSimulator]:
    with run_simulator(seed=SEED, profile="small") as running:
        yield running


@pytest.fixture
def fresh_sim() -> Iterator[Callable[..., Any]]:
    """A factory: ``with fresh_sim(**config) as s:`` starts a private simulator."""
    yield lambda **kwargs: run_simulator(
        seed=kwargs.pop("seed", SEED), profile=kwargs.pop("profile", "small"), **kwargs
    )


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


@pytest.fixture(scope="module")
def truth(sim: RunningSimulator) -> dict[str, Any]:
    return sim.truth()


def pytest_configure(config: pytest.Config) -> None:
    # msgraph-sdk warns about its own generated request classes when they are imported
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning:msgraph.*")
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning:kiota_abstractions.*")
