"""Office documents to PDF/A-2b with LibreOffice headless (Debian: libreoffice-writer-nogui,
libreoffice-calc-nogui, libreoffice-impress-nogui).

Each conversion runs ``soffice`` in a fresh temporary folder with a private user profile
(``-env:UserInstallation``), so conversions never share or lock a profile, under a time limit after
which its whole process group is killed. A conversion that does not yield a readable PDF is a
:class:`Converted` with the reason, never an exception and never silently nothing.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pymupdf

DEFAULT_TIMEOUT = 120.0
# LibreOffice's PDF export filter options: SelectPdfVersion 2 = PDF/A-2b.
_PDFA2B = '{"SelectPdfVersion":{"type":"long","value":"2"}}'
PDFA = "PDF/A-2B"
_FILTERS = {
    "writer": "writer_pdf_Export",
    "calc": "calc_pdf_Export",
    "impress": "impress_pdf_Export",
    "draw": "draw_pdf_Export",
}
OFFICE_SUFFIXES: dict[str, str] = {
    ".docx": "writer",
    ".docm": "writer",
    ".doc": "writer",
    ".dotx": "writer",
    ".odt": "writer",
    ".ott": "writer",
    ".rtf": "writer",
    ".wpd": "writer",
    ".xlsx": "calc",
    ".xlsm": "calc",
    ".xls": "calc",
    ".ods": "calc",
    ".ots": "calc",
    ".pptx": "impress",
    ".pptm": "impress",
    ".ppt": "impress",
    ".ppsx": "impress",
    ".pps": "impress",
    ".odp": "impress",
    ".otp": "impress",
    ".odg": "draw",
    ".vsdx": "draw",
}
OFFICE_MEDIA_TYPES: dict[str, str] = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/msword": ".doc",
    "application/vnd.oasis.opendocument.text": ".odt",
    "application/rtf": ".rtf",
    "text/rtf": ".rtf",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/vnd.ms-excel": ".xls",
    "application/vnd.oasis.opendocument.spreadsheet": ".ods",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ".pptx",
    "application/vnd.ms-powerpoint": ".ppt",
    "application/vnd.oasis.opendocument.presentation": ".odp",
    "application/vnd.oasis.opendocument.graphics": ".odg",
}


@dataclass(frozen=True)
class Converted:
    pdf: bytes | None
    failure: str | None


def soffice() -> str | None:
    """The LibreOffice program, or None when it is not installed."""
    return shutil.which("soffice") or shutil.which("libreoffice")


@functools.cache
def libreoffice_version() -> str:
    """``LibreOffice 7.4.7.2 …`` → ``7.4.7.2``; "" when LibreOffice is not installed."""
    program = soffice()
    if program is None:
        return ""
    with tempfile.TemporaryDirectory(prefix="capstone-lo-") as work:
        try:
            done = subprocess.run(
                [program, f"-env:UserInstallation={Path(work).as_uri()}", "--version"],
                capture_output=True,
                text=True,
                timeout=60,
                env={**os.environ, "HOME": work},
            )
        except (OSError, subprocess.TimeoutExpired):
            return "unknown"
    words = done.stdout.split()
    return (
        words[1] if len(words) > 1 and words[0] == "LibreOffice" else (done.stdout.strip()[:40] or "unknown")
    )


def office_suffix(filename: str, media_type: str = "") -> str | None:
    """The suffix LibreOffice converts this file by (from its name, else its media type)."""
    suffix = Path(filename).suffix.lower()
    if suffix in OFFICE_SUFFIXES:
        return suffix
    return OFFICE_MEDIA_TYPES.get(media_type.split(";", 1)[0].strip().lower())


def _run(command: list[str], cwd: str, timeout: float) -> tuple[int | None, str]:
    """Run ``command`` in its own process group; on time-out the group is killed. Returns the exit
    code (None: timed out) and the tail of its output."""
    process = subprocess.Popen(
        command,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, "HOME": cwd, "SAL_USE_VCLPLUGIN": "svp"},
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return None, ""
    return process.returncode, output.decode("utf-8", "replace")[-300:]


def convert_office(data: bytes, suffix: str, *, timeout: float = DEFAULT_TIMEOUT) -> Converted:
    """``data`` (an office document of type ``suffix``, e.g. ``.docx``) as PDF/A-2b."""
    family = OFFICE_SUFFIXES.get(suffix.lower())
    if family is None:
        return Converted(None, f"geen conversie voor bestandstype {suffix or '(onbekend)'}")
    program = soffice()
    if program is None:
        return Converted(None, "LibreOffice (soffice) is niet geïnstalleerd")
    with tempfile.TemporaryDirectory(prefix="capstone-lo-") as work:
        source = Path(work) / f"document{suffix.lower()}"
        source.write_bytes(data)
        out = Path(work) / "out"
        command = [
            program,
            f"-env:UserInstallation={(Path(work) / 'profile').as_uri()}",
            "--headless",
            "--invisible",
            "--norestore",
            "--nologo",
            "--nodefault",
            "--nolockcheck",
            "--convert-to",
            f"pdf:{_FILTERS[family]}:{_PDFA2B}",
            "--outdir",
            str(out),
            str(source),
        ]
        code, output = _run(command, work, timeout)
        if code is None:
            return Converted(None, f"conversie met LibreOffice afgebroken na {timeout:g} s (time-out)")
        target = out / "document.pdf"
        if not target.is_file() or target.stat().st_size == 0:
            lines = [line for line in output.splitlines() if line.strip() and not line.startswith("Warning:")]
            detail = " ".join(" ".join(lines).split())[-200:]
            return Converted(
                None,
                f"LibreOffice kon het bestand niet omzetten (exitcode {code}{': ' + detail if detail else ''})",
            )
        pdf = target.read_bytes()
    try:
        with pymupdf.open(stream=pdf, filetype="pdf") as check:
            pages = check.page_count
    except Exception as exc:
        return Converted(None, f"LibreOffice leverde geen leesbare PDF ({type(exc).__name__})")
    if pages == 0:
        return Converted(None, "LibreOffice leverde een PDF zonder pagina's")
    return Converted(pdf, None)


__all__ = [
    "DEFAULT_TIMEOUT",
    "OFFICE_MEDIA_TYPES",
    "OFFICE_SUFFIXES",
    "PDFA",
    "Converted",
    "convert_office",
    "libreoffice_version",
    "office_suffix",
    "soffice",
]
