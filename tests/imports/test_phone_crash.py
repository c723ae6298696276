"""``kill -9`` in the middle of a phone import, then the same import again: every message is in the
vault exactly once and the run's records are in the manifest chain (``vault verify`` passes)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from capstone.imports.generate import whatsapp_android
from capstone.services import open_vault
from capstone.settings import Settings
from tests.access import admin_config
from tests.imports.conftest import ROLES, World

MESSAGES = 12_000


def _cli(world: World, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAPSTONE_")}
    env.update(CAPSTONE_HOME=str(world.home), CAPSTONE_CONFIG=str(admin_config(world.home, "ali", ROLES)))
    return subprocess.Popen(
        [sys.executable, "-m", "capstone.cli.main", *args], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _segments(home: Path) -> int:
    return sum(1 for _ in (home / "vault" / "segments").rglob("*.jsonl"))


@pytest.mark.slow
def test_kill_9_mid_import_then_rerun_writes_each_message_once(world: World, tmp_path: Path) -> None:
    export = whatsapp_android(
        tmp_path / "export", messages=MESSAGES, official="Marieke van Dalen", media_every=500
    )
    args = (
        "import",
        "phone",
        "--official",
        "P-1001",
        "--device",
        "Samsung dienst",
        "--no-index",
        "--json",
        str(export),
    )
    baseline = _segments(world.home)
    process = _cli(world, *args)
    deadline = time.monotonic() + 120
    while _segments(world.home) < baseline + 4 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert process.poll() is None, "the import finished before it could be killed: make it bigger"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()

    vault = open_vault(Settings(home=world.home))
    partial = sum(1 for _ in vault.iter_records("phone-chat-message"))
    vault.close()
    assert 0 < partial < MESSAGES

    rerun = _cli(world, *args)
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    [report] = json.loads(out)["imports"]
    assert report["complete"] and report["known"] == partial and report["new"] == MESSAGES - partial

    vault = open_vault(Settings(home=world.home))
    try:
        held = list(vault.iter_records("phone-chat-message"))
    finally:
        vault.close()
    assert len(held) == MESSAGES and len({r.source["message_key"] for r in held}) == MESSAGES
    verify = world.run("ali", "vault", "verify", "--json")
    assert verify.exit_code == 0, verify.output
