"""Generated PDFs (fpdf2, PDF/A-2B): a page of text blocks made from an HTML rendition, or an image
fitted on a page. The text is real, searchable text in an embedded Unicode font (DejaVu Sans, from
Debian's fonts-dejavu-core), so it can be redacted span by span."""

from __future__ import annotations

import io
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import lxml.html
from fpdf import FPDF
from lxml.html import HtmlElement

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/TTF"))
PDFA = "PDF/A-2B"
_BLOCKS = frozenset(
    {"address", "article", "aside", "blockquote", "body", "dd", "details", "div", "dl", "dt", "fieldset"}
    | {"figcaption", "figure", "footer", "form", "header", "html", "li", "main", "nav", "ol", "p"}
    | {"section", "summary", "table", "tbody", "thead", "tfoot", "ul"}
)
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_SKIP = frozenset({"head", "script", "style", "title", "template", "noscript"})
_BREAK = "\x00"
_CONTROL = re.compile(r"[\x01-\x08\x0b-\x1f\x7f]")
_WHITE = re.compile(r"[ \t\r\n\f\v]+")


class FontMissingError(RuntimeError):
    """DejaVu Sans is not installed (Debian package fonts-dejavu-core)."""


@dataclass(frozen=True)
class Block:
    kind: str  # heading | text | row | pre | rule
    text: str = ""
    value: str = ""  # rows: the value beside the label in ``text``


def _font(name: str) -> str:
    for folder in FONT_DIRS:
        path = folder / name
        if path.is_file():
            return str(path)
    raise FontMissingError(
        f"font {name} not found in {', '.join(map(str, FONT_DIRS))} (install fonts-dejavu-core)"
    )


def clean(text: str) -> str:
    """Text fpdf2 can lay out: NFC, tabs as spaces, no control characters."""
    text = unicodedata.normalize("NFC", text).replace("\t", "    ").replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text)


def _inline(parts: list[str]) -> str:
    text = _WHITE.sub(" ", "".join(parts)).replace(_BREAK, "\n")
    return "\n".join(line.strip() for line in text.split("\n")).strip("\n")


def _cell_text(cell: HtmlElement) -> str:
    return _WHITE.sub(" ", cell.text_content()).strip()


def html_blocks(markup: str) -> list[Block]:
    """The text of an HTML page as blocks: headings, paragraphs, table rows with a header cell as
    label rows, preformatted text, rules. Scripts, styles and the head are left out."""
    root = lxml.html.document_fromstring(markup or "<p></p>")
    blocks: list[Block] = []
    buffer: list[str] = []

    def flush(kind: str = "text") -> None:
        text = _inline(buffer)
        buffer.clear()
        if text:
            blocks.append(Block(kind, text))

    def visit(element: HtmlElement) -> None:
        tag = element.tag if isinstance(element.tag, str) else ""
        if tag in _SKIP or not tag:
            buffer.append(element.tail or "")
            return
        if tag == "br":
            buffer.append(_BREAK)
        elif tag == "hr":
            flush()
            blocks.append(Block("rule"))
        elif tag == "img":
            alt = (element.get("alt") or "").strip()
            buffer.append(f"[afbeelding{': ' + alt if alt else ''}]")
        elif tag == "tr":
            flush()
            cells = [c for c in element if isinstance(c.tag, str) and c.tag in ("th", "td")]
            texts = [_cell_text(c) for c in cells]
            if len(cells) >= 2 and cells[0].tag == "th":
                blocks.append(Block("row", texts[0], " ".join(t for t in texts[1:] if t)))
            elif any(texts):
                blocks.append(Block("text", " | ".join(texts)))
        elif tag in _HEADINGS:
            flush()
            buffer.append(element.text_content())
            flush("heading")
        elif tag == "pre":
            flush()
            text = element.text_content().strip("\n")
            if text.strip():
                blocks.append(Block("pre", text))
        elif tag in _BLOCKS:
            flush()
            if tag == "li":
                buffer.append("• ")
            if tag == "dt":
                buffer.append("")
            buffer.append(element.text or "")
            for child in element:
                visit(child)
            flush()
        else:
            buffer.append(element.text or "")
            for child in element:
                visit(child)
        buffer.append(element.tail or "")

    visit(root)
    flush()
    return blocks


class _Pdf(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("dejavu", size=7)
        self.set_text_color(90, 90, 90)
        self.cell(0, 5, f"pagina {self.page_no()}/{{nb}}", align="C")


def _new_pdf(title: str, *, mono: bool = False) -> FPDF:
    """A PDF/A-2B document with DejaVu Sans (each font is parsed and subset per document, the
    costly part: the monospaced one only when ``mono``)."""
    pdf = _Pdf(format="A4", enforce_compliance=PDFA)
    pdf.add_font("dejavu", "", _font("DejaVuSans.ttf"))
    pdf.add_font("dejavu", "B", _font("DejaVuSans-Bold.ttf"))
    if mono:
        pdf.add_font("dejavumono", "", _font("DejaVuSansMono.ttf"))
    pdf.set_title(title)
    pdf.set_creator("Capstone")
    pdf.set_lang("nl-NL")
    pdf.set_auto_page_break(True, margin=16)
    pdf.set_margins(18, 16, 18)
    return pdf


def text_pdf(title: str, blocks: list[Block]) -> bytes:
    """A PDF/A-2B document of ``blocks`` under the heading ``title``."""
    pdf = _new_pdf(title, mono=any(block.kind == "pre" for block in blocks))
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin
    pdf.set_font("dejavu", "B", 14)
    pdf.multi_cell(width, 7, clean(title), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    for block in blocks:
        if block.kind == "heading":
            pdf.ln(1)
            pdf.set_font("dejavu", "B", 11.5)
            pdf.multi_cell(width, 6, clean(block.text), new_x="LMARGIN", new_y="NEXT")
        elif block.kind == "row":
            pdf.set_font("dejavu", "B", 9.5)
            label_width = 38.0
            pdf.cell(label_width, 5, clean(block.text)[:40])
            pdf.set_font("dejavu", "", 9.5)
            pdf.multi_cell(width - label_width, 5, clean(block.value) or " ", new_x="LMARGIN", new_y="NEXT")
        elif block.kind == "pre":
            pdf.set_font("dejavumono", "", 8.5)
            pdf.multi_cell(width, 4.4, clean(block.text), new_x="LMARGIN", new_y="NEXT")
        elif block.kind == "rule":
            pdf.ln(1.5)
            pdf.set_draw_color(150, 150, 150)
            pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
            pdf.ln(2)
        else:
            pdf.set_font("dejavu", "", 10)
            pdf.multi_cell(width, 5, clean(block.text), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1.2)
    return bytes(pdf.output())


def image_pdf(title: str, data: bytes) -> bytes:
    """A PDF/A-2B page with the image ``data`` fitted inside the margins, ``title`` above it.
    Raises the image library's error when the bytes are not an image it reads."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as probe:
        probe.load()
        pixels = probe.size
        frame = probe.convert("RGBA") if probe.mode in ("P", "LA", "PA", "RGBA") else probe.convert("RGB")
    buffer = io.BytesIO()
    frame.save(buffer, format="PNG")
    pdf = _new_pdf(title)
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin
    pdf.set_font("dejavu", "", 9)
    pdf.multi_cell(width, 5, clean(title), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    room_h = pdf.h - pdf.get_y() - pdf.b_margin
    scale = min(width / pixels[0], room_h / pixels[1])
    pdf.image(buffer, x=pdf.l_margin, y=pdf.get_y(), w=pixels[0] * scale, h=pixels[1] * scale)
    return bytes(pdf.output())


__all__ = ["PDFA", "Block", "FontMissingError", "clean", "html_blocks", "image_pdf", "text_pdf"]
