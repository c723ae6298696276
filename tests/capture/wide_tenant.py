"""A simulated tenant of many ``small``-profile mailboxes, served by its own process with a latency
per request (so capture is I/O-bound), and capture workers as separate processes sharing one
PostgreSQL state database and one S3 vault. Used by tests/capture/test_workers.py and
bench/workers_bench.py.

The ``small`` profile's sizes are kept (six key officials with archives and chats, staff mailboxes of
6-9 items); only the number of staff mailboxes grows, each designated like a key official
(mail only, so chats stay those of the six officials).
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
DOMAIN = "gemeente-demo.nl"

_SERVE = """
import json, sys
from dataclasses import replace
from connectors.simulator.generator import PROFILES
from connectors.simulator.server import serve
from connectors.simulator.state import SimulatorConfig
staff, latency, seed = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
PROFILES["small-wide"] = replace(PROFILES["small"], name="small-wide", staff=staff)
serve(SimulatorConfig(seed=seed, profile="small-wide", latency=latency), host="127.0.0.1", port=0)
"""


@dataclass(frozen=True)
class Tenant:
    base_url: str
    tenant_id: str
    client_id: str
    client_secret: str
    staff: int
    process: subprocess.Popen[str]

    @property
    def graph_url(self) -> str:
        return f"{self.base_url}/v1.0"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/{self.tenant_id}/oauth2/v2.0/token"

    def truth(self) -> dict[str, Any]:
        return dict(httpx.get(f"{self.base_url}/_sim/truth", timeout=600).json())

    def requests(self) -> int:
        """Every request the tenant answered (Graph, EWS and token requests; the per-route and
        per-operation counts beside them are a breakdown of these, not more)."""
        return sum(self.requests_by_route().get(kind, 0) for kind in ("graph", "ews", "token"))

    def requests_by_route(self) -> dict[str, int]:
        stats = httpx.get(f"{self.base_url}/_sim/stats", timeout=60).json()
        return {str(k): int(v) for k, v in stats["requests"].items()}


def _healthy(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/_sim/health", timeout=30).status_code == 200
    except httpx.TransportError:
        return False


@contextmanager
def wide_tenant(staff: int, *, latency: float, seed: int = 7) -> Iterator[Tenant]:
    process = subprocess.Popen(
        [sys.executable, "-c", _SERVE, str(staff), str(latency), str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "CAPSTONE_LOG_LEVEL": "warning"},
    )
    try:
        assert process.stdout is not None
        info = json.loads(process.stdout.readline())
        deadline = time.monotonic() + 300
        while not _healthy(info["base_url"]):  # the endpoints are announced before it listens
            if time.monotonic() > deadline:
                raise RuntimeError("the simulator did not become healthy")
            time.sleep(0.2)
        yield Tenant(
            info["base_url"], info["tenant_id"], info["client_id"], info["client_secret"], staff, process
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def registry_csv(staff: int) -> bytes:
    """The six sample key officials plus ``staff`` staff members, each designated (mail only)."""
    sample = resources.files("capstone.registry").joinpath("samples/sleutelfunctionarissen.csv").read_text()
    rows = list(csv.DictReader(io.StringIO(sample)))
    template = dict(rows[3])
    for n in range(1, staff + 1):
        address = f"beleidsmedewerker{n}@{DOMAIN}"
        rows.append(
            template
            | {
                "name": f"Beleidsmedewerker {n}",
                "personnel_number": "",
                "mail": address,
                "aliases": "",
                "entra_object_id": "",
                "upn": address,
                "function": f"Beleidsmedewerker {n}",
                "organisation_unit": "Beleid en Advies",
                "capture_chats": "no",
            }
        )
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    home: Path
    log: Path

    def log_events(self) -> list[dict[str, Any]]:
        events = []
        for line in self.log.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    events.append(json.loads(line))
                except ValueError:
                    continue
        return events


def worker_env(base: dict[str, str], home: Path, config: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAPSTONE_")}
    return env | base | {"CAPSTONE_HOME": str(home), "CAPSTONE_CONFIG": str(config)}


def start_worker(env: dict[str, str], home: Path, *args: str) -> WorkerProcess:
    log = home.parent / f"{home.name}.log"
    with open(log, "wb") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "capstone.cli.main", "capture", "worker", *args],
            env=env,
            cwd=REPO,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    return WorkerProcess(process, home, log)
