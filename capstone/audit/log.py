"""An append-only, hash-chained audit log, sealed into the vault.

Every entry names who did what, in which role and Woo case, with what outcome, and carries the SHA-256
of the entry before it; the database refuses UPDATE and DELETE. ``seal`` writes the entries since the
last seal into the write-once vault (an ``audit-seal`` record), so even someone who rewrites the
database *and* recomputes the chain is caught by ``verify``: the sealed copies no longer match.

Example::

    log = AuditLog(engine)
    log.append(actor="anna", role="woo-officer", action="search", case_ref="WOO-2026-014",
               outcome="allowed", detail={"query": "fietsbrug", "results": 12})
    log.seal(vault)
    report = log.verify(vault)        # report.ok, report.first_bad_seq, report.problems
"""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError

from capstone import __version__
from capstone.audit.tables import audit_log
from capstone.db.engine import write_transaction
from capstone.logging import get_logger
from vault import Record, Vault, VaultError, VaultIntegrityError
from vault.records import canonical_json, sha256_hex

log = get_logger("audit")

GENESIS = "0" * 64
SEAL_KIND = "audit-seal"
SEAL_FORMAT = "capstone-audit-seal/1"
_APPEND_RETRIES = 10


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: str
    actor: str
    role: str | None
    action: str
    case_ref: str | None
    outcome: str  # allowed | refused
    detail: dict[str, Any]
    prev_hash: str
    entry_hash: str

    def body(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at,
            "actor": self.actor,
            "role": self.role,
            "action": self.action,
            "case_ref": self.case_ref,
            "outcome": self.outcome,
            "detail": self.detail,
            "prev_hash": self.prev_hash,
        }

    def computed_hash(self) -> str:
        return sha256_hex(canonical_json(self.body()))

    def to_json(self) -> dict[str, Any]:
        return self.body() | {"entry_hash": self.entry_hash}


@dataclass
class AuditReport:
    entries: int = 0
    seals: int = 0
    sealed_through: int = 0
    first_bad_seq: int | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "seals": self.seals,
            "sealed_through": self.sealed_through,
            "first_bad_seq": self.first_bad_seq,
            "problems": self.problems,
        }


def _row_entry(row: Any) -> AuditEntry:
    return AuditEntry(
        seq=row.seq,
        at=row.at,
        actor=row.actor,
        role=row.role,
        action=row.action,
        case_ref=row.case_ref,
        outcome=row.outcome,
        detail=json.loads(row.detail),
        prev_hash=row.prev_hash,
        entry_hash=row.entry_hash,
    )


class AuditLog:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def append(
        self,
        *,
        actor: str,
        role: str | None,
        action: str,
        case_ref: str | None,
        outcome: str,
        detail: dict[str, Any],
    ) -> AuditEntry:
        """Add one entry at the head of the chain (retried when another writer took the sequence)."""
        for _ in range(_APPEND_RETRIES):
            try:
                with write_transaction(self.engine) as conn:
                    head = conn.execute(
                        select(audit_log.c.seq, audit_log.c.entry_hash)
                        .order_by(audit_log.c.seq.desc())
                        .limit(1)
                    ).first()
                    seq, prev = (1, GENESIS) if head is None else (head.seq + 1, head.entry_hash)
                    draft = AuditEntry(
                        seq,
                        datetime.now(UTC).isoformat(),
                        actor,
                        role,
                        action,
                        case_ref,
                        outcome,
                        json.loads(canonical_json(detail)),
                        prev,
                        "",
                    )
                    entry = AuditEntry(**{**draft.__dict__, "entry_hash": draft.computed_hash()})
                    conn.execute(
                        audit_log.insert().values(
                            seq=entry.seq,
                            at=entry.at,
                            actor=actor,
                            role=role,
                            action=action,
                            case_ref=case_ref,
                            outcome=outcome,
                            detail=canonical_json(entry.detail).decode(),
                            prev_hash=prev,
                            entry_hash=entry.entry_hash,
                        )
                    )
                log.debug("audit_appended", seq=entry.seq, actor=actor, action=action, outcome=outcome)
                return entry
            except IntegrityError:
                continue  # a concurrent writer appended the same sequence number: read the new head
        raise RuntimeError("could not append to the audit log: the head kept moving")

    def entries(self, *, since: int = 0, case_ref: str | None = None) -> Iterator[AuditEntry]:
        query = select(audit_log).where(audit_log.c.seq > since).order_by(audit_log.c.seq)
        if case_ref is not None:
            query = query.where(audit_log.c.case_ref == case_ref)
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                yield _row_entry(row)

    def head(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.coalesce(func.max(audit_log.c.seq), 0))).scalar_one())

    # -- sealing into the vault -------------------------------------------------------------------

    @staticmethod
    def _seals(vault: Vault) -> list[tuple[Record, dict[str, Any]]]:
        seals = []
        for record in vault.iter_records(kind=SEAL_KIND):
            if record.blob_sha256:
                try:
                    document = json.loads(vault.read_blob(record.blob_sha256))
                except KeyError:
                    raise VaultIntegrityError(
                        f"the audit seal through entry {record.source.get('to_seq')} is missing its "
                        f"blob {record.blob_sha256}: run `capstone vault verify`"
                    ) from None
                seals.append((record, document))
        seals.sort(key=lambda pair: int(pair[0].source["to_seq"]))
        return seals

    def seal(self, vault: Vault, *, actor: str = "capstone") -> Record | None:
        """Write the entries since the last seal into the vault; None when there is nothing new."""
        sealed = max((int(r.source["to_seq"]) for r in vault.iter_records(kind=SEAL_KIND)), default=0)
        entries = [e.to_json() for e in self.entries(since=sealed)]
        if not entries:
            return None
        document = {
            "format": SEAL_FORMAT,
            "from_seq": entries[0]["seq"],
            "to_seq": entries[-1]["seq"],
            "head_hash": entries[-1]["entry_hash"],
            "entries": entries,
        }
        blob = vault.put_blob(canonical_json(document), media_type="application/json")
        run_id = f"audit-seal-{uuid.uuid4().hex[:12]}"
        record = Record(
            kind=SEAL_KIND,
            source={
                "system": "capstone-audit",
                "from_seq": document["from_seq"],
                "to_seq": document["to_seq"],
                "head_hash": document["head_hash"],
            },
            capture={
                "run_id": run_id,
                "connector": "capstone-audit",
                "connector_version": __version__,
                "captured_at": datetime.now(UTC).isoformat(),
                "host": socket.gethostname(),
                "actor": actor,
            },
            blob_sha256=blob.sha256,
            size=blob.size,
            media_type="application/json",
        )
        vault.put_records([record])
        vault.write_manifest(run_id, kind="audit-seal", summary={"to_seq": document["to_seq"]})
        log.info("audit_sealed", from_seq=document["from_seq"], to_seq=document["to_seq"])
        return record

    # -- verification -----------------------------------------------------------------------------

    def verify(self, vault: Vault | None = None) -> AuditReport:
        """Recompute the chain; with a vault, also compare every sealed entry with the database."""
        report = AuditReport()

        def bad(seq: int, problem: str) -> None:
            report.problems.append(problem)
            if report.first_bad_seq is None or seq < report.first_bad_seq:
                report.first_bad_seq = seq

        stored: dict[int, str] = {}
        previous, expected_seq = GENESIS, 1
        for entry in self.entries():
            report.entries += 1
            stored[entry.seq] = entry.entry_hash
            if entry.seq != expected_seq:
                bad(expected_seq, f"entries {expected_seq}..{entry.seq - 1} are missing")
            if entry.prev_hash != previous:
                bad(entry.seq, f"entry {entry.seq} does not chain to the entry before it")
            if entry.computed_hash() != entry.entry_hash:
                bad(entry.seq, f"entry {entry.seq} was altered: its content no longer matches its hash")
            previous, expected_seq = entry.entry_hash, entry.seq + 1
        if vault is not None:
            try:
                seals = self._seals(vault)
            except VaultError as exc:
                report.problems.append(f"the seals cannot be read: {exc}")
                seals = []
            for record, document in seals:
                report.seals += 1
                report.sealed_through = max(report.sealed_through, int(record.source["to_seq"]))
                for sealed in document["entries"]:
                    seq = int(sealed["seq"])
                    if seq not in stored:
                        bad(seq, f"entry {seq} is sealed in the vault but missing from the database")
                    elif stored[seq] != sealed["entry_hash"]:
                        bad(seq, f"entry {seq} differs from its sealed copy in the vault")
        return report
