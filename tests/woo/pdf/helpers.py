"""Independent checks of a PDF for the Woo PDF tests: poppler's pdftotext and pdftoppm (Debian
poppler-utils), and a byte search of the whole file with every stream decompressed by pypdf (not
by PyMuPDF, which the code under test uses)."""

from __future__ import annotations

import io
import subprocess
import tempfile
from pathlib import Path

from PIL import Image
from pypdf import PdfReader
from pypdf.generic import IndirectObject, StreamObject


def pdftotext(pdf: bytes) -> str:
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "in.pdf"
        path.write_bytes(pdf)
        done = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode("utf-8")


def flat(text: str) -> str:
    """White space folded, so a span broken over lines by a layout is still found."""
    return " ".join(text.split())


def render_page(pdf: bytes, page: int = 1, dpi: int = 72) -> Image.Image:
    """Page ``page`` (1-based) rendered by pdftoppm; at 72 dpi one pixel is one PDF point."""
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "in.pdf"
        path.write_bytes(pdf)
        done = subprocess.run(
            [
                "pdftoppm",
                "-r",
                str(dpi),
                "-f",
                str(page),
                "-l",
                str(page),
                "-png",
                "-singlefile",
                str(path),
                str(Path(work) / "page"),
            ],
            capture_output=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr.decode()
        return Image.open(Path(work) / "page.png").convert("RGB").copy()


def dark_share(image: Image.Image, box: tuple[float, float, float, float], scale: float = 1.0) -> float:
    """The share of nearly black pixels inside ``box`` (PDF points, top-left origin)."""
    x0, y0, x1, y1 = (round(v * scale) for v in box)
    crop = image.crop((x0 + 1, y0 + 1, x1 - 1, y1 - 1))
    pixels = list(crop.get_flattened_data()) if hasattr(crop, "get_flattened_data") else list(crop.getdata())
    dark = sum(1 for r, g, b in pixels if r < 60 and g < 60 and b < 60)
    return dark / max(1, len(pixels))


def all_bytes(pdf: bytes) -> bytes:
    """The file's bytes followed by every object: dictionaries as text, streams decompressed."""
    reader = PdfReader(io.BytesIO(pdf))
    chunks = [pdf]
    numbers: set[tuple[int, int]] = set()
    for generation, objects in reader.xref.items():
        numbers.update((number, generation) for number in objects)
    numbers.update((number, 0) for number in reader.xref_objStm)
    for number, generation in sorted(numbers):
        try:
            obj = IndirectObject(number, generation, reader).get_object()
        except Exception:
            continue
        chunks.append(repr(obj).encode("utf-8", "replace"))
        if isinstance(obj, StreamObject):
            try:
                chunks.append(obj.get_data())
            except Exception:
                chunks.append(obj._data)
    return b"\n".join(chunks)


def byte_forms(text: str) -> list[bytes]:
    forms = [text.encode("utf-8"), text.encode("utf-16-be"), text.encode("utf-8").hex().encode()]
    return [f.lower() for f in forms]


def in_bytes(pdf: bytes, text: str) -> bool:
    """Whether ``text`` occurs anywhere in the file (case-insensitive, UTF-8, UTF-16BE or hex)."""
    haystack = all_bytes(pdf).lower()
    return any(form in haystack for form in byte_forms(text))


def tounicode_targets(pdf: bytes) -> set[str]:
    """Every character some font's ToUnicode CMap in ``pdf`` maps a glyph to."""
    import re

    reader = PdfReader(io.BytesIO(pdf))
    found: set[str] = set()
    for page in reader.pages:
        fonts = (page.get("/Resources") or {}).get_object().get("/Font") or {}
        for font in fonts.get_object().values():
            font = font.get_object()
            cmap = font.get("/ToUnicode")
            if cmap is None:
                continue
            data = cmap.get_object().get_data().decode("latin-1")
            for block in re.findall(r"beginbfchar(.*?)endbfchar", data, re.S):
                for target in re.findall(r"<[0-9A-Fa-f]+>\s*<([0-9A-Fa-f]+)>", block):
                    found.add(bytes.fromhex(target).decode("utf-16-be", "replace"))
            for block in re.findall(r"beginbfrange(.*?)endbfrange", data, re.S):
                for low, high, start in re.findall(
                    r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block
                ):
                    first = int(start, 16)
                    for offset in range(int(high, 16) - int(low, 16) + 1):
                        found.add(chr(first + offset))
    return found


def fonts(pdf: bytes) -> list[dict[str, str]]:
    """poppler's pdffonts table: per font its name and whether it is embedded (emb) and has a
    ToUnicode map (uni)."""
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "in.pdf"
        path.write_bytes(pdf)
        done = subprocess.run(["pdffonts", str(path)], capture_output=True, timeout=60, text=True)
    assert done.returncode == 0, done.stderr
    rows = []
    for line in done.stdout.splitlines()[2:]:
        words = line.split()
        if len(words) >= 7:
            rows.append({"name": words[0], "emb": words[-5], "sub": words[-4], "uni": words[-3]})
    return rows
