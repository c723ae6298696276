"""``capstone serve --workers N``: refused without a shared session secret; with one, N uvicorn
worker processes answer on one port, each building the application from the same environment."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
from click.testing import CliRunner

from capstone.cli.main import cli

ENV = {
    "CAPSTONE_WEB_METADATA_URL": "http://127.0.0.1:9/tenant/v2.0/.well-known/openid-configuration",
    "CAPSTONE_WEB_CLIENT_ID": "capstone-web",
}


def test_more_workers_need_a_shared_session_secret(tmp_path: Path) -> None:
    env = {**ENV, "CAPSTONE_WEB_SESSION_SECRET": None}
    result = CliRunner().invoke(cli, ["--home", str(tmp_path), "serve", "--workers", "2"], env=env)
    assert result.exit_code == 2
    assert "--workers 2 needs CAPSTONE_WEB_SESSION_SECRET" in result.output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_two_workers_answer_with_one_secret(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAPSTONE_")}
    env |= ENV | {"CAPSTONE_WEB_SESSION_SECRET": "een-lang-gedeeld-geheim-voor-alle-workers"}
    command = [sys.executable, "-m", "capstone.cli.main", "--home", str(tmp_path / "home"), "serve",
               "--port", str(port), "--workers", "2"]  # fmt: skip
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, server.stdout.read().decode() if server.stdout else ""
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/openbaar/register", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "capstone serve --workers 2 did not answer"
                time.sleep(0.2)
        assert answer.status_code == 200 and "Register van sleutelfunctionarissen" in answer.text
        for _ in range(20):
            assert httpx.get(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=5).status_code == 200
        children = psutil.Process(server.pid).children(recursive=True)
        workers = [p for p in children if "spawn_main" in " ".join(p.cmdline())]  # uvicorn's workers
        assert len(workers) == 2, [p.cmdline() for p in children]
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
