"""The audit chain's head, kept in the write-once vault after every entry (issue 16).

A seal copies whole entries into the vault, but only now and then; between seals an insider with
database access could cut the newest entries (the tail) or rewrite them with recomputed hashes and
nothing would notice. So every entry, as soon as it is committed, also writes one small *anchor*
into the vault: ``anchors/audit/heads/<seq:012d>`` holding its sequence number and hash. Anchors are
put-if-absent and locked like every vault object, so the database cannot rewind past them:
``verify`` fails when the vault knows a newer head than the database, or a different hash for an
entry (the chain links every earlier entry to it).

Writing an anchor is one small object per entry (bounded overhead: no listing, no catalog). A vault
that cannot be reached loses no entry: the entry stays in the database, the failure is logged, and
the next anchor (or seal) covers it through the chain; ``verify`` reports how far the log is anchored.

Example::

    anchors = AuditAnchors(lambda: open_vault(settings, sync=False))
    anchors.write(entry)                  # after the entry's transaction committed
    heads = read_anchors(vault)           # {seq: Anchor}, for verify
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from capstone.logging import get_logger
from vault import Vault, VaultConflictError, VaultError, VaultNotInitialisedError
from vault.records import canonical_json

log = get_logger("audit")

ANCHOR_FORMAT = "capstone-audit-anchor/1"
HEADS = "audit/heads/"


class ChainLink(Protocol):
    @property
    def seq(self) -> int: ...
    @property
    def at(self) -> str: ...
    @property
    def entry_hash(self) -> str: ...


@dataclass(frozen=True)
class Anchor:
    seq: int
    entry_hash: str
    at: str


def anchor_name(seq: int) -> str:
    return f"{HEADS}{seq:012d}"


def anchor_bytes(entry: ChainLink) -> bytes:
    return canonical_json(
        {"format": ANCHOR_FORMAT, "seq": entry.seq, "entry_hash": entry.entry_hash, "at": entry.at}
    )


def read_anchors(vault: Vault) -> tuple[dict[int, Anchor], list[str]]:
    """Every audit head anchored in ``vault`` by sequence number, and the names of unreadable ones."""
    anchors: dict[int, Anchor] = {}
    unreadable: list[str] = []
    for name, data in vault.iter_anchors(HEADS):
        try:
            doc = json.loads(data)
            anchor = Anchor(int(doc["seq"]), str(doc["entry_hash"]), str(doc["at"]))
            if doc.get("format") != ANCHOR_FORMAT or anchor_name(anchor.seq) != name:
                raise ValueError("not an audit anchor for its name")
        except (ValueError, KeyError, TypeError):
            unreadable.append(name)
            continue
        anchors[anchor.seq] = anchor
    return anchors, unreadable


class AuditAnchors:
    """Writes the anchor of each new entry; opens the vault on first use (thread-safe)."""

    def __init__(self, opener: Callable[[], Vault]) -> None:
        self._opener = opener
        self._vault: Vault | None = None
        self._lock = threading.Lock()

    def _open(self) -> Vault:
        if self._vault is None:
            self._vault = self._opener()  # not cached on failure: the next entry tries again
        return self._vault

    def write(self, entry: ChainLink) -> bool:
        """Anchor ``entry``; False (logged, never raised) when the vault could not take it."""
        with self._lock:
            try:
                self._open().put_anchor(anchor_name(entry.seq), anchor_bytes(entry))
            except VaultConflictError:
                # The vault already anchors a different entry under this number: the database lost
                # entries it had anchored. Loud, and found again by every `audit verify`.
                log.error("audit_anchor_conflict", seq=entry.seq)
                return False
            except VaultNotInitialisedError:
                log.debug("audit_anchor_skipped", seq=entry.seq, reason="no vault yet")
                return False
            except (VaultError, OSError) as exc:
                log.warning(
                    "audit_anchor_failed", seq=entry.seq, error=type(exc).__name__, detail=str(exc)[:200]
                )
                return False
            return True

    def close(self) -> None:
        with self._lock:
            if self._vault is not None:
                self._vault.close()
                self._vault = None
