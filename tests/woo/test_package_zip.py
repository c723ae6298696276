"""The package's zip bundles stay within the limit and hold exactly the PDFs; a file too large for
any zip stops the publication."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from capstone.woo.package import _bundle
from capstone.woo.package_pdf import PublishError


def test_bundles_stay_within_the_limit_and_hold_every_pdf(tmp_path: Path) -> None:
    (tmp_path / "documenten").mkdir()
    pdfs = []
    for number in range(1, 6):
        path = tmp_path / "documenten" / f"{number}.pdf"
        path.write_bytes(b"%PDF-1.7\n" + bytes([number]) * 1500)
        pdfs.append(path)
    bundles = _bundle(tmp_path, pdfs, "Z_2026_1", 4000)
    assert len(bundles) == 3 and all(b.stat().st_size <= 4000 for b in bundles)
    names = [n for b in bundles for n in zipfile.ZipFile(b).namelist()]
    assert names == [p.name for p in pdfs]
    for bundle in bundles:
        with zipfile.ZipFile(bundle) as archive:
            for name in archive.namelist():
                assert archive.read(name) == (tmp_path / "documenten" / name).read_bytes()


def test_a_pdf_larger_than_the_limit_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "1.pdf"
    big.write_bytes(b"%PDF-" + b"x" * 5000)
    with pytest.raises(PublishError, match="does not fit in a zip"):
        _bundle(tmp_path, [big], "Z_2026_1", 4000)
