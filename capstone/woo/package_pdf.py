"""The PDF of one published document: the rendition made by the Woo PDF engine (``capstone.woo.pdf``),
the accepted redaction marks burned in, both stored in the vault as derived records.

If the engine is not part of this installation, publication fails with that reason: a package is
never written without its PDFs, and no stand-in PDF is ever made.
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


def _engine() -> Any:
    try:
        from capstone.woo import pdf  # type: ignore[attr-defined, unused-ignore]
        from capstone.woo.pdf import derived, marks, redact, render  # type: ignore[import-not-found, unused-ignore]
    except ImportError as exc:
        raise PublishError(
            f"the Woo PDF engine (capstone.woo.pdf) is not available ({exc}): no PDFs can be made, so no "
            "package was written"
        ) from None
    return pdf, derived, marks, redact, render


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
    its ground code); a redacted string still found in the result is an error."""
    _, derived, mark_module, redact, render = _engine()
    rendition = render.render_document(vault, doc)
    if not rendition.ok or rendition.pdf is None:
        raise PublishError(f"document {document_id} ({doc.doc_id}) has no PDF: {rendition.failure}")
    stored = derived.store_derived(
        vault, rendition.pdf, kind=derived.RENDITION, source_record_id=doc.record_id, case_ref=case_ref,
        officer=officer, document_id=doc.doc_id, tool_versions=rendition.tool_versions, pdfa=rendition.pdfa,
    )  # fmt: skip
    if not marks:
        return PackagePdf(rendition.pdf, [stored.record_id], dict(rendition.tool_versions), rendition.pdfa)
    engine_marks = [
        mark_module.RedactionMark(ground=m.ground, text=m.text)
        if m.kind == "text"
        else mark_module.RedactionMark(ground=m.ground, page=m.page, region=m.rect)
        for m in marks
    ]
    try:
        redacted = redact.burn_in(rendition.pdf, engine_marks)
    except redact.RedactionError as exc:
        raise PublishError(f"document {document_id} ({doc.doc_id}): redaction failed: {exc}") from None
    texts = [m.text for m in marks if m.kind == "text" and m.text]
    leaked = redact.leaks(redacted, texts)
    if leaked:
        raise PublishError(f"document {document_id}: {len(leaked)} redacted string(s) still in the PDF")
    stored_redacted = derived.store_derived(
        vault, redacted, kind=derived.REDACTED, source_record_id=doc.record_id, case_ref=case_ref,
        officer=officer, document_id=doc.doc_id, grounds=list(grounds), marks=engine_marks,
        tool_versions=rendition.tool_versions, pdfa=None,
    )  # fmt: skip
    return PackagePdf(
        redacted, [stored.record_id, stored_redacted.record_id], dict(rendition.tool_versions), None
    )
