"""A small, deterministic MIME writer (CRLF line ends, as Exchange serves ``$value``).

Written by hand rather than with ``email.generator`` so that the bytes depend only on the inputs
(no policy defaults, no random boundaries) and so that large attachment bodies are produced as a
stream of base64 lines instead of one string.
"""

from __future__ import annotations

import base64
import random
import struct
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from email.header import Header
from email.quoprimime import body_encode

CRLF = "\r\n"
_BLOCK = 57 * 1024  # raw bytes per streamed chunk: a whole number of 76-character base64 lines


def is_ascii(text: str) -> bool:
    return all(ord(ch) < 128 for ch in text)


def encode_words(text: str, header_name: str = "Subject") -> str:
    """RFC 2047 encoded-words for non-ASCII header text, folded with CRLF."""
    if is_ascii(text):
        return text
    encoded = Header(text, "utf-8", header_name=header_name).encode(linesep=CRLF)
    return str(encoded)


def address(name: str, addr: str) -> str:
    if not name:
        return addr
    if not is_ascii(name):
        return f"{encode_words(name, 'From')} <{addr}>"
    if any(ch in name for ch in ',.;:"()<>@[]'):
        escaped = name.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}" <{addr}>'
    return f"{name} <{addr}>"


def header_lines(headers: Iterable[tuple[str, str]]) -> bytes:
    out: list[str] = []
    for name, value in headers:
        out.append(f"{name}: {value}{CRLF}")
    return "".join(out).encode("utf-8")


def quoted_printable(text: str) -> bytes:
    raw = text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")
    encoded = body_encode(raw.decode("latin-1"), maxlinelen=76, eol=CRLF)
    return encoded.encode("ascii")


def base64_lines(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def random_bytes(seed: str, size: int) -> Iterator[bytes]:
    """``size`` pseudo-random bytes in blocks, the same for the same ``seed`` on every machine."""
    produced = 0
    block_no = 0
    while produced < size:
        n = min(_BLOCK, size - produced)
        yield random.Random(f"{seed}:{block_no}").randbytes(n)
        produced += n
        block_no += 1


def base64_stream(blocks: Iterable[bytes]) -> Iterator[bytes]:
    """Base64 lines of a stream of blocks (all but the last a multiple of 57 bytes)."""
    for block in blocks:
        yield base64_lines(block)


@dataclass
class Part:
    """One MIME entity: headers plus either a body (a stream of already-encoded bytes) or parts."""

    headers: list[tuple[str, str]]
    body: Iterable[bytes] = ()
    parts: list[Part] = field(default_factory=list)
    boundary: str | None = None

    def render(self) -> Iterator[bytes]:
        yield header_lines(self.headers)
        yield CRLF.encode()
        if self.parts:
            assert self.boundary is not None
            marker = f"--{self.boundary}".encode()
            for part in self.parts:
                yield marker + b"\r\n"
                yield from part.render()
                yield b"\r\n"
            yield marker + b"--\r\n"
        else:
            yield from self.body


def multipart(subtype: str, boundary: str, parts: list[Part], extra: str = "") -> Part:
    return Part(
        headers=[("Content-Type", f'multipart/{subtype};{CRLF}\tboundary="{boundary}"{extra}')],
        parts=parts,
        boundary=boundary,
    )


def text_part(text: str, subtype: str = "plain") -> Part:
    return Part(
        headers=[
            ("Content-Type", f'text/{subtype}; charset="utf-8"'),
            ("Content-Transfer-Encoding", "quoted-printable"),
        ],
        body=[quoted_printable(text)],
    )


def attachment_part(
    name: str,
    content_type: str,
    body: Iterable[bytes],
    size: int,
    *,
    inline_cid: str | None = None,
    date: str = "",
) -> Part:
    """A base64 attachment; ``body`` yields the encoded lines."""
    encoded_name = encode_words(name, "Content-Type") if not is_ascii(name) else name
    headers = [
        ("Content-Type", f'{content_type}; name="{encoded_name}"'),
        ("Content-Description", encoded_name),
    ]
    if inline_cid:
        headers.append(("Content-Disposition", f'inline; filename="{encoded_name}"; size={size};'))
        headers.append(("Content-ID", f"<{inline_cid}>"))
    else:
        disposition = f'attachment; filename="{encoded_name}"; size={size}'
        if date:
            disposition += f';{CRLF}\tcreation-date="{date}";{CRLF}\tmodification-date="{date}"'
        headers.append(("Content-Disposition", disposition))
    headers.append(("Content-Transfer-Encoding", "base64"))
    return Part(headers=headers, body=body)


# -- deterministic file contents -------------------------------------------------------------------


def png_image(seed: str, width: int = 64, height: int = 48) -> bytes:
    """A small valid PNG (a colour gradient) derived from ``seed``."""
    rng = random.Random(seed)
    r0, g0, b0 = rng.randrange(256), rng.randrange(256), rng.randrange(256)
    rows = bytearray()
    for y in range(height):
        rows.append(0)
        for x in range(width):
            rows += bytes(((r0 + x * 3) % 256, (g0 + y * 4) % 256, (b0 + x + y) % 256))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + chunk(b"IEND", b"")
    )


def pdf_document(seed: str, title: str, size: int) -> Iterator[bytes]:
    """A PDF-looking document of exactly ``size`` bytes (header, text, random filler, trailer)."""
    head = (
        f"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Title ({_pdf_escape(title)}) /Producer (Capstone "
        f"simulator) >>\nendobj\n"
    ).encode("latin-1", "replace")
    tail = b"\n%%EOF\n"
    filler = max(0, size - len(head) - len(tail))
    yield head
    yield from random_bytes(seed, filler)
    yield tail


def _pdf_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def office_document(seed: str, title: str, kind: str) -> bytes:
    """A small, valid Office Open XML package (docx or xlsx) with fixed timestamps."""
    import io
    import zipfile

    buffer = io.BytesIO()
    stamp = (2026, 1, 1, 0, 0, 0)
    rng = random.Random(seed)
    words = " ".join(rng.choice(_FILLER_WORDS) for _ in range(120))
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:

        def put(name: str, text: str) -> None:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, text.encode("utf-8"))

        if kind == "docx":
            put(
                "[Content_Types].xml",
                '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
                'package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/>'
                '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
                'officedocument.wordprocessingml.document.main+xml"/></Types>',
            )
            put(
                "word/document.xml",
                '<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats'
                f'.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>{_xml_escape(title)}</w:t>'
                f"</w:r></w:p><w:p><w:r><w:t>{_xml_escape(words)}</w:t></w:r></w:p></w:body></w:document>",
            )
        else:
            put(
                "[Content_Types].xml",
                '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
                'package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/>'
                '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
                'officedocument.spreadsheetml.sheet.main+xml"/></Types>',
            )
            cells = "".join(
                f'<row r="{n}"><c r="A{n}" t="inlineStr"><is><t>Post {n}</t></is></c>'
                f'<c r="B{n}"><v>{rng.randrange(1000, 990000)}</v></c></row>'
                for n in range(1, 21)
            )
            put(
                "xl/workbook.xml",
                '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/'
                f'spreadsheetml/2006/main"><sheets><sheet name="{_xml_escape(title[:30])}" sheetId="1"/>'
                f"</sheets><sheetData>{cells}</sheetData></workbook>",
            )
    return buffer.getvalue()


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_FILLER_WORDS = (
    "gemeente",
    "raad",
    "college",
    "besluit",
    "begroting",
    "voorstel",
    "inwoners",
    "beleid",
    "uitvoering",
    "financiën",
    "planning",
    "overleg",
    "advies",
    "rapportage",
    "wijk",
    "openbare",
    "ruimte",
    "project",
    "evaluatie",
    "coördinatie",
)
