"""Python child processes that run Capstone's own code (the MBOX count, the extraction sandbox):
this interpreter, with the code found where this process found it and never in the working
directory first (``-P``), so a folder there named ``capstone`` or ``vault`` is not imported in its
place. (``vault/spans.py`` starts its writers the same way; ``vault`` does not import ``capstone``.)"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

SOURCE_ROOT = str(Path(__file__).resolve().parent.parent)  # where the capstone package is


def python_command(*args: str) -> list[str]:
    """``python -P <args>`` with this interpreter."""
    return [sys.executable, "-P", *args]


def python_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment (with ``extra``), Capstone's code first on the child's path."""
    env = {**os.environ, **(extra or {})}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [SOURCE_ROOT, os.environ.get("PYTHONPATH")]))
    return env
