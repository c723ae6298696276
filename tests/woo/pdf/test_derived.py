"""Renditions and redacted PDFs as derived vault records (issue 19): write-once, listed by a
manifest of their own run so ``vault verify`` stays clean, the original untouched."""

from __future__ import annotations

from pathlib import Path

import pytest

from capstone.woo.pdf.derived import (
    MANIFEST_KIND,
    REDACTED,
    RENDITION,
    DerivedRecordError,
    derived_of,
    describe,
    store_derived,
)
from capstone.woo.pdf.marks import RedactionMark
from capstone.woo.pdf.redact import burn_in
from capstone.woo.pdf.render import render_mail
from tests.index.helpers import VaultWriter, mime
from vault import Vault, layout, open_vault
from vault.verify import verify_vault

PHONE = "06-12345678"


def seeded(vault: Vault) -> tuple[str, str, bytes]:
    writer = VaultWriter(vault)
    eml = mime(subject="Fietsbrug", body=f"Bel Ruud op {PHONE} over de fietsbrug.")
    record = writer.mail(eml)
    writer.write([record])
    assert record.blob_sha256 is not None
    return record.record_id, record.blob_sha256, eml


def counts(vault: Vault) -> tuple[int, int, int]:
    return tuple(
        len(list(vault.store.list(p)))
        for p in (layout.BLOB_PREFIX, layout.SEGMENT_PREFIX, layout.MANIFEST_PREFIX)
    )  # type: ignore[return-value]


def test_rendition_and_redaction_are_derived_records_and_verify_stays_clean(
    vault: Vault, vault_url: str, tmp_path: Path
) -> None:
    record_id, blob_sha, eml = seeded(vault)
    original = vault.get_record(record_id)
    rendition = render_mail(eml)
    assert rendition.pdf is not None
    stored = store_derived(
        vault,
        rendition.pdf,
        kind=RENDITION,
        source_record_id=record_id,
        case_ref="Z/2026/001234",
        officer="woo-officer@gemeente-test.nl",
        tool_versions=rendition.tool_versions,
        pdfa=rendition.pdfa,
    )
    assert stored.created and stored.manifest_key is not None and stored.document_id == record_id
    marks = [RedactionMark(ground="5.1.2e", text=PHONE)]
    redacted_pdf = burn_in(rendition.pdf, marks)
    redacted = store_derived(
        vault,
        redacted_pdf,
        kind=REDACTED,
        source_record_id=record_id,
        case_ref="Z/2026/001234",
        officer="woo-officer@gemeente-test.nl",
        marks=marks,
        tool_versions={**rendition.tool_versions, "pymupdf": "x"},
    )
    assert redacted.record_id != stored.record_id and redacted.blob_sha256 != stored.blob_sha256

    record = vault.get_record(redacted.record_id)
    assert record is not None and record.kind == REDACTED and record.media_type == "application/pdf"
    assert record.source["derived_from"] == record_id and record.source["case"] == "Z/2026/001234"
    assert record.extra["officer"] == "woo-officer@gemeente-test.nl" and record.extra["grounds"] == ["5.1.2e"]
    assert (
        record.extra["marks"] == [m.to_json() for m in marks]
        and record.extra["tool_versions"]["pymupdf"] == "x"
    )
    assert record.designation == original.designation if original else False
    assert vault.read_blob(redacted.blob_sha256) == redacted_pdf
    manifest = vault.read_manifest(redacted.manifest_key or "")
    assert manifest["kind"] == MANIFEST_KIND and [r[0] for r in manifest["records"]] == [redacted.record_id]
    assert describe(record)["grounds"] == ["5.1.2e"]
    assert {r.record_id for r in derived_of(vault, record_id)} == {stored.record_id, redacted.record_id}
    assert [r.record_id for r in derived_of(vault, record_id, kind=RENDITION)] == [stored.record_id]

    # The original is untouched: same record, same bytes.
    assert vault.get_record(record_id) == original
    assert vault.read_blob(blob_sha) == eml

    # Write-once and idempotent: the same PDF again writes nothing new.
    before = counts(vault)
    again = store_derived(
        vault,
        redacted_pdf,
        kind=REDACTED,
        source_record_id=record_id,
        case_ref="Z/2026/001234",
        officer="other",
        marks=marks,
    )
    assert again.record_id == redacted.record_id and not again.created and again.manifest_key is None
    assert counts(vault) == before

    assert verify_vault(vault).all_well
    other_host = open_vault(vault_url, cache_dir=tmp_path / "other-host", staging_dir=tmp_path / "staging-2")
    report = verify_vault(other_host)
    assert report.all_well, report.to_json()
    assert report.records == 3


def test_bad_derived_records_are_refused_and_nothing_is_written(local_vault: Vault) -> None:
    record_id, _, eml = seeded(local_vault)
    pdf = render_mail(eml).pdf
    assert pdf is not None
    stored = store_derived(
        local_vault, pdf, kind=RENDITION, source_record_id=record_id, case_ref="2026-0147", officer="o"
    )
    before = counts(local_vault)
    base = {"source_record_id": record_id, "case_ref": "2026-0147", "officer": "o"}
    refused = [
        ({"kind": "woo-summary"}, "unknown derived kind"),
        ({"kind": REDACTED}, "must name the grounds"),
        ({"kind": REDACTED, "grounds": ["5.1.3"]}, "unknown Woo ground"),
        ({"kind": RENDITION, "source_record_id": "0" * 64}, "is not in the vault"),
        ({"kind": RENDITION, "source_record_id": stored.record_id}, "not from a derived one"),
        ({"kind": RENDITION, "document_id": "f" * 64 + ":1"}, "is not part of record"),
        ({"kind": RENDITION, "officer": " "}, "needs the case and the officer"),
        ({"kind": RENDITION, "also_from": ["e" * 64]}, "is not in the vault"),
    ]
    for changes, message in refused:
        with pytest.raises(DerivedRecordError, match=message):
            store_derived(local_vault, pdf, **{**base, **changes})  # type: ignore[arg-type]
    with pytest.raises(DerivedRecordError, match="not a PDF"):
        store_derived(local_vault, b"<html>", kind=RENDITION, **base)  # type: ignore[arg-type]
    assert counts(local_vault) == before
    attachment = store_derived(local_vault, pdf, kind=RENDITION, document_id=f"{record_id}:1", **base)  # type: ignore[arg-type]
    assert attachment.created and attachment.document_id == f"{record_id}:1"
    assert verify_vault(local_vault).all_well
