"""Running the simulator: in-process (uvicorn in a thread, for tests) or as a subprocess
(``capstone simulator serve``), both giving the same base URLs.

    with run_simulator(seed=7, profile="small") as sim:
        sim.graph_url      # http://127.0.0.1:<port>/v1.0
        sim.token_url      # http://127.0.0.1:<port>/<tenant id>/oauth2/v2.0/token
        sim.ews_url        # http://127.0.0.1:<port>/EWS/Exchange.asmx
        sim.mutate({"op": "delete", "item": ...})
        sim.truth()
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import uvicorn

from capstone.logging import get_logger
from connectors.simulator import mutations
from connectors.simulator.app import build_app
from connectors.simulator.generator import build_tenant
from connectors.simulator.importer import import_messages
from connectors.simulator.model import Tenant
from connectors.simulator.state import Simulator, SimulatorConfig
from connectors.simulator.truth import truth

log = get_logger("simulator.server")


@dataclass
class Endpoints:
    """Where a running simulator answers, and the app credentials it accepts."""

    base_url: str
    tenant_id: str
    client_id: str
    client_secret: str

    @property
    def graph_url(self) -> str:
        return f"{self.base_url}/v1.0"

    @property
    def graph_beta_url(self) -> str:
        return f"{self.base_url}/beta"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/{self.tenant_id}/oauth2/v2.0/token"

    @property
    def ews_url(self) -> str:
        return f"{self.base_url}/EWS/Exchange.asmx"

    def describe(self) -> dict[str, str]:
        return {
            "base_url": self.base_url,
            "graph_url": self.graph_url,
            "token_url": self.token_url,
            "ews_url": self.ews_url,
            "tenant_id": self.tenant_id,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
        }


@dataclass
class RunningSimulator(Endpoints):
    sim: Simulator = field(repr=False, default=None)  # type: ignore[assignment]

    @property
    def tenant(self) -> Tenant:
        return self.sim.tenant

    def mint_token(self, lifetime: float | None = None, client_id: str | None = None) -> str:
        return self.sim.tokens.mint(client_id or self.client_id, lifetime=lifetime)

    def mutate(self, document: dict[str, Any]) -> dict[str, Any]:
        return mutations.apply(self.sim.tenant, document)

    def truth(self, **kwargs: Any) -> dict[str, Any]:
        return truth(self.sim.tenant, graph_base=self.graph_url, **kwargs)


def create_simulator(config: SimulatorConfig, tenant: Tenant | None = None) -> Simulator:
    tenant = tenant or build_tenant(config.seed, config.profile)
    for path, mailbox, folder in config.imports:
        import_messages(tenant, path, mailbox, folder)
    return Simulator(tenant, config)


class _ThreadedServer(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # a thread cannot own signals
        pass


@contextlib.contextmanager
def run_simulator(
    seed: int = 1,
    profile: str = "small",
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    config: SimulatorConfig | None = None,
    tenant: Tenant | None = None,
    **overrides: Any,
) -> Iterator[RunningSimulator]:
    """Serve a simulated tenant in a background thread; yields its endpoints and handles."""
    cfg = replace(config or SimulatorConfig(), seed=seed, profile=profile, **overrides)
    sim = create_simulator(cfg, tenant)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(
        socket.IPPROTO_TCP, socket.TCP_NODELAY, 1
    )  # no Nagle delay between header and body writes
    sock.bind((host, port))
    actual_port = sock.getsockname()[1]
    server = _ThreadedServer(
        uvicorn.Config(
            build_app(sim), host=host, port=actual_port, log_level="warning", lifespan="off", access_log=False
        )
    )
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="capstone-simulator", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the simulator did not start")
        time.sleep(0.01)
    running = RunningSimulator(
        base_url=f"http://{host}:{actual_port}",
        tenant_id=sim.tenant.tenant_id,
        client_id=cfg.client_id,
        client_secret=cfg.client_secret,
        sim=sim,
    )
    log.info("simulator_started", url=running.base_url, seed=seed, profile=profile)
    try:
        yield running
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


def serve(config: SimulatorConfig, *, host: str, port: int, announce: bool = True) -> None:
    """Serve in the foreground until interrupted (``capstone simulator serve``). Prints one JSON
    line with the endpoints on stdout once listening (so a parent can use ``--port 0``)."""
    sim = create_simulator(config)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(
        socket.IPPROTO_TCP, socket.TCP_NODELAY, 1
    )  # no Nagle delay between header and body writes
    sock.bind((host, port))
    actual_port = sock.getsockname()[1]
    endpoints = Endpoints(
        f"http://{host}:{actual_port}", sim.tenant.tenant_id, config.client_id, config.client_secret
    )
    server = uvicorn.Server(
        uvicorn.Config(
            build_app(sim), host=host, port=actual_port, log_level="warning", lifespan="off", access_log=False
        )
    )
    if announce:
        print(json.dumps(endpoints.describe()), flush=True)
    log.info("simulator_serving", url=endpoints.base_url, seed=config.seed, profile=config.profile)
    server.run(sockets=[sock])


@contextlib.contextmanager
def run_simulator_process(
    seed: int = 1,
    profile: str = "small",
    *,
    host: str = "127.0.0.1",
    extra_args: list[str] | None = None,
    timeout: float = 60.0,
) -> Iterator[Endpoints]:
    """Run ``capstone simulator serve --port 0`` as a subprocess; yields its endpoints."""
    command = [
        sys.executable, "-m", "capstone.cli.main", "simulator", "serve",
        "--host", host, "--port", "0", "--seed", str(seed), "--profile", profile, *(extra_args or []),
    ]  # fmt: skip
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"the simulator process exited ({process.wait(timeout=5)})")
        info = json.loads(line)
        endpoints = Endpoints(info["base_url"], info["tenant_id"], info["client_id"], info["client_secret"])
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{endpoints.base_url}/_sim/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the simulator process did not become healthy")
            time.sleep(0.05)
        yield endpoints
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
