"""What the export and the publication package share to check a folder they wrote: a streamed
SHA-256 of each file, and the result of checking the folder (files seen, problems found)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_CHUNK = 1 << 20


def sha256_of_file(path: Path) -> tuple[str, int]:
    """The SHA-256 (hex) and size of the file at ``path``, read in 1 MiB pieces."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


@dataclass
class DirectoryCheck:
    """The verification of one written folder (an export or a publication package)."""

    directory: str
    files: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {"directory": self.directory, "ok": self.ok, "files": self.files, "problems": self.problems}
