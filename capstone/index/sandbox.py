"""Attachment text extracted in a separate process with a wall-time and a memory limit per document.

Parsers are not trusted to be quick or small: a 7 KB XLSX whose rows reach column XFD, a DOCX whose
``document.xml`` inflates to millions of elements, a PDF page whose content stream is a decompression
bomb. :class:`ExtractionSandbox` hands each PDF, DOCX or XLSX to a long-lived child process
(``python -m capstone.index.sandbox``) that lowers its own address space with
``setrlimit(RLIMIT_AS)`` before it reads anything, and the parent kills the child when a document
takes longer than the wall-time limit. A document over a limit gets no text, only a note
(``tekst niet geëxtraheerd: ...`` with the reason) on its index document, which keeps its metadata
(name, type, size, SHA-256). The blob's SHA-256 and the reason go into a :class:`RefusalLedger` (a
small SQLite file shared by every process of an installation), so the same attachment in another
mail, or in the next update or rebuild, costs nothing again; raising a limit makes it eligible again.

The child speaks a tiny framed protocol over its stdin/stdout (JSON header + raw bytes in, JSON
out); its own stdout is moved aside first, so nothing a library prints can corrupt the stream.

Example::

    configure(SandboxLimits(seconds=30, memory_mb=1024), ledger_path=home / "extraction-refusals.sqlite3")
    text = extract_attachment_text(data, "application/pdf", "nota.pdf", notes)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import select
import sqlite3
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from capstone.logging import get_logger
from capstone.pychild import python_command, python_env

log = get_logger("index.sandbox")

NOTE_PREFIX = "tekst niet geëxtraheerd: "
_HEADER = struct.Struct(">I")  # length of a JSON header or answer
_SIZE = struct.Struct(">Q")  # length of the document bytes
_READY = b"ready\n"  # the child's first words, once its parsers are loaded and its limits set
STARTUP_SECONDS = 120.0


@dataclass(frozen=True)
class SandboxLimits:
    """Per document: wall-clock seconds, and the child's whole address space in MiB."""

    seconds: float = 30.0
    memory_mb: int = 1024

    @property
    def memory_bytes(self) -> int:
        return self.memory_mb * 1024 * 1024

    def covers(self, other: SandboxLimits) -> bool:
        """True when these limits are no higher than ``other`` in both respects."""
        return self.seconds <= other.seconds and self.memory_mb <= other.memory_mb


@dataclass(frozen=True)
class Refusal:
    sha256: str
    reason: str
    limits: SandboxLimits
    at: str


class RefusalLedger:
    """Blobs whose extraction went over a limit, by SHA-256 (``path`` None: this process only)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._memory: dict[str, Refusal] = {}
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as conn:
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS refusals (sha256 TEXT PRIMARY KEY, reason TEXT NOT NULL, "
                    "seconds REAL NOT NULL, memory_mb INTEGER NOT NULL, at TEXT NOT NULL)"
                )
            os.chmod(path, 0o600)

    def _connect(self) -> sqlite3.Connection:
        assert self.path is not None
        return sqlite3.connect(self.path, timeout=30)

    def get(self, sha256: str) -> Refusal | None:
        if self.path is None:
            return self._memory.get(sha256)
        with self._connect() as conn:
            row = conn.execute(
                "SELECT reason, seconds, memory_mb, at FROM refusals WHERE sha256 = ?", (sha256,)
            ).fetchone()
        if row is None:
            return None
        return Refusal(sha256, str(row[0]), SandboxLimits(float(row[1]), int(row[2])), str(row[3]))

    def put(self, sha256: str, reason: str, limits: SandboxLimits) -> None:
        refusal = Refusal(sha256, reason, limits, datetime.now(UTC).isoformat())
        if self.path is None:
            self._memory[sha256] = refusal
            return
        with self._connect() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO refusals (sha256, reason, seconds, memory_mb, at) VALUES (?, ?, ?, ?, ?)",
                (sha256, reason, limits.seconds, limits.memory_mb, refusal.at),
            )

    def all(self) -> list[Refusal]:
        if self.path is None:
            return list(self._memory.values())
        with self._connect() as conn:
            rows = conn.execute("SELECT sha256, reason, seconds, memory_mb, at FROM refusals").fetchall()
        return [Refusal(str(r[0]), str(r[1]), SandboxLimits(float(r[2]), int(r[3])), str(r[4])) for r in rows]


class _OverLimit(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ExtractionSandbox:
    """One child process at a time, started on demand and again after it was killed."""

    def __init__(self, limits: SandboxLimits | None = None, ledger: RefusalLedger | None = None) -> None:
        self.limits = limits or SandboxLimits()
        self.ledger = ledger or RefusalLedger(None)
        self._child: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self.kills = 0  # children killed or lost over a limit (for tests and the benchmark)

    # -- the parent's side ---------------------------------------------------------------------------

    def extract(self, data: bytes, media_type: str, filename: str, notes: list[str]) -> str:
        """The document's text, or "" with a note when it went over a limit (now or before)."""
        sha256 = hashlib.sha256(data).hexdigest()
        known = self.ledger.get(sha256)
        if known is not None and self.limits.covers(known.limits):
            notes.append(f"{NOTE_PREFIX}{known.reason}")
            return ""
        with self._lock:
            try:
                answer = self._ask(data, media_type, filename)
            except _OverLimit as over:
                self.kills += 1
                self.ledger.put(sha256, over.reason, self.limits)
                log.warning(
                    "attachment_extraction_refused", sha256=sha256, reason=over.reason, size=len(data)
                )
                notes.append(f"{NOTE_PREFIX}{over.reason}")
                return ""
            except RuntimeError:  # no sandbox: no parse in this process either (a rebuild tries again)
                log.error("attachment_sandbox_unavailable", sha256=sha256)
                notes.append(f"{NOTE_PREFIX}extractieproces niet gestart")
                return ""
        notes.extend(str(n) for n in answer.get("notes") or [])
        return str(answer.get("text") or "")

    def _start(self) -> subprocess.Popen[bytes]:
        if self._child is None or self._child.poll() is not None:
            self._child = subprocess.Popen(
                python_command(
                    "-m", "capstone.index.sandbox", str(self.limits.memory_bytes), str(self.limits.seconds)
                ),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=python_env({"PYTHONDONTWRITEBYTECODE": "1"}),
            )
            # Starting (imports) is not the document's time: wait for the child to say it is ready.
            assert self._child.stdout is not None
            try:
                _read_exactly(self._child.stdout, len(_READY), time.monotonic() + STARTUP_SECONDS)
            except (TimeoutError, EOFError):
                self._kill()
                raise RuntimeError("the extraction sandbox process did not start") from None
        return self._child

    def _ask(self, data: bytes, media_type: str, filename: str) -> dict[str, Any]:
        child = self._start()
        assert child.stdin is not None and child.stdout is not None
        header = json.dumps({"media_type": media_type, "filename": filename}).encode()
        deadline = time.monotonic() + self.limits.seconds
        try:
            child.stdin.write(_HEADER.pack(len(header)) + header + _SIZE.pack(len(data)))
            child.stdin.write(data)
            child.stdin.flush()
            size = _HEADER.unpack(_read_exactly(child.stdout, _HEADER.size, deadline))[0]
            answer: dict[str, Any] = json.loads(_read_exactly(child.stdout, size, deadline))
        except TimeoutError:
            self._kill()
            raise _OverLimit(f"tijdslimiet van {self.limits.seconds:g} s overschreden") from None
        except (BrokenPipeError, EOFError, ValueError, struct.error):
            code = self._kill()
            raise _OverLimit(
                f"geheugenlimiet van {self.limits.memory_mb} MB overschreden (verwerker gestopt, code {code})"
            ) from None
        if answer.get("memory"):
            self._kill()  # a heap that hit its limit is not trusted with the next document
            raise _OverLimit(f"geheugenlimiet van {self.limits.memory_mb} MB overschreden")
        return answer

    def _kill(self) -> int | None:
        child, self._child = self._child, None
        if child is None:
            return None
        if child.poll() is None:
            child.kill()
        code = child.wait()
        for stream in (child.stdin, child.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        return code

    def close(self) -> None:
        with self._lock:
            child, self._child = self._child, None
            if child is None:
                return
            try:
                if child.stdin is not None:
                    child.stdin.close()  # the child ends at EOF
                child.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                child.kill()
                child.wait()
            if child.stdout is not None:
                child.stdout.close()


def _read_exactly(stream: IO[bytes], size: int, deadline: float) -> bytes:
    fd = stream.fileno()
    chunks: list[bytes] = []
    missing = size
    while missing:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            raise TimeoutError
        chunk = os.read(fd, min(missing, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


# -- the process-wide sandbox the extractor uses -------------------------------------------------------

_current: ExtractionSandbox | None = None
_config: tuple[SandboxLimits, str | None] = (SandboxLimits(), None)


def configure(limits: SandboxLimits, ledger_path: Path | None = None) -> None:
    """Limits and ledger for this process (and, through :func:`worker_config`, its workers)."""
    global _current, _config
    if _current is not None:
        _current.close()
        _current = None
    _config = (limits, str(ledger_path) if ledger_path else None)


def configure_from_settings(settings: Any) -> None:
    """The installation's limits (``index_extract_seconds``, ``index_extract_memory_mb``) and its
    ledger under ``home``."""
    configure(
        SandboxLimits(
            seconds=float(settings.index_extract_seconds), memory_mb=int(settings.index_extract_memory_mb)
        ),
        Path(settings.home) / "extraction-refusals.sqlite3",
    )


def worker_config() -> tuple[SandboxLimits, str | None]:
    """What a worker process passes to :func:`configure` to use the same limits and ledger."""
    return _config


def current() -> ExtractionSandbox:
    global _current
    if _current is None:
        limits, ledger = _config
        _current = ExtractionSandbox(limits, RefusalLedger(Path(ledger) if ledger else None))
    return _current


def _parser(media_type: str, filename: str) -> tuple[Callable[[bytes, list[str]], str], str] | None:
    """The parser of a PDF, DOCX or XLSX (and its label); None for types that need none."""
    from capstone.index import extract

    kind = extract._effective_type(media_type, filename)
    if kind in extract._PDF:
        return extract._pdf_text, "PDF"
    if kind in extract._DOCX:
        return extract._docx_text, "DOCX"
    if kind in extract._XLSX:
        return extract._xlsx_text, "XLSX"
    return None


def needs_sandbox(media_type: str, filename: str) -> bool:
    """PDF, DOCX and XLSX go through a parser; text and unknown binaries do not."""
    return _parser(media_type, filename) is not None


def extract_attachment_text(data: bytes, media_type: str, filename: str, notes: list[str]) -> str:
    """:func:`capstone.index.extract.attachment_text`, with parsers run inside the sandbox."""
    from capstone.index.extract import attachment_text

    if not needs_sandbox(media_type, filename):
        return attachment_text(data, media_type, filename, notes)
    return current().extract(data, media_type, filename, notes)


# -- the child's side ------------------------------------------------------------------------------------


def _extract_here(data: bytes, media_type: str, filename: str) -> dict[str, Any]:
    """Parse in this (limited) process; a failed allocation, however a parser reports it (Python's
    MemoryError, libxml2's "Memory allocation failed", zlib's "insufficient memory"), is a memory
    answer, any other error a note as :func:`capstone.index.extract.attachment_text` writes it."""
    parser = _parser(media_type, filename)
    if parser is None:
        return {"text": "", "notes": [], "memory": False}
    extractor, label = parser
    notes: list[str] = []
    try:
        text = extractor(data, notes)
    except MemoryError:
        return {"text": "", "notes": [], "memory": True}
    except Exception as exc:
        told = f"{exc} {getattr(exc, 'error_log', '')}".lower()  # libxml2 keeps ERR_NO_MEMORY in its log
        if "memory" in told:
            return {"text": "", "notes": [], "memory": True}
        notes.append(f"attachment text not extracted: unreadable {label} ({type(exc).__name__})")
        text = ""
    return {"text": text, "notes": notes, "memory": False}


def _child(memory_bytes: int, seconds: float) -> None:
    import resource

    # The answer channel is a private copy of stdout; fd 1 becomes stderr, so a library that prints
    # cannot corrupt the protocol.
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    requests = sys.stdin.buffer
    parent = os.getppid()

    def orphaned() -> None:  # the parent gone (killed, even with SIGKILL): stop mid-parse too
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(3)

    threading.Thread(target=orphaned, daemon=True).start()
    import lxml.etree  # noqa: F401  (the parsers load before the limit applies, once)
    import openpyxl  # noqa: F401
    import pypdf  # noqa: F401

    import capstone.index.extract  # noqa: F401

    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    answers.write(_READY)
    answers.flush()
    while True:
        head = requests.read(_HEADER.size)
        if len(head) < _HEADER.size:
            return  # the parent closed the pipe
        header = json.loads(requests.read(_HEADER.unpack(head)[0]))
        data = requests.read(_SIZE.unpack(requests.read(_SIZE.size))[0])
        # A CPU limit per document as well: should the parent be gone (and with it the wall-clock
        # kill), the kernel still ends a parse that runs away (SIGXCPU).
        used = resource.getrusage(resource.RUSAGE_SELF)
        cpu = int(used.ru_utime + used.ru_stime + seconds) + 2
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        answer = _extract_here(data, str(header["media_type"]), str(header["filename"]))
        del data
        try:
            out = json.dumps(answer).encode()
        except MemoryError:
            out = b'{"memory": true}'
        answers.write(_HEADER.pack(len(out)) + out)
        answers.flush()


if __name__ == "__main__":
    _child(int(sys.argv[1]), float(sys.argv[2]))
