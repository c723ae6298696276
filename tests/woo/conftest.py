"""Fixtures of the Woo tests that capture the simulated tenant themselves."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from capstone.services import open_vault
from capstone.settings import Settings
from connectors.simulator.server import run_simulator
from tests.capture.conftest import SEED, CaptureWorld, register_sample_officials, simulator_settings


@pytest.fixture
def world(settings: Settings) -> Iterator[CaptureWorld]:
    """The `small` tenant, its vault initialised and the sample officials registered; nothing captured."""
    with run_simulator(seed=SEED, profile="small") as sim:
        configured = simulator_settings(settings, sim)
        open_vault(configured, create=True).close()
        register_sample_officials(configured)
        yield CaptureWorld(configured, sim)
