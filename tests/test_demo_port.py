"""``capstone demo`` with its simulator port taken says so in one line, naming the port and how to
choose another, before it does anything else."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from capstone import demo
from capstone.cli.context import AppContext
from capstone.cli.demo import command
from capstone.settings import Settings


def test_a_busy_simulator_port_is_one_clear_line(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        monkeypatch.setattr(demo, "DEMO_PORT", port)
        home = settings.model_copy(update={"home": tmp_path / "demo-home"})
        result = CliRunner().invoke(command, [], obj=AppContext(settings=home))
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert f"127.0.0.1:{port} is in use" in lines[0] and "CAPSTONE_DEMO_SIMULATOR_PORT" in lines[0]
    assert "Traceback" not in result.output
    assert not (tmp_path / "demo-home").exists()  # nothing was started or written before the check


def test_a_free_port_is_not_reported_busy() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert demo.port_busy(port) is None
