"""Logs go to stderr with secrets masked, even when nothing configured logging (library use, or a
CLI group invoked on its own): stdout carries the CLI's ``--json`` documents."""

from __future__ import annotations

import subprocess
import sys

PROGRAM = """
from capstone.logging import get_logger
get_logger("t").info("token_fetched", client_secret="s3cr3t-value", items=3)
"""


def test_unconfigured_logging_goes_to_stderr_masked() -> None:
    done = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True, check=True)
    assert done.stdout == ""
    assert "token_fetched" in done.stderr and "items" in done.stderr
    assert "s3cr3t-value" not in done.stderr
