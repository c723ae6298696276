"""The PDF of one published document: the rendition made by the Woo PDF engine (``capstone.woo.pdf``),
the accepted redaction marks burned in, both stored in the vault as derived records. A document
without a rendition (its failure's reason) stops the publication: no stand-in PDF is ever made.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from capstone.index.model import IndexDocument
from capstone.woo.cases import CaseError
from capstone.woo.review import Mark


class PublishError(CaseError):
    """A publication that could not be completed; nothing of it is left behind."""


@dataclass(frozen=True)
class PackagePdf:
    data: bytes
    derived: list[str] = field(default_factory=list)  # vault record ids: rendition, redacted PDF
    tool_versions: dict[str, str] = field(default_factory=dict)
    pdfa: str | None = None


def make_pdf(
    vault: Any,
    doc: IndexDocument,
    marks: Sequence[Mark],
    *,
    document_id: str,
    case_ref: str,
    officer: str,
    grounds: Sequence[str],
) -> PackagePdf:
    """The document's PDF for the package: its rendition, with ``marks`` burned in (each box showing
    its ground code), or - without marks - scrubbed of what a reader does not see (metadata,
    annotations, embedded files). A redacted string still found in the result is an error."""
    from capstone.woo.pdf import derived, redact, render
    from capstone.woo.pdf.marks import InvalidMarkError, RedactionMark

    rendition = render.render_document(vault, doc)
    if not rendition.ok or rendition.pdf is None:
        raise PublishError(f"document {document_id} ({doc.doc_id}) has no PDF: {rendition.failure}")
    versions = {**rendition.tool_versions, **redact.tool_versions()}
    try:
        if not marks:
            public = redact.scrub(rendition.pdf)
            stored = derived.store_derived(
                vault, public, kind=derived.RENDITION, source_record_id=doc.record_id, case_ref=case_ref,
                officer=officer, document_id=doc.doc_id, tool_versions=versions, pdfa=rendition.pdfa,
            )  # fmt: skip
            return PackagePdf(public, [stored.record_id], versions, rendition.pdfa)
        stored = derived.store_derived(
            vault, rendition.pdf, kind=derived.RENDITION, source_record_id=doc.record_id, case_ref=case_ref,
            officer=officer, document_id=doc.doc_id, tool_versions=rendition.tool_versions, pdfa=rendition.pdfa,
        )  # fmt: skip
        engine_marks = [
            RedactionMark(ground=m.ground, text=m.text)
            if m.kind == "text"
            else RedactionMark(ground=m.ground, page=m.page, region=m.rect)
            for m in marks
        ]
        redacted = redact.burn_in(rendition.pdf, engine_marks)
    except (redact.RedactionError, InvalidMarkError, derived.DerivedRecordError) as exc:
        raise PublishError(f"document {document_id} ({doc.doc_id}): {exc}") from None
    leaked = redact.leaks(redacted, [m.text for m in marks if m.kind == "text" and m.text])
    if leaked:
        raise PublishError(f"document {document_id}: {len(leaked)} redacted string(s) still in the PDF")
    stored_redacted = derived.store_derived(
        vault, redacted, kind=derived.REDACTED, source_record_id=doc.record_id, case_ref=case_ref,
        officer=officer, document_id=doc.doc_id, grounds=list(grounds), marks=engine_marks, tool_versions=versions,
    )  # fmt: skip
    return PackagePdf(redacted, [stored.record_id, stored_redacted.record_id], versions, None)
