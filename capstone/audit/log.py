"""An append-only, hash-chained audit log, sealed into the vault.

Every entry names who did what, in which role and Woo case, with what outcome, and carries the SHA-256
of the entry before it; the database refuses UPDATE and DELETE. ``seal`` writes the entries since the
last seal into the write-once vault (an ``audit-seal`` record), so even someone who rewrites the
database *and* recomputes the chain is caught by ``verify``: the sealed copies no longer match.
Between seals, every entry anchors the chain's head in the vault as soon as it is committed (see
:mod:`capstone.audit.anchors`), so cutting the newest entries is caught too; with a timestamp
authority configured each seal also carries an RFC 3161 token (see :mod:`capstone.audit.timestamp`).

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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError

from capstone import __version__
from capstone.audit.anchors import AuditAnchors, read_anchors
from capstone.audit.tables import audit_log
from capstone.audit.timestamp import (
    REPLY_TYPE,
    TimestampAuthority,
    TimestampError,
    Trust,
    load_trust,
    verify_reply,
)
from capstone.db.engine import write_transaction
from capstone.logging import get_logger
from vault import Record, Vault, VaultError, VaultIntegrityError
from vault.records import canonical_json, sha256_hex

log = get_logger("audit")

GENESIS = "0" * 64
SEAL_KIND = "audit-seal"
SEAL_FORMAT = "capstone-audit-seal/1"
TIMESTAMP_KIND = "audit-timestamp"
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
    anchors: int = 0
    anchored_through: int = 0
    timestamped: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # how far the log is protected; not failures

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
            "anchors": self.anchors,
            "anchored_through": self.anchored_through,
            "timestamped": self.timestamped,
            "problems": self.problems,
            "notes": self.notes,
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


def _ranges(numbers: list[int]) -> str:
    """``[3, 4, 5, 9]`` -> ``"3..5, 9"``."""
    parts: list[str] = []
    start = previous = numbers[0]
    for n in [*numbers[1:], None]:
        if n is not None and n == previous + 1:
            previous = n
            continue
        parts.append(str(start) if start == previous else f"{start}..{previous}")
        if n is not None:
            start = previous = n
    return ", ".join(parts)


class AuditLog:
    """``anchors``: where each new entry anchors the chain head (the vault); ``timestamper``: the
    TSA that stamps seals; ``tsa_trust_file``: the PEM certificates ``verify`` checks stamps with."""

    def __init__(
        self,
        engine: Engine,
        *,
        anchors: AuditAnchors | None = None,
        timestamper: TimestampAuthority | None = None,
        tsa_trust_file: Path | None = None,
    ) -> None:
        self.engine = engine
        self.anchors = anchors
        self.timestamper = timestamper
        self.tsa_trust_file = tsa_trust_file

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
                if self.anchors is not None:
                    self.anchors.write(entry)  # the new head, into the write-once vault
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
        """Write the entries since the last seal into the vault; None when there is nothing new.

        With a timestamp authority, its token over the seal document's SHA-256 is stored as an
        ``audit-timestamp`` record beside the seal (a TSA that fails is logged; the seal is written
        without a token rather than not at all)."""
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
        data = canonical_json(document)
        run_id = f"audit-seal-{uuid.uuid4().hex[:12]}"
        capture = {
            "run_id": run_id,
            "connector": "capstone-audit",
            "connector_version": __version__,
            "captured_at": datetime.now(UTC).isoformat(),
            "host": socket.gethostname(),
            "actor": actor,
        }
        records: list[Record] = []
        extra: dict[str, Any] = {}
        if self.timestamper is not None:
            try:
                reply = self.timestamper.stamp(data)
            except TimestampError as exc:
                log.error("audit_timestamp_failed", to_seq=document["to_seq"], detail=str(exc)[:300])
            else:
                token = vault.put_blob(reply, media_type=REPLY_TYPE)
                extra["timestamp"] = {"tsa": self.timestamper.url, "reply_sha256": token.sha256}
                records.append(
                    Record(
                        kind=TIMESTAMP_KIND,
                        source={"system": "capstone-audit", "seal_sha256": sha256_hex(data)},
                        capture=capture,
                        blob_sha256=token.sha256,
                        size=token.size,
                        media_type=REPLY_TYPE,
                    )
                )
        blob = vault.put_blob(data, media_type="application/json")
        record = Record(
            kind=SEAL_KIND,
            source={
                "system": "capstone-audit",
                "from_seq": document["from_seq"],
                "to_seq": document["to_seq"],
                "head_hash": document["head_hash"],
            },
            capture=capture,
            blob_sha256=blob.sha256,
            size=blob.size,
            media_type="application/json",
            extra=extra,
        )
        vault.put_records([record, *records])
        vault.write_manifest(run_id, kind="audit-seal", summary={"to_seq": document["to_seq"]})
        log.info(
            "audit_sealed", from_seq=document["from_seq"], to_seq=document["to_seq"],
            timestamped="timestamp" in extra,
        )  # fmt: skip
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
            self._check_anchors(vault, stored, report, bad)
            self._check_timestamps(vault, seals, report)
        return report

    @staticmethod
    def _check_anchors(
        vault: Vault, stored: dict[int, str], report: AuditReport, bad: Callable[[int, str], None]
    ) -> None:
        """The heads anchored in the vault against the database: a newer head than the database's
        is a cut tail; a different hash is a rewritten entry (even with every hash recomputed)."""
        try:
            anchors, unreadable = read_anchors(vault)
        except VaultError as exc:
            report.problems.append(f"the audit anchors cannot be read: {exc}")
            return
        for name in unreadable:
            report.problems.append(f"the audit anchor {name} in the vault is unreadable or altered")
        report.anchors = len(anchors)
        report.anchored_through = max(anchors, default=0)
        last = max(stored, default=0)
        rewritten = sorted(s for s, a in anchors.items() if s in stored and stored[s] != a.entry_hash)
        if rewritten:
            bad(
                rewritten[0],
                f"entries {_ranges(rewritten)} differ from the chain head the vault anchored for them: "
                "the log was rewritten after they were written",
            )
        if report.anchored_through > last:
            bad(
                last + 1,
                f"the log ends at entry {last}, but the vault anchors its head at entry "
                f"{report.anchored_through}: entries {last + 1}..{report.anchored_through} were cut from "
                "its end",
            )
        loose = sorted(s for s in stored if s > report.anchored_through)
        if loose:
            report.notes.append(
                f"entries {_ranges(loose)} are not anchored in the vault (it could not be reached when "
                "they were written); a seal covers them: `capstone audit seal`"
                if loose[-1] > report.sealed_through
                else f"entries {_ranges(loose)} are not anchored in the vault, but sealed"
            )

    def _check_timestamps(
        self, vault: Vault, seals: list[tuple[Record, dict[str, Any]]], report: AuditReport
    ) -> None:
        """Every seal's RFC 3161 token against the trusted TSA certificates."""
        stamped = [
            (record, record.extra["timestamp"]) for record, _ in seals if record.extra.get("timestamp")
        ]
        unstamped = len(seals) - len(stamped)
        if unstamped and self.timestamper is None:
            report.notes.append(
                f"{unstamped} seal(s) carry no trusted timestamp: no timestamp authority is configured "
                "(CAPSTONE_TSA_URL)"
            )
        elif unstamped:
            report.notes.append(
                f"{unstamped} seal(s) carry no trusted timestamp (made without a TSA, or the TSA failed)"
            )
        if not stamped:
            return
        trust: Trust | None = None
        if self.tsa_trust_file is None:
            report.notes.append(
                f"{len(stamped)} seal timestamp(s) not checked: no TSA certificates (CAPSTONE_TSA_CA_FILE)"
            )
            return
        try:
            trust = load_trust(self.tsa_trust_file)
        except TimestampError as exc:
            report.problems.append(f"the seal timestamps cannot be checked: {exc}")
            return
        for record, stamp in stamped:
            through = record.source.get("to_seq")
            try:
                reply = vault.read_blob(str(stamp["reply_sha256"]))
                verify_reply(reply, str(record.blob_sha256), trust)
            except (KeyError, VaultError) as exc:
                report.problems.append(f"the timestamp of the seal through entry {through} is missing: {exc}")
            except TimestampError as exc:
                report.problems.append(
                    f"the timestamp of the seal through entry {through} does not verify: {exc}"
                )
            else:
                report.timestamped += 1
