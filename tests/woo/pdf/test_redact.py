"""Burned-in redaction (issue 19): the withheld text is gone from the file, proven with tools other
than the one that redacted it: poppler's pdftotext, a byte search of every object and decompressed
stream (pypdf), the fonts' ToUnicode maps, and poppler's rendering for the labelled box."""

from __future__ import annotations

import io

import pymupdf
import pytest
from fpdf import FPDF
from PIL import Image

from capstone.woo.pdf.marks import RedactionMark
from capstone.woo.pdf.redact import MarkNotFoundError, RedactionError, burn_in, leaks, plan, scrub
from capstone.woo.pdf.render import render_attachment, render_mail
from tests.index.helpers import docx_bytes, mime, pdf_bytes
from tests.woo.pdf.helpers import dark_share, flat, in_bytes, pdftotext, render_page, tounicode_targets

EMAIL = "jan.devries@example.nl"
PHONE = "06-12345678"
NAME = "Jan de Vries"
KEPT = ["Overleg over de fietsbrug", "Besluit volgt in april", "voor het college"]


def hostile_pdf() -> bytes:
    """A page whose text is written literally in its content stream (a core font), with the
    withheld strings also in every other place a PDF can carry them: document info, the XMP
    packet, a note annotation, a link, an embedded file, a form field and the outline."""
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.multi_cell(
        0,
        8,
        f"{KEPT[0]}.\nMail {EMAIL} of bel {PHONE} voor het college.\n{KEPT[1]}, groet {NAME}.",
    )
    doc = pymupdf.open(stream=bytes(pdf.output()), filetype="pdf")
    page = doc[0]
    doc.set_metadata({"title": f"Notitie van {NAME}", "author": NAME, "subject": EMAIL, "keywords": PHONE})
    doc.set_xml_metadata(
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f'<rdf:Description rdf:about="">{NAME} {EMAIL}</rdf:Description></rdf:RDF></x:xmpmeta>'
    )
    page.add_text_annot((300, 300), f"Bellen: {PHONE}")
    page.insert_link(
        {"kind": pymupdf.LINK_URI, "from": pymupdf.Rect(40, 40, 200, 60), "uri": f"mailto:{EMAIL}"}
    )
    doc.embfile_add("bijlage", f"contact {EMAIL}".encode(), filename=f"{NAME}.txt")
    widget = pymupdf.Widget()
    widget.field_type = pymupdf.PDF_WIDGET_TYPE_TEXT
    widget.field_name = "contact"
    widget.field_value = EMAIL
    widget.rect = pymupdf.Rect(300, 400, 500, 420)
    page.add_widget(widget)
    doc.set_toc([[1, f"Gesprek met {NAME}", 1]])
    data: bytes = doc.tobytes()
    doc.close()
    return data


def boxes_of(pdf: bytes, text: str, page: int = 0) -> list[tuple[float, float, float, float]]:
    with pymupdf.open(stream=pdf, filetype="pdf") as doc:
        return [tuple(r) for r in doc[page].search_for(text)]


def test_burned_in_spans_are_gone_from_text_bytes_metadata_annotations_and_files() -> None:
    original = hostile_pdf()
    withheld = [EMAIL, PHONE, NAME]
    # The checks can fail: every string is there before, in the text and in the bytes.
    before = flat(pdftotext(original))
    for string in withheld:
        assert string in before and in_bytes(original, string), string
    assert leaks(original, withheld)
    where = {s: boxes_of(original, s) for s in withheld}
    planned = plan(original, [RedactionMark(ground="5.1.2e", text=s) for s in withheld])
    assert sorted(b.rect for b in planned) == sorted(r for rects in where.values() for r in rects)

    marks = [
        RedactionMark(ground="5.1.2e", text=EMAIL),
        RedactionMark(ground="5.1.2e", page=1, text=PHONE),
        RedactionMark(ground="5.1.2E", text=NAME),
    ]
    result = burn_in(original, marks)

    text = flat(pdftotext(result))
    for string in withheld:
        assert string.lower() not in text.lower(), string
        assert not in_bytes(result, string), f"{string} still in the file's bytes"
    for kept in KEPT:
        assert kept in text, kept
    assert text.count("5.1.2e") == sum(len(rects) for rects in where.values()) >= 3  # every box: its ground
    assert leaks(result, withheld) == []
    with pymupdf.open(stream=result, filetype="pdf") as doc:
        assert doc.embfile_count() == 0 and not doc.get_toc()
        assert not list(doc[0].annots()) and not doc[0].get_links() and not list(doc[0].widgets())
        assert not doc.get_xml_metadata() and not any(
            (doc.metadata or {}).get(k) for k in ("title", "author", "subject", "keywords")
        )
        assert b"mailto" not in doc.tobytes(expand=255)

    image = render_page(result)
    for string, rects in where.items():
        assert rects, string
        for rect in rects:
            assert dark_share(image, rect) > 0.6, f"no box over {string}"
    kept_box = boxes_of(original, KEPT[1])[0]
    assert dark_share(image, kept_box) < 0.3  # the kept text is not blacked out


def test_fonts_are_resubset_so_no_glyph_or_tounicode_entry_of_a_removed_character_is_left() -> None:
    # A generated rendition (embedded DejaVu subset): "Quirijn Zoë" holds Q, Z and ë, which appear
    # nowhere else in the rendition, so after redaction no font may still map a glyph to them.
    eml = mime(
        subject="Overleg fietsbrug",
        sender="Ruud Jansen <ruud@gemeente-test.nl>",
        to="College <college@gemeente-test.nl>",
        body="Beste college,\n\nIk sprak met Quirijn Zoë over de brug.\n\nGroet, Ruud",
        date="Tue, 03 Mar 2026 10:15:00 +0100",
    )
    rendition = render_mail(eml)
    assert rendition.pdf is not None
    assert {"Q", "Z", "ë"} <= tounicode_targets(rendition.pdf)
    result = burn_in(rendition.pdf, [RedactionMark(ground="5.1.2e", text="Quirijn Zoë")])
    assert not ({"Q", "Z", "ë"} & tounicode_targets(result))
    text = flat(pdftotext(result))
    assert "Quirijn" not in text and "Zoë" not in text and "sprak met" in text and "over de brug" in text
    assert not in_bytes(result, "Quirijn Zoë")


def test_a_region_removes_the_image_pixels_and_text_under_it() -> None:
    red = Image.new("RGB", (200, 100), (220, 0, 0))
    buffer = io.BytesIO()
    red.save(buffer, format="PNG")
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.text(20, 20, "Kenteken op de foto hieronder")
    pdf.image(buffer, x=20, y=30, w=100)  # millimetres: 200x100 px at 100 mm wide → 50 mm high
    original = bytes(pdf.output())
    with pymupdf.open(stream=original, filetype="pdf") as doc:
        (image_box,) = [doc[0].get_image_bbox(item) for item in doc[0].get_images(full=True)]
    left_half = (image_box.x0, image_box.y0, (image_box.x0 + image_box.x1) / 2, image_box.y1)
    result = burn_in(original, [RedactionMark(ground="5.1.2e", page=1, region=left_half)])

    def red_pixels(data: bytes) -> int:
        with pymupdf.open(stream=data, filetype="pdf") as doc:
            total = 0
            for item in doc[0].get_images(full=True):
                pix = pymupdf.Pixmap(doc, item[0])
                samples = pix.samples
                step = pix.n
                total += sum(
                    1 for i in range(0, len(samples), step) if samples[i] > 200 and samples[i + 1] < 30
                )
            return total

    assert red_pixels(original) == 200 * 100
    remaining = red_pixels(result)
    assert 0 < remaining <= 200 * 100 * 0.55  # the left half's pixels are gone from the file, the rest kept
    image = render_page(result)
    assert dark_share(image, left_half) > 0.6
    assert "Kenteken op de foto hieronder" in flat(pdftotext(result)) and "5.1.2e" in pdftotext(result)


@pytest.mark.slow
def test_a_libreoffice_rendition_is_redacted_like_any_pdf() -> None:
    data = docx_bytes(["Notitie fietsbrug", f"Contact: {NAME}, telefoon {PHONE}.", "Einde notitie"])
    rendition = render_attachment(data, "notitie.docx")
    assert rendition.pdf is not None, rendition.failure
    result = burn_in(
        rendition.pdf, [RedactionMark(ground="5.1.2e", text=PHONE), RedactionMark(ground="5.1.2e", text=NAME)]
    )
    text = flat(pdftotext(result))
    assert PHONE not in text and NAME not in text and "Einde notitie" in text and "telefoon" in text
    assert not in_bytes(result, PHONE) and not in_bytes(result, NAME)
    assert not ({"J", "V"} & tounicode_targets(result))  # only "Jan de Vries" used them


def test_a_span_that_is_not_there_is_refused_not_skipped() -> None:
    original = pdf_bytes("Overleg over de fietsbrug")
    with pytest.raises(MarkNotFoundError, match="not on page 1"):
        burn_in(original, [RedactionMark(ground="5.1.2e", page=1, text="Piet Paulusma")])
    with pytest.raises(RedactionError, match="has 1 page"):
        burn_in(original, [RedactionMark(ground="5.1.2e", page=3, text="fietsbrug")])
    with pytest.raises(RedactionError, match="no redaction marks"):
        burn_in(original, [])
    with pytest.raises(RedactionError, match="encrypted"):
        burn_in(pdf_bytes("geheim", password="x"), [RedactionMark(ground="5.1.2e", text="geheim")])
    with pytest.raises(RedactionError, match="not a readable PDF"):
        burn_in(b"%PDF-1.4 rommel", [RedactionMark(ground="5.1.2e", text="x")])


def test_text_in_a_form_xobject_and_on_a_rotated_page_is_removed_and_regions_follow_the_display() -> None:
    source = pymupdf.open(stream=pdf_bytes(f"Bel Jan op {PHONE} graag"), filetype="pdf")
    doc = pymupdf.open()
    first = doc.new_page()
    first.show_pdf_page(first.rect, source, 0)  # the text lives in a form XObject
    second = doc.new_page()
    second.insert_text((72, 72), f"Gedraaid {PHONE} blad")
    second.set_rotation(90)
    original: bytes = doc.tobytes()
    with pymupdf.open(stream=original, filetype="pdf") as check:
        rotated = check[1]
        width = rotated.rect.width
    # A region on the rotated page, in display coordinates: the top-right corner as shown.
    region = (width - 60.0, 10.0, width - 10.0, 60.0)
    planned = plan(original, [RedactionMark(ground="5.1.2h", page=2, region=region)])
    assert [(b.page, b.ground) for b in planned] == [(2, "5.1.2h")]
    assert all(abs(a - b) < 0.01 for a, b in zip(planned[0].rect, region, strict=True))
    result = burn_in(
        original,
        [RedactionMark(ground="5.1.2e", text=PHONE), RedactionMark(ground="5.1.2h", page=2, region=region)],
    )
    text = flat(pdftotext(result))
    assert PHONE not in text and not in_bytes(result, PHONE)
    assert "Bel Jan op" in text and "graag" in text and "Gedraaid" in text and "5.1.2h" in text
    assert dark_share(render_page(result, page=2), region) > 0.6


def test_a_span_marked_on_one_page_stays_on_the_pages_the_officer_left_it() -> None:
    pdf = FPDF()
    for words in ("Wethouder Bakker belde", "Wethouder Bakker reageerde"):
        pdf.add_page()
        pdf.set_font("helvetica", size=12)
        pdf.text(20, 20, words)
    original = bytes(pdf.output())
    result = burn_in(original, [RedactionMark(ground="5.1.2e", page=1, text="Bakker")])
    with pymupdf.open(stream=result, filetype="pdf") as doc:
        first, second = (flat(page.get_text()) for page in doc)
    assert "Bakker" not in first and "belde" in first and "Wethouder Bakker reageerde" in second


def test_scrub_keeps_the_pages_and_drops_metadata_annotations_files_and_outline() -> None:
    original = hostile_pdf()
    result = scrub(original)
    text = flat(pdftotext(result))
    assert EMAIL in text and KEPT[0] in text  # the page content is untouched
    with pymupdf.open(stream=result, filetype="pdf") as doc:
        assert doc.embfile_count() == 0 and not doc.get_toc() and not doc.get_xml_metadata()
        assert not list(doc[0].annots()) and not doc[0].get_links() and not list(doc[0].widgets())
        assert not (doc.metadata or {}).get("author")
    for hidden in (
        "Notitie van",
        "Gesprek met",
        "Bellen:",
        "contact ",
        "mailto:",
    ):  # title, outline, note, file, link
        assert in_bytes(original, hidden) and not in_bytes(result, hidden), hidden
