"""Small attachments that are costly to parse, as an attacker (or an odd producer) makes them.

Each is a few KB to a few hundred KB on the wire; parsed without limits each takes tens of seconds
or gigabytes. Used by the sandbox tests and by ``bench/bench_extract_sandbox.py``.
"""

from __future__ import annotations

import io
import zipfile
import zlib

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PDF_TYPE = "application/pdf"

_CONTENT_TYPES_XLSX = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    "</Types>"
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Blad1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/></Relationships>'
)


def _zip(parts: dict[str, str | bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, content in parts.items():
            archive.writestr(name, content)
    return out.getvalue()


def padded_xlsx(rows: int = 300) -> bytes:
    """Every row carries empty cells up to column XFD (16,384 per row, as some exporters write
    them): a few KB zipped, tens of MB of XML whose every cell the reader visits."""
    padding = "<c/>" * 16_383
    cells = "".join(
        f'<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>rij {r}</t></is></c>{padding}</row>'
        for r in range(1, rows + 1)
    )
    sheet = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f'<dimension ref="A1:XFD{rows}"/><sheetData>{cells}</sheetData></worksheet>'
    )
    return _zip(
        {
            "[Content_Types].xml": _CONTENT_TYPES_XLSX,
            "_rels/.rels": _ROOT_RELS,
            "xl/workbook.xml": _WORKBOOK,
            "xl/_rels/workbook.xml.rels": _WORKBOOK_RELS,
            "xl/worksheets/sheet1.xml": sheet,
        }
    )


def inflating_docx(runs: int = 4_000_000) -> bytes:
    """One paragraph of ``runs`` one-letter runs: tens of KB zipped, an element tree of gigabytes
    (the paragraph is cleared only at its end)."""
    ns = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    body = "<w:r><w:t>a</w:t></w:r>" * runs
    document = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="{ns}"><w:body><w:p>'
        f"{body}</w:p></w:body></w:document>"
    )
    return _zip({"[Content_Types].xml": "<Types/>", "word/document.xml": document})


def heavy_pdf(pages: int = 3, operations: int = 400_000) -> bytes:
    """``pages`` pages whose content streams are a few KB of Flate that inflate to ``operations``
    text-showing operators each."""
    stream = zlib.compress(b"BT /F1 1 Tf 1 0 0 1 10 10 Tm (x) Tj ET\n" * operations, 9)
    objects: list[bytes] = []
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(pages))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode())
    font = 3 + 2 * pages
    for i in range(pages):
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents {4 + 2 * i} 0 R "
            f"/Resources << /Font << /F1 {font} 0 R >> >> >>".encode()
        )
        objects.append(
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream"
        )
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def hostile_set() -> list[tuple[str, str, bytes]]:
    """(file name, media type, bytes) of each hostile kind."""
    return [
        ("begroting.xlsx", XLSX_TYPE, padded_xlsx()),
        ("nota.docx", DOCX_TYPE, inflating_docx()),
        ("rapport.pdf", PDF_TYPE, heavy_pdf()),
    ]
