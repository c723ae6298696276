"""The sanctioned way for a test to act as a role through the CLI: an administrator's configuration
file (owned by the account running the tests, which also owns the home; mode 0644), named by
``CAPSTONE_CONFIG``. ``CAPSTONE_USER``/``CAPSTONE_ROLES`` grant nothing (issue 16).

Example::

    env["CAPSTONE_CONFIG"] = str(admin_config(home, "anna", {"anna": ["woo-officer"]}))
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from capstone.fsmodes import private_dir


def admin_config(
    home: Path, user: str, roles: Mapping[str, Sequence[str]], *, directory: Path | None = None, **more: str
) -> Path:
    """Write ``<directory>/admin-<user>.toml`` naming ``user`` as the CLI identity with ``roles``
    (and other top-level settings ``more``); create ``home`` so its owner is the service account."""
    private_dir(home)
    where = directory or home.parent
    where.mkdir(parents=True, exist_ok=True)
    path = where / f"admin-{user}.toml"
    lines = [f"user = {json.dumps(user)}"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in more.items()]
    lines.append("[roles]")
    lines += [f"{json.dumps(name)} = {json.dumps(list(held))}" for name, held in roles.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.chmod(path, 0o644)
    return path
