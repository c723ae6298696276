"""Renditions and redacted PDFs stored in the vault as derived records.

A derived record is a write-once record like any other: its PDF is a content-addressed blob, the
record names its kind (:data:`RENDITION` or :data:`REDACTED`), the record it was derived from, the
document within it (an attachment is ``<record_id>:<N>``), the case, the officer, the grounds, the
marks and the tool versions, and a manifest of its own run lists it, so ``vault verify`` finds it in
the hash chain. The original record and blob are only read, never touched.

The record id follows from the kind, the PDF's SHA-256 and the source identity (derived-from
record, document, case): storing the same PDF for the same document and case again writes nothing
new and returns the existing record (``created`` False).
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from capstone import __version__
from capstone.woo.pdf.marks import RedactionMark, validate_grounds
from vault import Record, Vault

RENDITION = "woo-rendition"
REDACTED = "woo-redacted"
DERIVED_KINDS = (RENDITION, REDACTED)
MANIFEST_KIND = "woo-derived"
CONNECTOR = "woo-pdf"


class DerivedRecordError(ValueError):
    """A derived record that cannot be stored (nothing is written)."""


@dataclass(frozen=True)
class DerivedRecord:
    record_id: str
    kind: str
    blob_sha256: str
    size: int
    source_record_id: str
    document_id: str
    case_ref: str
    created: bool  # False: the vault already held this record (a replay)
    manifest_key: str | None  # the manifest of the run that listed it (None for a replay)


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def derived_record(
    pdf_sha256: str,
    size: int,
    *,
    kind: str,
    source: Record,
    document_id: str,
    case_ref: str,
    officer: str,
    grounds: Sequence[str],
    tool_versions: Mapping[str, str],
    marks: Sequence[RedactionMark],
    run_id: str,
    pdfa: str | None,
    also_from: Sequence[str] = (),
) -> Record:
    """The record (not yet stored) for a derived PDF; see :func:`store_derived`."""
    identity = {
        "system": "capstone-woo",
        "derived_from": source.record_id,
        "document": document_id,
        "case": case_ref,
    }
    return Record(
        kind=kind,
        blob_sha256=pdf_sha256,
        size=size,
        media_type="application/pdf",
        source=identity,
        source_identity=identity,
        capture={
            "run_id": run_id,
            "connector": CONNECTOR,
            "connector_version": __version__,
            "captured_at": _now(),
            "host": socket.gethostname(),
        },
        designation=source.designation,
        retention_class=source.retention_class,
        extra={
            "case": case_ref,
            "officer": officer,
            "grounds": list(grounds),
            "marks": [m.to_json() for m in marks],
            "tool_versions": dict(tool_versions),
            "pdfa": pdfa,
            "source_kind": source.kind,
            "source_blob_sha256": source.blob_sha256,
            "also_from": list(also_from),
        },
    )


def store_derived(
    vault: Vault,
    pdf: bytes,
    *,
    kind: str,
    source_record_id: str,
    case_ref: str,
    officer: str,
    document_id: str | None = None,
    grounds: Sequence[str] = (),
    marks: Sequence[RedactionMark] = (),
    tool_versions: Mapping[str, str] | None = None,
    pdfa: str | None = None,
    run_id: str | None = None,
    also_from: Sequence[str] = (),
) -> DerivedRecord:
    """Store ``pdf`` as a derived record of ``source_record_id`` and list it in a manifest of its
    own run (kind :data:`MANIFEST_KIND`). ``also_from`` names the other records a rendition was
    made from (a chat's transcript: every message version); each must be in the vault. A redacted PDF names its grounds (those of ``marks`` are
    added); every ground is validated. Raises :class:`DerivedRecordError` before writing anything
    when the source record is not in the vault, the kind is unknown, the bytes are not a PDF, or a
    redacted PDF names no ground."""
    if kind not in DERIVED_KINDS:
        raise DerivedRecordError(f"unknown derived kind {kind!r}; expected one of {', '.join(DERIVED_KINDS)}")
    if not pdf.startswith(b"%PDF-"):
        raise DerivedRecordError("not a PDF: a derived record holds a PDF rendition or redaction")
    if not case_ref.strip() or not officer.strip():
        raise DerivedRecordError("a derived record needs the case and the officer")
    try:
        all_grounds = validate_grounds([*grounds, *(m.ground for m in marks)])
    except ValueError as exc:
        raise DerivedRecordError(str(exc)) from None
    if kind == REDACTED and not all_grounds:
        raise DerivedRecordError("a redacted PDF must name the grounds of its redactions")
    source = vault.get_record(source_record_id)
    if source is None:
        raise DerivedRecordError(f"source record {source_record_id} is not in the vault")
    if source.kind in DERIVED_KINDS:
        origin = str((source.source or {}).get("derived_from") or "")
        raise DerivedRecordError(
            f"derive from the original record {origin or '(unknown)'}, not from a derived one"
        )
    absent = [r for r in also_from if not vault.has_record(r)]
    if absent:
        raise DerivedRecordError(f"record {absent[0]} is not in the vault")
    document = document_id or source_record_id
    if document != source_record_id and not document.startswith(source_record_id + ":"):
        raise DerivedRecordError(f"document {document} is not part of record {source_record_id}")
    run = run_id or f"woo-derived-{uuid.uuid4().hex}"
    blob = vault.put_blob(pdf, media_type="application/pdf", retention_class=source.retention_class)
    record = derived_record(
        blob.sha256,
        blob.size,
        kind=kind,
        source=source,
        document_id=document,
        case_ref=case_ref,
        officer=officer,
        grounds=all_grounds,
        tool_versions=tool_versions or {},
        marks=marks,
        run_id=run,
        pdfa=pdfa,
        also_from=also_from,
    )
    (ref,) = vault.put_records([record])
    manifest = None
    if ref.created:
        manifest = vault.write_manifest(
            run,
            [ref],
            kind=MANIFEST_KIND,
            summary={"kind": kind, "case": case_ref, "officer": officer, "derived_from": source_record_id},
        ).key
    return DerivedRecord(
        record_id=ref.record_id,
        kind=kind,
        blob_sha256=blob.sha256,
        size=blob.size,
        source_record_id=source_record_id,
        document_id=document,
        case_ref=case_ref,
        created=ref.created,
        manifest_key=manifest,
    )


def derived_of(vault: Vault, source_record_id: str, *, kind: str | None = None) -> Iterator[Record]:
    """The derived records of ``source_record_id`` (of ``kind``, else both kinds)."""
    for each in (kind,) if kind else DERIVED_KINDS:
        for record in vault.iter_records(each):
            if (record.source or {}).get("derived_from") == source_record_id:
                yield record


def describe(record: Record) -> dict[str, Any]:
    """What a derived record says, for listings (no content)."""
    extra = record.extra or {}
    return {
        "record_id": record.record_id,
        "kind": record.kind,
        "blob_sha256": record.blob_sha256,
        "size": record.size,
        "derived_from": (record.source or {}).get("derived_from"),
        "document": (record.source or {}).get("document"),
        "case": extra.get("case"),
        "officer": extra.get("officer"),
        "grounds": extra.get("grounds", []),
        "tool_versions": extra.get("tool_versions", {}),
        "captured_at": (record.capture or {}).get("captured_at"),
    }


__all__ = [
    "DERIVED_KINDS",
    "MANIFEST_KIND",
    "REDACTED",
    "RENDITION",
    "DerivedRecord",
    "DerivedRecordError",
    "derived_of",
    "derived_record",
    "describe",
    "store_derived",
]
