"""What the review screen shows of a document before publication: its PDF rendition (as the package
will hold it) and each page as a PNG with the redaction marks drawn on it - accepted marks as the
black box with its ground code that the publication burns in, suggestions as an outline.

The same rules as every review act (:class:`capstone.woo.review_service.WooReview`): a ``woo-officer``
assigned to the open case, the document inside the case's scope; every view is an audit entry
(``document-rendition``). Renditions are kept in memory for a few documents (LibreOffice takes
seconds), keyed by the document's content hash, never written to disk.

Example::

    preview = ReviewPreview(WooReview(WooService(settings, actor)))
    shown = preview.document("Z/2026/001234", doc_id)     # pages, sizes, where each mark lands
    png = preview.page_png("Z/2026/001234", doc_id, 1)
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pymupdf

from capstone.access import WOO_OFFICER
from capstone.index.model import IndexDocument
from capstone.services import open_vault
from capstone.woo.review import Mark
from capstone.woo.review_service import WooReview

ACTION = "document-rendition"
CACHED = 8
SCALE = 1.5  # pixels per PDF point in the page images
ACCEPTED_FILL = (0.0, 0.0, 0.0)
PROPOSED_OUTLINE = (0.8, 0.2, 0.0)
LABEL_COLOUR = (1.0, 1.0, 1.0)


@dataclass(frozen=True)
class PagePlan:
    number: int  # from 1
    width: float  # PDF points, as displayed
    height: float


@dataclass(frozen=True)
class MarkPlace:
    """Where one mark lands on the rendition, or why it does not."""

    mark_id: str
    boxes: list[tuple[int, tuple[float, float, float, float]]] = field(default_factory=list)
    problem: str | None = None


@dataclass(frozen=True)
class DocumentPreview:
    doc_id: str
    failure: str | None  # the rendition's failure (in Dutch), or None
    pages: list[PagePlan]
    places: dict[str, MarkPlace]
    pdfa: str | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None


_cache: OrderedDict[tuple[str, str], Any] = OrderedDict()
_cache_lock = threading.Lock()


def _rendition(review: WooReview, doc: IndexDocument) -> Any:
    from capstone.woo.pdf.render import render_document

    key = (doc.doc_id, doc.blob_sha256 or "")
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    vault = open_vault(review.woo.settings)
    try:
        rendition = render_document(vault, doc)
    finally:
        vault.close()
    with _cache_lock:
        _cache[key] = rendition
        while len(_cache) > CACHED:
            _cache.popitem(last=False)
    return rendition


def _places(pdf: bytes, marks: Sequence[Mark]) -> dict[str, MarkPlace]:
    from capstone.woo.pdf.marks import InvalidMarkError, RedactionMark
    from capstone.woo.pdf.redact import RedactionError, plan

    places: dict[str, MarkPlace] = {}
    for mark in marks:
        if mark.status not in ("accepted", "proposed"):
            continue
        try:
            engine_mark = (
                RedactionMark(ground=mark.ground, text=mark.text)
                if mark.kind == "text"
                else RedactionMark(ground=mark.ground, page=mark.page, region=mark.rect)
            )
            boxes = [(b.page, b.rect) for b in plan(pdf, [engine_mark])]
            places[mark.mark_id] = MarkPlace(mark.mark_id, boxes)
        except (RedactionError, InvalidMarkError) as exc:
            places[mark.mark_id] = MarkPlace(mark.mark_id, [], str(exc))
    return places


class ReviewPreview:
    def __init__(self, review: WooReview) -> None:
        self.review = review

    def _document(self, ref: str, doc_id: str, **detail: Any) -> tuple[str, IndexDocument]:
        detail = {"doc_id": doc_id, **detail}
        case, scope = self.review._open(ACTION, ref, **detail)
        index = self.review._index(ACTION, case, **detail)
        try:
            doc = self.review._documents(ACTION, case, scope, index, [doc_id], **detail)[0]
        finally:
            index.close()
        return case.ref, doc

    def _record(self, ref: str, doc: IndexDocument, **detail: Any) -> None:
        self.review.woo._record(
            ACTION, ref, "allowed", WOO_OFFICER, doc_id=doc.doc_id, record_id=doc.record_id, **detail
        )

    def pdf(self, ref: str, doc_id: str) -> bytes | None:
        """The document's rendition as the officer reviews it (without redactions), or None."""
        case_ref, doc = self._document(ref, doc_id, form="pdf")
        rendition = _rendition(self.review, doc)
        self._record(case_ref, doc, form="pdf", found=rendition.ok)
        return rendition.pdf if rendition.ok else None

    def document(self, ref: str, doc_id: str) -> DocumentPreview:
        """The rendition's pages and where the document's accepted and proposed marks land."""
        case_ref, doc = self._document(ref, doc_id, form="pages")
        rendition = _rendition(self.review, doc)
        self._record(case_ref, doc, form="pages", found=rendition.ok)
        if not rendition.ok:
            return DocumentPreview(doc.doc_id, rendition.failure, [], {})
        with pymupdf.open(stream=rendition.pdf, filetype="pdf") as pdf:
            pages = [PagePlan(n + 1, p.rect.width, p.rect.height) for n, p in enumerate(pdf)]
        marks = self.review.store.marks(case_ref, doc.doc_id)
        return DocumentPreview(doc.doc_id, None, pages, _places(rendition.pdf, marks), rendition.pdfa)

    def page_png(self, ref: str, doc_id: str, page: int) -> bytes | None:
        """Page ``page`` (from 1) as PNG with the marks drawn, or None when there is no such page."""
        case_ref, doc = self._document(ref, doc_id, form="png", page=page)
        rendition = _rendition(self.review, doc)
        self._record(case_ref, doc, form="png", page=page, found=rendition.ok)
        if not rendition.ok:
            return None
        marks = self.review.store.marks(case_ref, doc.doc_id)
        places = _places(rendition.pdf, marks)
        by_id = {m.mark_id: m for m in marks}
        with pymupdf.open(stream=rendition.pdf, filetype="pdf") as pdf:
            if not 1 <= page <= pdf.page_count:
                return None
            shown = pdf[page - 1]
            for place in places.values():
                for number, rect in place.boxes:
                    if number != page:
                        continue
                    box = pymupdf.Rect(rect) * shown.derotation_matrix
                    mark = by_id[place.mark_id]
                    if mark.accepted:
                        shown.draw_rect(box, color=ACCEPTED_FILL, fill=ACCEPTED_FILL, width=0)
                        size = max(3.0, min(9.0, box.height * 0.8))
                        shown.insert_text((box.x0 + 1, box.y1 - (box.height - size * 0.7) / 2), mark.ground,
                                          fontsize=size, color=LABEL_COLOUR)  # fmt: skip
                    else:
                        shown.draw_rect(box, color=PROPOSED_OUTLINE, width=1.5, dashes="[3] 0")
            data: bytes = shown.get_pixmap(matrix=pymupdf.Matrix(SCALE, SCALE), alpha=False).tobytes("png")
        return data


__all__ = ["DocumentPreview", "MarkPlace", "PagePlan", "ReviewPreview"]
