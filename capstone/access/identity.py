"""Who the CLI is. The CLI is not a security boundary: people work in the web application with
sign-in; the CLI is for the service account and administrators on the host. So the CLI acts as the
OS user running it (its effective uid), with the roles an administrator's configuration file grants
that name; that file may also name another identity (``user = "..."``, e.g. for automation).

Environment variables (``CAPSTONE_USER``, ``CAPSTONE_ROLES``) grant nothing: whoever runs the CLI
sets them. A configuration file that names the identity or grants roles is trusted only when the
caller cannot have written it: owned by root or by the service account (the owner of the home), not
writable by group or others, in a directory no one else can write to (or a sticky one).

Example::

    check_administrator_file(Path("/etc/capstone/capstone.toml"), Path("/var/lib/capstone"))
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

IGNORED_VARIABLES = ("CAPSTONE_USER", "CAPSTONE_ROLES")


class UntrustedConfigurationError(PermissionError):
    """A configuration file grants roles or names the identity, but the caller could have written it."""


def _owner(uid: int) -> str:
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def trusted_owners(home: Path) -> set[int]:
    """root, and the service account: the owner of the home (when it exists)."""
    owners = {0}
    with contextlib.suppress(OSError):
        owners.add(home.stat().st_uid)
    return owners


def check_administrator_file(path: Path, home: Path) -> None:
    """Raise :class:`UntrustedConfigurationError` unless ``path`` is an administrator's file."""
    owners = trusted_owners(home)
    who = " or ".join(sorted({_owner(uid) for uid in owners}))
    nodes = [(path, "file"), (path.absolute().parent, "directory"), (path.resolve().parent, "directory")]
    for node, what in nodes:
        info = node.stat()
        mode = stat.S_IMODE(info.st_mode)
        if info.st_uid not in owners:
            raise UntrustedConfigurationError(
                f"{path} grants roles or names the identity, but its {what} {node} is owned by "
                f"{_owner(info.st_uid)}, not by {who} (the service account owning {home}): refusing it"
            )
        if mode & 0o022 and not (what == "directory" and mode & stat.S_ISVTX):
            raise UntrustedConfigurationError(
                f"{path} grants roles or names the identity, but its {what} {node} is writable by group or "
                f"others (mode {mode:04o}): refusing it (chmod go-w)"
            )


def ignored_variables() -> list[str]:
    """The identity variables set in this environment, which grant nothing any more."""
    return [name for name in IGNORED_VARIABLES if os.environ.get(name)]
