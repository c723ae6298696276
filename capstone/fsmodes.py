"""Archived mail is for the service account only: the home is 0700, the state database and the
search index 0600 (SQLite gives its -wal/-shm files the database file's mode), vault objects 0400,
whatever the umask of the process that writes them.

Example::

    private_dir(settings.home)                     # created 0700, or tightened to 0700
    private_file(home / "capstone.sqlite3")        # created empty 0600 before SQLite opens it
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def _tighten(path: Path, mode: int) -> None:
    """``chmod`` to ``mode`` when the path is ours and allows more (another owner's file is left as
    its owner set it: changing it would fail, and reading it is that owner's decision)."""
    with contextlib.suppress(FileNotFoundError):
        info = path.stat()
        if info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) != mode:
            os.chmod(path, mode)


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) as 0700 directories; tighten ``path`` itself to 0700."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    for created in missing:
        _tighten(created, PRIVATE_DIR)  # mkdir's mode is masked by the umask; make it exact
    _tighten(path, PRIVATE_DIR)
    return path


def private_file(path: Path) -> Path:
    """Make ``path`` a 0600 file: created empty when missing (so a database opened next inherits the
    mode), tightened when it exists; SQLite's side files too."""
    if not path.parent.exists():
        private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        pass
    else:
        os.close(fd)
    for candidate in (path, *(path.with_name(path.name + suffix) for suffix in SQLITE_SIDE_FILES)):
        _tighten(candidate, PRIVATE_FILE)
    return path
