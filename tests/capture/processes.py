"""Capture as a separate process (``capstone capture run --once --json``), to be killed with a real
SIGKILL at random moments and restarted: shared by the Graph, Teams and EWS crash tests."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import sqlalchemy
import sqlalchemy.exc

from capstone.settings import Settings
from tests.access import admin_config

REPO = Path(__file__).resolve().parents[2]


def capture_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The process environment for ``settings`` (Graph at the simulator), plus ``extra``."""
    assert settings.graph_client_secret is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAPSTONE_")}
    env.update(
        CAPSTONE_HOME=str(settings.home),
        CAPSTONE_GRAPH_BASE_URL=settings.graph_base_url,
        CAPSTONE_GRAPH_TOKEN_URL=str(settings.graph_token_url),
        CAPSTONE_GRAPH_CLIENT_ID=str(settings.graph_client_id),
        CAPSTONE_GRAPH_CLIENT_SECRET=settings.graph_client_secret.get_secret_value(),
        CAPSTONE_LOG_LEVEL="warning",
        CAPSTONE_CONFIG=str(admin_config(settings.home, "ops", {"ops": ["archivist"]})),
        **extra,
    )
    return env


def capture_process(settings: Settings, **extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "capstone.cli.main", "capture", "run", "--once", "--json"],
        env=capture_env(settings, **extra),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def vault_init(settings: Settings, **extra: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "capstone.cli.main", "vault", "init"],
        env=capture_env(settings, **extra),
        cwd=REPO,
        check=True,
    )


def kill_at_random_moments(
    settings: Settings,
    rng: random.Random,
    after: tuple[float, float],
    times: int = 3,
    *,
    from_run_start: bool = False,
    **extra: str,
) -> int:
    """Start the capture ``times`` times and SIGKILL each after a random ``after`` seconds (when it
    is still running); how many were killed. With ``from_run_start`` the seconds count from the
    moment a capture run is under way in the state database, not from the process's start (its
    imports and set-up take seconds of their own on a loaded machine: a kill before the run exists
    leaves nothing to resume)."""
    kills = 0
    for _ in range(times):
        process = capture_process(settings, **extra)
        if from_run_start:
            _wait_for_a_running_run(settings, process)
        time.sleep(rng.uniform(*after))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait(timeout=60)
    return kills


def _wait_for_a_running_run(
    settings: Settings, process: subprocess.Popen[bytes], timeout: float = 120.0
) -> None:
    """Until the state database holds a capture run with status ``running``, or ``process`` ended."""
    engine = sqlalchemy.create_engine(settings.database_url)
    query = sqlalchemy.text("SELECT count(*) FROM capture_runs WHERE status = 'running'")
    deadline = time.monotonic() + timeout
    try:
        while process.poll() is None:
            try:
                with engine.connect() as conn:
                    if conn.execute(query).scalar_one():
                        return
            except sqlalchemy.exc.DBAPIError:  # no database or no table yet: the process is starting
                pass
            assert time.monotonic() < deadline, f"no capture run started within {timeout} s"
            time.sleep(0.05)
    finally:
        engine.dispose()


def final_runs(settings: Settings, **extra: str) -> list[dict[str, Any]]:
    """One capture to its end; its runs (``--json``)."""
    final = capture_process(settings, **extra)
    out, err = final.communicate(timeout=600)
    assert final.returncode == 0, err.decode()[-2000:]
    runs: list[dict[str, Any]] = json.loads(out)["runs"]
    return runs
