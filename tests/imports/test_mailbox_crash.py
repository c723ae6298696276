"""``kill -9`` in the middle of a mailbox (MBOX) import, then the same import again: every message
is in the vault exactly once, the rerun counts what the killed run wrote as known, and ``vault verify``
finds every record in the chain (the killed run closed by the rerun, see
:meth:`vault.Vault.close_interrupted_runs`)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from capstone.imports.service import SPAN_PROCESSES_FROM, WRITER_PROCESSES
from capstone.services import open_vault
from capstone.settings import Settings
from tests.access import admin_config
from tests.imports.conftest import ROLES, World
from vault.layout import MANIFEST_PREFIX
from vault.vault import CHECKPOINT_RECORDS

MESSAGES = 12_000


def _write_mbox(path: Path, messages: int, repeats: int = 24) -> None:
    """Distinct messages of about 2 kB each (``repeats`` 24; a body line per message number)."""
    filler = "Overleg over de begroting en de fietsbrug, zie bijlage en eerdere notities. " * repeats
    with path.open("w", encoding="utf-8") as out:
        for n in range(messages):
            out.write(
                f"From import@localhost Mon Jan  5 09:{n % 60:02d}:00 2015\n"
                f"From: Afzender {n % 31} <afzender{n % 31}@gemeente-demo.nl>\n"
                "To: Marieke van Dalen <burgemeester@gemeente-demo.nl>\n"
                f"Subject: Historisch bericht {n}\nDate: Mon, 5 Jan 2015 09:{n % 60:02d}:00 +0000\n"
                f"Message-ID: <hist-{n}@crash.gemeente-demo.nl>\n\nBericht {n}.\n{filler}\n\n"
            )


def _cli(world: World, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAPSTONE_")}
    env.update(CAPSTONE_HOME=str(world.home), CAPSTONE_CONFIG=str(admin_config(world.home, "ali", ROLES)))
    return subprocess.Popen(
        [sys.executable, "-m", "capstone.cli.main", *args], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _segments(home: Path) -> int:
    return sum(1 for _ in (home / "vault" / "segments").rglob("*.jsonl"))


def _imported(home: Path) -> list[str]:
    vault = open_vault(Settings(home=home))
    try:
        return [
            r.record_id
            for r in vault.iter_records("mail-message")
            if (r.source or {}).get("system") == "mailbox-import"
        ]
    finally:
        vault.close()


@pytest.mark.slow
@pytest.mark.parametrize("writers", ["threads", "processes"])
def test_kill_9_mid_mailbox_import_then_rerun_writes_each_message_once(
    world: World, tmp_path: Path, writers: str
) -> None:
    """Also with the blobs written by writer processes (an MBOX of SPAN_PROCESSES_FROM or more):
    killed with their importer, they leave no blob without its record that the rerun misses."""
    mbox = tmp_path / "historisch.mbox"
    _write_mbox(mbox, MESSAGES, repeats=24 if writers == "threads" else 80)
    assert (mbox.stat().st_size >= SPAN_PROCESSES_FROM) == (writers == "processes")
    args = ("import", "mailbox", "--designation", "P-1001", "--no-index", "--json", str(mbox))
    baseline = _segments(world.home)
    process = _cli(world, *args)
    deadline = time.monotonic() + 120
    while _segments(world.home) < baseline + 3 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert process.poll() is None, "the import finished before it could be killed: make it bigger"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()

    partial = len(_imported(world.home))
    assert 0 < partial < MESSAGES

    rerun = _cli(world, *args)
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    report = json.loads(out)
    assert report["complete"] and report["known"] == partial and report["new_messages"] == MESSAGES - partial
    assert report["duplicates_of_capture"] == 0  # the killed run's own records are not "capture"
    assert report["writer_processes"] == (WRITER_PROCESSES if writers == "processes" else 0)

    held = _imported(world.home)
    assert len(held) == MESSAGES == len(set(held))
    verify = world.run("ali", "vault", "verify", "--json")
    assert verify.exit_code == 0, verify.output
    vault = open_vault(Settings(home=world.home))
    try:
        kinds = [vault.read_manifest(m.key).get("kind") for m in vault.store.list(MANIFEST_PREFIX)]
    finally:
        vault.close()
    # One closing manifest; the killed run's records are in the chain through its checkpoints and,
    # for what it wrote after the last one, an interrupted-run manifest.
    assert kinds.count("mailbox-import-run") == 1
    if partial < CHECKPOINT_RECORDS:  # no checkpoint listed the killed run's records: the rerun did
        assert kinds.count("interrupted-run") == 1
