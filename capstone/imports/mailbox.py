"""Historic mailboxes: MBOX files, folders of EML/MBOX/MSG files, MSG files and PST/OST files.

- MBOX: split at ``From `` lines that follow a blank line (or start the file), found by ``memmem``
  over a mapping of the file (1 MiB reads where a file cannot be mapped), so memory holds about one
  message at a time. Each message is stored byte-exact as it stands in the file
  (the ``From_`` separator line is recorded in the record, not stored in the blob; ``>From`` quoting
  is left as it is). Folder path: the file's path below the imported folder without its extension
  (Thunderbird's ``Inbox.sbd/Projecten`` becomes ``Inbox/Projecten``).
- EML: each file is one message, byte-exact; folder path: its folder below the imported folder.
- MSG (``extract-msg``) and PST/OST (``libpff-python``): Outlook's own formats are converted to MIME
  (the transport headers as received where the file keeps them, plain, HTML and RTF bodies,
  attachments), and each converted message says so in ``X-Capstone-Converted-From``; the original
  MSG or PST file is stored in the vault as received, so the conversion can be redone.
"""

from __future__ import annotations

import contextlib
import ctypes
import email.utils
import hashlib
import mimetypes
import mmap
import os
import re
import subprocess
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.parser import HeaderParser
from email.policy import SMTP
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Protocol, TypeVar

from capstone.imports.model import ImportRefused
from capstone.pychild import python_command, python_env
from vault.spans import FileSpan

CHUNK = 1 << 20
_SEPARATOR = b"\n\nFrom "
_SEPARATOR_RE = re.compile(re.escape(_SEPARATOR))  # sre's literal search beats bytes.find here
_RELEASE = 64 << 20  # the mapped pages already passed are given back every 64 MiB
_COUNT_WINDOW = 4 << 20  # the separators are counted 4 MiB at a time
# An MBOX at least this large is counted by a process of its own (see count_mbox_apart).
COUNT_APART_BYTES = 64 << 20
COUNT_NICENESS = 19  # ... at the lowest priority (see count_mbox_apart)
_HURRY_POLL = 0.05  # seconds between looks at whether that process is done or must hurry
_SKIP_HEADERS = frozenset({"content-type", "content-transfer-encoding", "mime-version"})
_M = TypeVar("_M")  # what a splitter over a mapping yields for a message: its bytes, or its span


@dataclass(frozen=True)
class MailItem:
    """One message to store: its bytes, where it lives, and where it came from."""

    folder_path: str
    data: bytes | FileSpan  # the bytes, or where they lie in the source file (an MBOX's message)
    file: str  # path of the source file below the imported folder (or its name)
    position: dict[str, Any] = field(default_factory=dict)  # offset and From_ line, PST identifier...
    converted_from: str | None = None  # "msg" or "pst" when the bytes are a conversion to MIME

    @property
    def size(self) -> int:
        return self.data.length if isinstance(self.data, FileSpan) else len(self.data)


def _folder_of(relative: PurePosixPath, prefix: str | None) -> str:
    parts = [p[: -len(".sbd")] if p.endswith(".sbd") else p for p in relative.parent.parts]
    return "/".join([*(prefix.strip("/").split("/") if prefix else []), *parts])


# -- MBOX ----------------------------------------------------------------------------------------------


def is_mbox(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(5) == b"From "


def iter_mbox(path: Path) -> Iterator[tuple[int, bytes, bytes]]:
    """(offset of the From_ line, the From_ line, the message bytes) for every message, streamed.

    The file is mapped, not read: the separators are found by a search over the mapping (the C
    library's ``memmem``, which runs without the GIL, where there is one) and each message is
    copied out of it once (no per-line work, no chunk joins); the pages already passed are given
    back as it goes, so memory holds about one message at a time."""
    return _split_mbox(path, _iter_mbox_view)


def iter_mbox_spans(path: Path) -> Iterator[tuple[int, bytes, FileSpan | bytes]]:
    """As :func:`iter_mbox`, but each message as where it lies in the file (a
    :class:`~vault.spans.FileSpan`: nothing copied, for the vault's span writers to read where
    they write); a file that cannot be mapped (read in chunks) yields the bytes themselves."""
    name = str(path.absolute())

    def spans(path: Path, view: mmap.mmap, finder: _Finder) -> Iterator[tuple[int, bytes, FileSpan]]:
        for start, from_line, offset, length in _mbox_view_spans(path, view, finder):
            yield start, from_line, FileSpan(name, offset, length)

    return _split_mbox(path, spans)


def _split_mbox(
    path: Path, over_view: Callable[[Path, mmap.mmap, _Finder], Iterator[tuple[int, bytes, _M]]]
) -> Iterator[tuple[int, bytes, _M | bytes]]:
    with path.open("rb") as handle:
        if handle.read(5) != b"From ":
            raise ImportRefused(f"{path}: not an MBOX file (it does not start with a 'From ' line)")
        try:
            view = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):  # a file that cannot be mapped: read in chunks
            handle.seek(0)
            yield from _iter_mbox_chunks(path, handle)
            return
        with view:
            finder = _separator_finder(view, handle.fileno())
            try:
                yield from over_view(path, view, finder)
            finally:
                finder.close()


class _Finder(Protocol):
    def find(self, start: int) -> int:
        """Where the next separator at or after ``start`` begins, or -1."""
        ...

    def release(self, offset: int, length: int) -> None:
        """The pages of this (page-aligned) range are passed: give them back."""
        ...

    def close(self) -> None: ...


class _RegexFinder:
    """sre's literal search over the mapping (it beats ``bytes.find`` here), holding the GIL."""

    def __init__(self, view: mmap.mmap) -> None:
        self._view = view
        self._search = _SEPARATOR_RE.search

    def find(self, start: int) -> int:
        found = self._search(self._view, start)
        return -1 if found is None else found.start()

    def release(self, offset: int, length: int) -> None:
        pass  # the view's own pages: released by the splitter

    def close(self) -> None:
        pass


class _Libc:
    """``memmem(3)``, ``mmap(2)``, ``madvise(2)`` and ``munmap(2)`` of the C library, typed."""

    def __init__(self) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        self.memmem = libc.memmem
        self.memmem.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t)
        self.memmem.restype = ctypes.c_void_p
        self.mmap = libc.mmap
        address, size, number = ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int
        self.mmap.argtypes = (address, size, number, number, number, ctypes.c_int64)  # off_t: 64-bit
        self.mmap.restype = ctypes.c_void_p
        self.madvise = libc.madvise
        self.madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
        self.madvise.restype = ctypes.c_int
        self.munmap = libc.munmap
        self.munmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t)
        self.munmap.restype = ctypes.c_int


def _load_libc() -> _Libc | None:
    try:
        return _Libc()
    except (OSError, AttributeError):
        return None


_libc = _load_libc()
_MAP_FAILED = ctypes.c_void_p(-1).value


class _MemmemFinder:
    """The C library's ``memmem`` over a read-only mapping of the file of its own (made with the C
    library's ``mmap``: Python's read-only ``mmap`` lends ctypes no address, and a private
    writable one is charged against memory as if it could all be written, so a file larger than
    memory could not be mapped). Called through ctypes, ``memmem`` runs without the GIL (the
    MBOX is scanned once, all of it, while other threads of the import write blobs and records)
    and faster than sre's search besides. Both mappings share the file's page cache."""

    def __init__(self, fd: int, size: int, libc: _Libc) -> None:
        base = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
        if base is None or base == _MAP_FAILED:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code))
        self._base: int = base
        self._size = size
        self._libc = libc
        libc.madvise(base, size, mmap.MADV_SEQUENTIAL)

    def find(self, start: int) -> int:
        if start >= self._size:
            return -1
        found = self._libc.memmem(self._base + start, self._size - start, _SEPARATOR, len(_SEPARATOR))
        return -1 if not found else int(found) - self._base

    def release(self, offset: int, length: int) -> None:
        self._libc.madvise(self._base + offset, length, mmap.MADV_DONTNEED)

    def close(self) -> None:
        if self._size:
            self._libc.munmap(self._base, self._size)
            self._size = 0


def _separator_finder(view: mmap.mmap, fd: int) -> _Finder:
    """memmem where the C library has it and the file maps, sre's search otherwise."""
    if _libc is not None and len(view) > 0:
        with contextlib.suppress(OSError):
            return _MemmemFinder(fd, len(view), _libc)
    return _RegexFinder(view)


def _iter_mbox_view(path: Path, view: mmap.mmap, finder: _Finder) -> Iterator[tuple[int, bytes, bytes]]:
    for start, from_line, offset, length in _mbox_view_spans(path, view, finder):
        yield start, from_line, view[offset : offset + length]


def _mbox_view_spans(path: Path, view: mmap.mmap, finder: _Finder) -> Iterator[tuple[int, bytes, int, int]]:
    """(offset of the From_ line, the From_ line, offset of the message bytes, their length) for
    every message of the mapped MBOX; the pages passed are given back as it goes."""
    with contextlib.suppress(AttributeError, OSError):
        view.madvise(mmap.MADV_SEQUENTIAL)
    start = 0  # the current message's From_ line
    released = 0  # the mapping before this is given back (page-aligned)
    while True:
        found = finder.find(start + 1)
        end = len(view) if found < 0 else found + 1
        line_end = view.find(b"\n", start, end)
        if line_end < 0:
            raise ImportRefused(f"{path}: damaged MBOX: a 'From ' line at byte {start} has no message")
        from_line = view[start:line_end].rstrip(b"\r")
        length = end - (line_end + 1)
        if found < 0:
            if length >= 2 and view[end - 2 : end] == b"\n\n":
                length -= 1  # the blank line that closes the file belongs to the format
            yield start, from_line, line_end + 1, length
            return
        yield start, from_line, line_end + 1, length
        start = end + 1
        if start - released >= _RELEASE:
            upto = start - start % mmap.PAGESIZE
            with contextlib.suppress(AttributeError, OSError, ValueError):
                view.madvise(mmap.MADV_DONTNEED, released, upto - released)
            finder.release(released, upto - released)
            released = upto


def _iter_mbox_chunks(path: Path, handle: BinaryIO) -> Iterator[tuple[int, bytes, bytes]]:
    """The same split over reads of ``CHUNK`` (for a file that cannot be mapped)."""
    buffer = handle.read(CHUNK)
    base = 0  # file offset of buffer[0]
    start = 0  # where the current message's From_ line starts in buffer
    search = 1  # where to look for the next separator (never rescans what was searched)
    eof = False
    while True:
        found = buffer.find(_SEPARATOR, max(search, start + 1))
        if found < 0:
            if eof:
                yield from _split_one(path, base + start, buffer[start:], last=True)
                return
            chunk = handle.read(CHUNK)
            if not chunk:
                eof = True
            buffer = buffer[start:] + chunk
            base += start
            search = max(1, len(buffer) - len(chunk) - len(_SEPARATOR))
            start = 0
            continue
        yield from _split_one(path, base + start, buffer[start : found + 1], last=False)
        start = search = found + 2


def count_mbox(path: Path) -> int:
    """The messages of an MBOX counted by a scan of its separators (sre's ``findall`` over the
    mapped file, no per-message copies): the reconciliation's independent count of what the
    splitter must deliver (which finds them with ``memmem``: another search, another code path)."""
    if path.stat().st_size == 0 or not is_mbox(path):
        raise ImportRefused(f"{path}: not an MBOX file (it does not start with a 'From ' line)")
    with path.open("rb") as handle:
        try:
            view = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):
            return _count_mbox_chunks(handle)
        with view:
            with contextlib.suppress(AttributeError, OSError):
                view.madvise(mmap.MADV_SEQUENTIAL)
            count, position = 1, 0
            # A window at a time (the GIL is held for one; the pages counted are given back).
            while position < len(view):
                upto = min(len(view), position + _COUNT_WINDOW)
                # A separator starting in this window (it may end in the next one).
                count += len(
                    _SEPARATOR_RE.findall(view, position, min(len(view), upto + len(_SEPARATOR) - 1))
                )
                with contextlib.suppress(AttributeError, OSError, ValueError):
                    view.madvise(mmap.MADV_DONTNEED, position, upto - position)
                position = upto
    return count


def count_mbox_apart(path: Path, hurry: threading.Event | None = None) -> int:
    """:func:`count_mbox` in a Python process of its own, for a large MBOX counted while it is
    imported. In a thread, the count's search holds the interpreter lock for milliseconds at a time
    (a 2 GB MBOX: about a second in all), and the threads that split, hash and write the import wait
    for it: measured, the import of 20,000 messages of 100 kB ran 15 % slower with the count in a
    thread. Apart, it is an independent count (another process, another search) of what the
    splitter must deliver.

    The process runs at the lowest priority (``nice`` :data:`COUNT_NICENESS`), on the cycles the
    import leaves idle rather than on those its threads wait for. On a busy host such a process may
    fall behind: once ``hurry`` is set (the import has read every message) and it is still
    counting, it is stopped and the file is counted here instead, at the caller's priority."""
    code = (
        "import os, sys; os.nice(int(sys.argv[2])); from pathlib import Path; "
        "from capstone.imports.mailbox import count_mbox; print(count_mbox(Path(sys.argv[1])))"
    )
    # This interpreter and this module (capstone.pychild); the path is an argument, never part of
    # the code. Its output is a number, or on a failure a traceback: both far below a pipe's
    # buffer, read at the end.
    process = subprocess.Popen(
        python_command("-c", code, str(path), str(COUNT_NICENESS)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=python_env(),
    )
    try:
        if hurry is not None:
            while process.poll() is None and not hurry.wait(_HURRY_POLL):
                pass
            if process.poll() is None:  # hurried while still counting: stop it, and count here
                process.kill()
                process.communicate()
                return count_mbox(path)
        out, err = process.communicate()
    except BaseException:
        process.kill()
        process.communicate()
        raise
    if process.returncode != 0:
        last = (err.strip().splitlines() or ["no message"])[-1]
        raise ImportRefused(f"{path}: the MBOX could not be counted: {last}")
    return int(out)


def _count_mbox_chunks(handle: BinaryIO) -> int:
    count, tail = 1, b""
    for chunk in iter(lambda: handle.read(16 * CHUNK), b""):
        data = tail + chunk
        count += data.count(_SEPARATOR)
        tail = data[-(len(_SEPARATOR) - 1) :]
    return count


def _split_one(path: Path, offset: int, block: bytes, *, last: bool) -> Iterator[tuple[int, bytes, bytes]]:
    end = block.find(b"\n")
    if end < 0:
        raise ImportRefused(f"{path}: damaged MBOX: a 'From ' line at byte {offset} has no message")
    from_line = block[:end].rstrip(b"\r")
    message = block[end + 1 :]
    if last and message.endswith(b"\n\n"):
        message = message[:-1]  # the blank line that closes the file belongs to the format
    yield offset, from_line, message


# -- MSG and PST: conversion to MIME ---------------------------------------------------------------------


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace").rstrip("\x00")
    return str(value)


def build_mime(
    *,
    transport_headers: str,
    subject: str,
    sender: str,
    to: str,
    cc: str,
    date: datetime | None,
    plain: str,
    html: str,
    rtf: bytes,
    attachments: list[tuple[str, bytes]],
    converted_from: str,
    origin: str,
) -> bytes:
    """A MIME message from Outlook properties; the transport headers as received where there are
    some (less the ones describing a body that is rebuilt here)."""
    message = EmailMessage(policy=SMTP)
    kept: set[str] = set()
    if transport_headers.strip():
        parsed = HeaderParser().parsestr(transport_headers.replace("\r\n", "\n").strip() + "\n\n")
        for name, value in parsed.items():
            if name.lower() in _SKIP_HEADERS:
                continue
            try:
                message[name] = " ".join(str(value).split())
                kept.add(name.lower())
            except (ValueError, TypeError):
                continue
    for name, value in (("Subject", subject), ("From", sender), ("To", to), ("Cc", cc)):
        if value and name.lower() not in kept:
            message[name] = value
    if date is not None and "date" not in kept:
        message["Date"] = email.utils.format_datetime(date if date.tzinfo else date.replace(tzinfo=None))
    message["X-Capstone-Converted-From"] = f"{converted_from}; {origin}"
    message.set_content(plain or ("" if html else "(geen tekst)"))
    if html:
        message.add_alternative(html, subtype="html")
    if rtf:
        message.add_attachment(rtf, maintype="text", subtype="rtf", filename="body.rtf")
    for name, data in attachments:
        media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        maintype, subtype = media_type.split("/", 1)
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message.as_bytes()


def convert_msg(path: Path) -> bytes:
    """An Outlook ``.msg`` file as MIME (``extract-msg``)."""
    import extract_msg

    try:
        msg: Any = extract_msg.openMsg(str(path))
    except Exception as exc:  # extract-msg raises many types for a damaged file
        raise ImportRefused(
            f"{path}: not a readable Outlook MSG file ({type(exc).__name__}: {exc})"
        ) from None
    try:
        header = msg.header
        headers = header.as_string() if header is not None else ""
        attachments = []
        for attachment in msg.attachments:
            data = getattr(attachment, "data", None)
            name = getattr(attachment, "longFilename", None) or getattr(attachment, "name", None) or "bijlage"
            if isinstance(data, bytes):
                attachments.append((str(name), data))
        html = msg.htmlBody
        date = msg.date if isinstance(msg.date, datetime) else None
        return build_mime(
            transport_headers=headers,
            subject=_text(msg.subject),
            sender=_text(msg.sender),
            to=_text(msg.to),
            cc=_text(msg.cc),
            date=date,
            plain=_text(msg.body),
            html=_text(html),
            rtf=msg.rtfBody or b"" if not msg.body and not html else b"",
            attachments=attachments,
            converted_from="msg",
            origin=path.name,
        )
    finally:
        msg.close()


class PstFile:
    """A PST/OST file read with libpff: every folder, every message converted to MIME."""

    def __init__(self, path: Path) -> None:
        import pypff

        self.path = path
        self._file = pypff.file()
        try:
            self._file.open(str(path))
        except OSError as exc:
            raise ImportRefused(f"{path}: not a readable PST/OST file ({exc})") from None

    def close(self) -> None:
        self._file.close()

    def _folders(self) -> Iterator[tuple[str, Any]]:
        stack = [("", self._file.get_root_folder())]
        while stack:
            path, folder = stack.pop(0)
            yield path, folder
            for index in range(folder.get_number_of_sub_folders()):
                sub = folder.get_sub_folder(index)
                stack.append((f"{path}/{sub.get_name() or index}".lstrip("/"), sub))

    def count(self) -> int:
        return sum(folder.get_number_of_sub_messages() for _, folder in self._folders())

    def messages(self, prefix: str | None) -> Iterator[MailItem]:
        for folder_path, folder in self._folders():
            for index in range(folder.get_number_of_sub_messages()):
                message = folder.get_sub_message(index)
                data = self._convert(message, folder_path)
                yield MailItem(
                    folder_path="/".join(p for p in (prefix, folder_path) if p),
                    data=data,
                    file=self.path.name,
                    position={
                        "pst_folder": folder_path,
                        "pst_identifier": message.get_identifier(),
                        "index": index,
                    },
                    converted_from="pst",
                )

    def _convert(self, message: Any, folder_path: str) -> bytes:
        attachments: list[tuple[str, bytes]] = []
        for index in range(message.get_number_of_attachments()):
            attachment = message.get_attachment(index)
            try:
                size = attachment.get_size()
                data = attachment.read_buffer(size) if size else b""
                name = attachment.get_long_filename() or f"bijlage-{index + 1}"
            except (OSError, AttributeError, TypeError):
                name, data = f"bijlage-{index + 1}.onleesbaar", b""
            attachments.append((str(name), bytes(data)))
        date = message.get_client_submit_time() or message.get_delivery_time()
        return build_mime(
            transport_headers=_text(message.get_transport_headers()),
            subject=_text(message.get_subject()),
            sender=_text(message.get_sender_name()),
            to="",
            cc="",
            date=date,
            plain=_text(message.get_plain_text_body()),
            html=_text(message.get_html_body()),
            rtf=bytes(message.get_rtf_body() or b"")
            if not message.get_plain_text_body() and not message.get_html_body()
            else b"",
            attachments=attachments,
            converted_from="pst",
            origin=f"{self.path.name} {folder_path} #{message.get_identifier()}",
        )


# -- a source: one file or a folder ----------------------------------------------------------------------


@dataclass
class MailboxSource:
    """What ``import mailbox`` reads: its files by kind, validated before anything is written."""

    root: Path
    prefix: str | None = None
    files: list[tuple[str, Path]] = field(default_factory=list)  # (kind, path): mbox, eml, msg, pst

    @classmethod
    def open(cls, root: Path, prefix: str | None = None) -> MailboxSource:
        if not root.exists():
            raise ImportRefused(f"{root}: no such file or folder")
        source = cls(root, prefix)
        candidates = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        unknown = []
        for path in candidates:
            kind = _kind_of(path)
            if kind is None:
                unknown.append(path)
            else:
                source.files.append((kind, path))
        if unknown:
            names = ", ".join(str(p.relative_to(root) if root.is_dir() else p) for p in unknown[:5])
            raise ImportRefused(f"{root}: {len(unknown)} file(s) are no MBOX, EML, MSG or PST: {names}")
        if not source.files:
            raise ImportRefused(f"{root}: no mail files")
        return source

    def relative(self, path: Path) -> PurePosixPath:
        return (
            PurePosixPath(path.relative_to(self.root).as_posix())
            if self.root.is_dir()
            else PurePosixPath(path.name)
        )

    def originals(self) -> list[Path]:
        """Files whose messages are conversions: stored whole as received."""
        return [p for kind, p in self.files if kind in ("msg", "pst")]

    def validate(self) -> int:
        """The number of messages in the source; refuses a damaged or unreadable file."""
        return self.validate_counting(None).result()

    def validate_counting(self, pool: Executor | None, hurry: threading.Event | None = None) -> Future[int]:
        """Refuses a damaged or unreadable file, as :meth:`validate`; the number of messages in the
        source comes as a future. An MBOX is checked here (its first line: nothing further in it
        can refuse it, as every later ``From_`` line follows a line end) and with ``pool``, its
        messages are counted there while the import reads on (a large MBOX's by a process of its
        own, :func:`count_mbox_apart`, which counts in-process instead once ``hurry`` is set while
        it is still at work): the count is the reconciliation's, not a check that could stop the
        import before it writes."""
        total = 0
        counts: list[Future[int]] = []
        for kind, path in self.files:
            if kind == "mbox":
                if path.stat().st_size == 0 or not is_mbox(path):
                    raise ImportRefused(f"{path}: not an MBOX file (it does not start with a 'From ' line)")
                if pool is None:
                    total += count_mbox(path)
                else:
                    large = path.stat().st_size >= COUNT_APART_BYTES
                    if large:
                        counts.append(pool.submit(count_mbox_apart, path, hurry))
                    else:
                        counts.append(pool.submit(count_mbox, path))
            elif kind == "eml":
                _check_eml(path)
                total += 1
            elif kind == "msg":
                convert_msg(path)
                total += 1
            else:
                pst = PstFile(path)
                try:
                    total += pst.count()
                finally:
                    pst.close()
        if not counts:
            done: Future[int] = Future()
            done.set_result(total)
            return done
        combined: Future[int] = Future()
        remaining = [len(counts)]
        lock = threading.Lock()

        def add(future: Future[int]) -> None:
            nonlocal total
            with lock:
                if combined.done():
                    return
                error = future.exception()
                if error is not None:
                    combined.set_exception(error)
                    return
                total += future.result()
                remaining[0] -= 1
                if remaining[0] == 0:
                    combined.set_result(total)

        for count in counts:
            count.add_done_callback(add)
        return combined

    def items(self) -> Iterator[MailItem]:
        for kind, path in self.files:
            relative = self.relative(path)
            if kind == "mbox":
                stem = relative.with_suffix("") if relative.suffix.lower() in (".mbox", ".mbx") else relative
                folder = _folder_of(stem / "x", self.prefix)
                for offset, from_line, content in iter_mbox_spans(path):
                    yield MailItem(
                        folder,
                        content,
                        str(relative),
                        {"offset": offset, "from_line": from_line.decode("latin-1")},
                    )
            elif kind == "eml":
                yield MailItem(_folder_of(relative, self.prefix), path.read_bytes(), str(relative))
            elif kind == "msg":
                yield MailItem(
                    _folder_of(relative, self.prefix), convert_msg(path), str(relative), converted_from="msg"
                )
            else:
                pst = PstFile(path)
                try:
                    yield from pst.messages(_folder_of(relative, self.prefix) or None)
                finally:
                    pst.close()


def _kind_of(path: Path) -> str | None:
    suffix = path.suffix.lower()
    if suffix == ".eml":
        return "eml"
    if suffix == ".msg":
        return "msg"
    if suffix in (".pst", ".ost"):
        return "pst"
    if suffix in (".mbox", ".mbx", "") or path.name.lower() in ("inbox", "sent", "mbox"):
        return "mbox" if is_mbox(path) else None
    if suffix in (".msf", ".dat", ".json", ".ds_store") or path.name.startswith("."):
        return None
    return "mbox" if is_mbox(path) else None


def _check_eml(path: Path) -> None:
    with path.open("rb") as handle:
        head = handle.read(64 * 1024)
    text = head.decode("latin-1")
    first = text.split("\n", 1)[0]
    if ":" not in first or first.startswith((" ", "\t")):
        raise ImportRefused(f"{path}: not an EML message (no header on its first line)")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
