"""Burn redaction marks into a PDF: the withheld text and image pixels are removed from the file,
not covered by a rectangle over a live text layer, and each box carries its ground code.

Steps (PyMuPDF): every text span is searched on its page(s) (a span that is not found is an error,
never skipped); each hit and each region gets a redaction annotation, applied with text removed
and the image pixels under it blanked; each box is filled black and labelled in white with its
ground code. Then everything that can carry the removed text elsewhere goes: the document's
metadata and XMP packet, annotations, links, form fields, embedded files, JavaScript, thumbnails,
the outline; fonts are re-subset to the glyphs still shown (so no glyph or ToUnicode entry of a
removed character that nothing else shows is left: :func:`prune_tounicode`); the file is rewritten whole (no earlier
revision kept), unused objects dropped and streams compressed.

:func:`burn_in` checks its own result with :func:`leaks` and refuses to return a file in which a
redacted text span can still be found.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pymupdf

from capstone import __version__
from capstone.woo.pdf.marks import RedactionMark

FILL = (0.0, 0.0, 0.0)
LABEL_COLOUR = (1.0, 1.0, 1.0)
LABEL_FONT = "helv"
MAX_LABEL_SIZE = 9.0
MIN_LABEL_SIZE = 3.0
_SPACE = re.compile(r"\s+")


class RedactionError(ValueError):
    """Marks that cannot be burned in (nothing is returned)."""


class MarkNotFoundError(RedactionError):
    """A text span that is not on the page(s) its mark names."""


@dataclass(frozen=True)
class _Box:
    page: int  # 0-based
    rect: pymupdf.Rect
    label: str


def _open(pdf: bytes) -> pymupdf.Document:
    try:
        doc = pymupdf.open(stream=pdf, filetype="pdf")
    except Exception as exc:
        raise RedactionError(f"not a readable PDF ({type(exc).__name__}: {str(exc)[:200]})") from None
    if doc.needs_pass:
        doc.close()
        raise RedactionError("the PDF is encrypted: it cannot be redacted")
    if doc.page_count == 0:
        doc.close()
        raise RedactionError("the PDF has no pages")
    return doc


def _pages_of(mark: RedactionMark, count: int) -> range:
    if mark.page is None:
        return range(count)
    if mark.page > count:
        raise RedactionError(f"mark on page {mark.page}: the PDF has {count} page(s)")
    return range(mark.page - 1, mark.page)


def _boxes(doc: pymupdf.Document, marks: Sequence[RedactionMark]) -> list[_Box]:
    boxes: list[_Box] = []
    for mark in marks:
        pages = _pages_of(mark, doc.page_count)
        if mark.region is not None:
            page = doc[pages[0]]
            shown = pymupdf.Rect(mark.region) & page.rect  # as the page is displayed (rotation applied)
            if shown.is_empty:
                raise RedactionError(f"region {mark.region} lies outside page {mark.page}")
            boxes.append(_Box(pages[0], shown * page.derotation_matrix, mark.label))
            continue
        assert mark.text is not None
        needle = _SPACE.sub(" ", mark.text.strip())
        found = 0
        for number in pages:
            for quad in doc[number].search_for(needle, quads=True):
                boxes.append(_Box(number, quad.rect, mark.label))
                found += 1
        if not found:
            where = f"page {mark.page}" if mark.page is not None else "any page"
            raise MarkNotFoundError(
                f"text span of a {mark.ground} mark is not on {where}: {len(needle)} characters not found"
            )
    return boxes


@dataclass(frozen=True)
class PlannedBox:
    """Where a mark will be burned in: page (1-based), rectangle in display coordinates (as the
    page is shown, its rotation applied; PDF points, top-left origin) and the ground it shows."""

    page: int
    rect: tuple[float, float, float, float]
    ground: str


def plan(pdf: bytes, marks: Sequence[RedactionMark]) -> list[PlannedBox]:
    """The boxes :func:`burn_in` would draw for ``marks``, for a review screen to show before the
    officer confirms. A text span is matched case-insensitively wherever it occurs on its page(s),
    also inside longer words ("Jan" also covers "Jansen"): a mark removes too much rather than too
    little. Raises like :func:`burn_in` (a span that is not there, a page that does not exist)."""
    doc = _open(pdf)
    try:
        planned = []
        for box in _boxes(doc, marks):
            shown = box.rect * doc[box.page].rotation_matrix
            planned.append(PlannedBox(box.page + 1, (shown.x0, shown.y0, shown.x1, shown.y1), box.label))
        return planned
    finally:
        doc.close()


def _label(page: pymupdf.Page, rect: pymupdf.Rect, label: str) -> None:
    size = min(MAX_LABEL_SIZE, rect.height * 0.8)
    width = pymupdf.get_text_length(label, fontname=LABEL_FONT, fontsize=size)
    if width > rect.width * 0.95:
        size = max(MIN_LABEL_SIZE, size * rect.width * 0.95 / width)
        width = pymupdf.get_text_length(label, fontname=LABEL_FONT, fontsize=size)
    x = rect.x0 + max(0.0, (rect.width - width) / 2)
    y = rect.y0 + (rect.height + size * 0.7) / 2
    page.insert_text((x, y), label, fontname=LABEL_FONT, fontsize=size, color=LABEL_COLOUR)


def _strip(doc: pymupdf.Document) -> None:
    """Everything besides the page content that can carry text: see the module's docstring."""
    for page in doc:
        for annot in list(page.annots() or []):
            page.delete_annot(annot)
        for widget in list(page.widgets() or []):
            page.delete_widget(widget)
        for link in page.get_links():
            page.delete_link(link)
    doc.scrub(
        attached_files=True,
        clean_pages=True,
        embedded_files=True,
        hidden_text=False,  # invisible OCR text stays searchable; spans in it were found and removed
        javascript=True,
        metadata=True,
        redactions=False,  # already applied
        remove_links=True,
        reset_fields=True,
        reset_responses=True,
        thumbnails=True,
        xml_metadata=True,
    )
    for name in list(doc.embfile_names()):
        doc.embfile_del(name)
    doc.set_toc([])
    doc.set_metadata({})
    doc.del_xml_metadata()


_CMAP_PAIR = re.compile(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]*)>")
_CMAP_RANGE = re.compile(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*(<[0-9A-Fa-f]*>|\[[^\]]*\])")
_CMAP_BLOCK = re.compile(rb"beginbf(char|range)(.*?)endbf(?:char|range)", re.S)
_CODESPACE = re.compile(rb"\d+\s+begincodespacerange.*?endcodespacerange", re.S)


def _utf16(hexdigits: bytes) -> str:
    return bytes.fromhex(hexdigits.decode("ascii")).decode("utf-16-be", "replace")


def _tounicode_entries(data: bytes) -> list[tuple[bytes, str]]:
    """A ToUnicode CMap's mappings as (source code in hex, target text)."""
    entries: list[tuple[bytes, str]] = []
    for kind, body in _CMAP_BLOCK.findall(data):
        if kind == b"char":
            entries.extend((code, _utf16(target)) for code, target in _CMAP_PAIR.findall(body))
            continue
        for low, high, target in _CMAP_RANGE.findall(body):
            first, last, width = int(low, 16), int(high, 16), len(low)
            if target.startswith(b"["):
                targets = [_utf16(t) for t in re.findall(rb"<([0-9A-Fa-f]*)>", target)]
            else:
                base = _utf16(target[1:-1])
                targets = [
                    base[:-1] + chr(ord(base[-1]) + n) if base else "" for n in range(last - first + 1)
                ]
            for offset, text in enumerate(targets[: last - first + 1]):
                entries.append((f"{first + offset:0{width}X}".encode("ascii"), text))
    return entries


def _tounicode_cmap(codespace: bytes, entries: list[tuple[bytes, str]]) -> bytes:
    lines = [
        b"/CIDInit /ProcSet findresource begin",
        b"12 dict begin",
        b"begincmap",
        b"/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
        b"/CMapName /Adobe-Identity-UCS def",
        b"/CMapType 2 def",
        codespace,
    ]
    for start in range(0, len(entries), 100):
        chunk = entries[start : start + 100]
        lines.append(f"{len(chunk)} beginbfchar".encode("ascii"))
        lines.extend(
            b"<" + code + b"> <" + text.encode("utf-16-be").hex().upper().encode("ascii") + b">"
            for code, text in chunk
        )
        lines.append(b"endbfchar")
    lines += [b"endcmap", b"CMapName currentdict /CMap defineresource pop", b"end", b"end"]
    return b"\n".join(lines) + b"\n"


def prune_tounicode(doc: pymupdf.Document) -> int:
    """Drop from every font's ToUnicode map the entries for characters no page shows any more (a
    character still shown in any font is kept everywhere, so no remaining text loses its
    mapping). Returns how many entries were dropped."""
    shown: set[str] = set()
    for page in doc:
        for span in page.get_texttrace():
            shown.update(chr(ch[0]) for ch in span["chars"] if ch[0] >= 0)
    dropped = 0
    for xref in range(1, doc.xref_length()):
        if doc.xref_get_key(xref, "Type") != ("name", "/Font"):
            continue
        kind, value = doc.xref_get_key(xref, "ToUnicode")
        if kind != "xref":
            continue
        cmap_xref = int(value.split()[0])
        data = doc.xref_stream(cmap_xref) or b""
        codespace = _CODESPACE.search(data)
        if codespace is None:
            continue
        entries = _tounicode_entries(data)
        kept = [(code, text) for code, text in entries if text and all(c in shown for c in text)]
        if len(kept) == len(entries):
            continue
        dropped += len(entries) - len(kept)
        doc.update_stream(cmap_xref, _tounicode_cmap(codespace.group(0), kept))
    return dropped


def scrub(pdf: bytes) -> bytes:
    """``pdf`` without what a reader does not see on its pages: document metadata, the XMP packet,
    annotations, links, form fields, embedded files, JavaScript, thumbnails and the outline; the
    file rewritten whole (no earlier revision kept). For publishing a document that is public
    without redactions: its author, comments and attachments are not published by accident."""
    doc = _open(pdf)
    try:
        _strip(doc)
        result: bytes = doc.tobytes(garbage=4, deflate=True, clean=True)
    finally:
        doc.close()
    return result


def tool_versions() -> dict[str, str]:
    """The tools a burned-in PDF was made with, for its derived record."""
    return {"capstone": __version__, "pymupdf": str(pymupdf.VersionBind), "mupdf": str(pymupdf.VersionFitz)}


def burn_in(pdf: bytes, marks: Sequence[RedactionMark]) -> bytes:
    """``pdf`` with ``marks`` burned in (see the module's docstring). Raises
    :class:`MarkNotFoundError` for a text span that is not there and :class:`RedactionError` for a
    PDF that cannot be redacted or a result that still holds a redacted span."""
    if not marks:
        raise RedactionError("no redaction marks: nothing to burn in")
    doc = _open(pdf)
    try:
        whole_file, page_only = _self_check_plan(doc, marks)
        boxes = _boxes(doc, marks)
        by_page: dict[int, list[_Box]] = {}
        for box in boxes:
            by_page.setdefault(box.page, []).append(box)
        for number, page_boxes in by_page.items():
            page = doc[number]
            for box in page_boxes:
                page.add_redact_annot(box.rect, fill=FILL, cross_out=False)
            page.apply_redactions(
                images=pymupdf.PDF_REDACT_IMAGE_PIXELS,
                graphics=pymupdf.PDF_REDACT_LINE_ART_REMOVE_IF_TOUCHED,
                text=pymupdf.PDF_REDACT_TEXT_REMOVE,
            )
        _strip(doc)
        for number, page_boxes in by_page.items():
            page = doc[number]
            for box in page_boxes:
                page.draw_rect(box.rect, color=None, fill=FILL, overlay=True)
                _label(page, box.rect, box.label)
        with contextlib.suppress(Exception):  # a font it cannot re-subset stays; leaks() still checks
            doc.subset_fonts()
        prune_tounicode(doc)
        result: bytes = doc.tobytes(garbage=4, deflate=True, clean=True, no_new_id=False)
    finally:
        doc.close()
    found = leaks(result, whole_file)
    if not found and page_only:
        with pymupdf.open(stream=result, filetype="pdf") as check:
            for number, needles in page_only.items():
                text = _norm(check[number].get_text("text"))
                found += [
                    f"a redacted span ({len(n)} characters) still on page {number + 1}"
                    for n in needles
                    if n in text
                ]
    if found:
        raise RedactionError(f"redaction incomplete, nothing returned: {found[0]}")
    return result


def _self_check_plan(
    doc: pymupdf.Document, marks: Sequence[RedactionMark]
) -> tuple[list[str], dict[int, list[str]]]:
    """Which spans must be gone from the whole file and which only from their page: a span marked
    on one page that the officer leaves standing on another page is checked on its page only."""
    texts = [_norm(page.get_text("text")) for page in doc]
    whole: list[str] = []
    page_only: dict[int, list[str]] = {}
    for mark in marks:
        if mark.text is None:
            continue
        if mark.page is None:
            whole.append(mark.text)
            continue
        needle = _norm(mark.text)
        elsewhere = any(needle in text for number, text in enumerate(texts) if number != mark.page - 1)
        if elsewhere:
            page_only.setdefault(mark.page - 1, []).append(needle)
        else:
            whole.append(mark.text)
    return whole, page_only


# -- proof ------------------------------------------------------------------------------------------


def _norm(text: str) -> str:
    return _SPACE.sub(" ", text).strip().casefold()


def _forms(text: str) -> list[bytes]:
    """The byte forms a string takes in a PDF: UTF-8, Latin-1, UTF-16BE (text strings, XMP) and
    hexadecimal strings of each."""
    forms: list[bytes] = []
    for encoding in ("utf-8", "latin-1", "utf-16-be"):
        try:
            raw = text.encode(encoding)
        except UnicodeEncodeError:
            continue
        forms.extend((raw, raw.hex().encode("ascii")))
    return [f.lower() for f in dict.fromkeys(forms)]


def leaks(pdf: bytes, strings: Iterable[str]) -> list[str]:
    """Where any of ``strings`` can still be found in ``pdf`` (case-insensitive): in a page's
    extracted text, the metadata, the XMP packet, an annotation, an embedded file's name, or the
    bytes of the file and of every object and decompressed stream (fonts' ToUnicode maps among
    them). Empty when none is found."""
    wanted = [s for s in dict.fromkeys(s.strip() for s in strings) if s]
    if not wanted:
        return []
    found: list[str] = []
    doc = pymupdf.open(stream=pdf, filetype="pdf")
    try:
        chunks: list[tuple[str, bytes]] = [("the file's bytes", pdf)]
        for xref in range(1, doc.xref_length()):
            try:
                chunks.append(
                    (f"object {xref}", doc.xref_object(xref, compressed=False).encode("utf-8", "replace"))
                )
                if doc.xref_is_stream(xref):
                    chunks.append((f"stream of object {xref}", doc.xref_stream(xref) or b""))
            except Exception:
                continue
        texts = [(f"page {n + 1} text", page.get_text("text")) for n, page in enumerate(doc)]
        texts.append(("metadata", " ".join(str(v) for v in (doc.metadata or {}).values())))
        texts.append(("XMP packet", doc.get_xml_metadata() or ""))
        texts.append(("embedded file names", " ".join(doc.embfile_names())))
        for n, page in enumerate(doc):
            for annot in page.annots() or []:
                texts.append((f"annotation on page {n + 1}", " ".join(str(v) for v in annot.info.values())))
    finally:
        doc.close()
    lowered = [(where, data.lower()) for where, data in chunks]
    normalised = [(where, _norm(text)) for where, text in texts]
    for index, string in enumerate(wanted, start=1):
        needle = _norm(string)
        spots = [where for where, text in normalised if needle in text]
        spots += [where for where, data in lowered if any(form in data for form in _forms(string))]
        if spots:
            found.append(f"redacted span {index} ({len(string)} characters) still in {', '.join(spots[:3])}")
    return found


__all__ = [
    "FILL",
    "MarkNotFoundError",
    "PlannedBox",
    "RedactionError",
    "burn_in",
    "leaks",
    "plan",
    "prune_tounicode",
    "scrub",
    "tool_versions",
]
