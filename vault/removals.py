"""Records that account for a blob the vault no longer holds (issue 21).

A blob leaves the vault only through the retention lifecycle, and only after a record saying why was
written into the chain: a ``retention-exclusion`` record (a confirmed privé/partijpolitiek exclusion
whose provisional lock lapsed) or a ``destruction`` record (a *V* object destroyed at the end of its
term under an approved vernietigingslijst). These records name the blob's SHA-256 in
``extra["sha256"]`` and never carry ``blob_sha256`` (they have no content of their own).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vault.vault import Vault

EXCLUSION_KIND = "retention-exclusion"
DESTRUCTION_KIND = "destruction"
REMOVAL_KINDS = (EXCLUSION_KIND, DESTRUCTION_KIND)


def accounted_removals(vault: Vault) -> dict[str, str]:
    """SHA-256 of every blob a removal record accounts for -> the record's kind."""
    found: dict[str, str] = {}
    for kind in REMOVAL_KINDS:
        for record in vault.iter_records(kind):
            sha = record.extra.get("sha256")
            if isinstance(sha, str):
                found[sha] = kind
    return found
