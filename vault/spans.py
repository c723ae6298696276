"""Blobs from spans of a file: a bulk importer that knows where each message lies in its source
(an MBOX) hands the vault *where* the bytes are, and the bytes are read where they are written.

One small protocol, two writers, a factory (:func:`span_writer`):

- :class:`InProcessSpanWriter` reads a batch's spans (``pread(2)``) and stores them with
  :meth:`vault.Vault.put_blobs`, in the calling thread. Any store.
- :class:`ProcessSpanWriter`, for a local store: processes of its own, each of which reads its
  batch's spans itself, hashes them and writes them as one group commit
  (:meth:`vault.local.LocalStore.put_many`); the caller's process only learns each blob's SHA-256,
  size and whether it was new.

Why processes: a local group commit is many system calls per object (open, write, attribute,
writeback, close, link), and a thread takes the interpreter lock back after every one, while the
importing process's other threads (splitting, records, catalog) hold it. Measured on the 2-core
test host (20,000 messages of 100 kB, page cache dropped before each run, alternating): the MBOX
import went from 2,270-2,637 messages/s (median 2,485, five runs) with writer threads to
2,222-3,512 (median 3,090, six runs) with a prototype of these writers; ``bench/import_bench.py``
then measured 3,030 messages/s (median of four rounds), and the raw PUT of the same bytes by
these writers faster than by threads (3,860 against 3,115). The bytes are not sent to the
processes (pickling each batch's 16 MB to them made the import slower than the threads): each
reads its spans from the file, which the page cache holds.

An S3 store keeps the in-process writer: its writes are network waits (the lock is free while
they last), and its presence bookkeeping lives in the caller's catalog.

Crash safety is the group commit's: a blob is visible under its key only once durable, and the
caller writes the records that reference the blobs only after :meth:`SpanWriter.put` returned. A
writer process that dies fails the batch (:class:`~vault.errors.VaultWriteError`), never a record.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from vault import layout
from vault.errors import VaultWriteError
from vault.records import sha256_hex
from vault.store import BatchItem, Retention
from vault.vault import BlobRef, Vault

if TYPE_CHECKING:
    from vault.local import LocalStore

_CLOSE_SECONDS = 60.0  # a writer's last batch (a group commit) is done well within this


@dataclass(frozen=True, slots=True)
class FileSpan:
    """``length`` bytes at ``offset`` of the file at ``path`` (e.g. one message of an MBOX)."""

    path: str
    offset: int
    length: int


def read_spans(spans: Sequence[FileSpan]) -> list[bytes]:
    """The bytes of each span, in order (each file opened once). A span the file no longer holds
    whole (it was cut short during the import) is an error, never a shorter blob."""
    fds: dict[str, int] = {}
    try:
        datas = []
        for span in spans:
            fd = fds.get(span.path)
            if fd is None:
                fd = fds[span.path] = os.open(span.path, os.O_RDONLY)
            data = os.pread(fd, span.length, span.offset)
            if len(data) != span.length:
                raise VaultWriteError(
                    f"{span.path}: {span.length} bytes at offset {span.offset} could not be read "
                    f"(got {len(data)}): the file changed during the import"
                )
            datas.append(data)
        return datas
    except OSError as exc:
        raise VaultWriteError(f"could not read a span of {exc.filename or 'a source file'}: {exc}") from exc
    finally:
        for fd in fds.values():
            os.close(fd)


class SpanWriter(Protocol):
    """Stores batches of file spans as blobs; thread-safe (batches may be written at once)."""

    processes: int  # writer processes of its own (0: the caller's threads write)

    def put(
        self, spans: Sequence[FileSpan], *, media_type: str, retention_class: str | None = None
    ) -> list[BlobRef]:
        """A ref per span, in order, returned once every blob of the batch is durable (one group
        commit, as :meth:`vault.Vault.put_blobs`)."""
        ...

    def close(self) -> None: ...


class InProcessSpanWriter:
    processes = 0

    def __init__(self, vault: Vault) -> None:
        self._vault = vault

    def put(
        self, spans: Sequence[FileSpan], *, media_type: str, retention_class: str | None = None
    ) -> list[BlobRef]:
        return self._vault.put_blobs(
            read_spans(spans), media_type=media_type, retention_class=retention_class
        )

    def close(self) -> None:
        return None


class ProcessSpanWriter:
    """Writer processes over a local store (see the module docstring): ``python -m vault.spans``,
    each with the store opened once, a batch at a time over its standard input and output.

    Plain processes, not a ``multiprocessing`` pool: that one would run the importing program's
    main module again in every writer (the whole CLI, a second of start-up each), and its
    writers outlive an owner killed with SIGKILL. These see the end of their input and end too.
    A writer that dies fails its batch and every later one (:class:`~vault.errors.VaultWriteError`)."""

    def __init__(self, vault: Vault, processes: int) -> None:
        if processes < 1:
            raise ValueError(f"a process span writer needs at least one process, not {processes}")
        self._vault = vault
        self.processes = processes
        self._broken: str | None = None
        source_root = str(Path(__file__).resolve().parent.parent)  # where the vault package is
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [source_root, os.environ.get("PYTHONPATH")])),
        }
        self._workers: list[subprocess.Popen[bytes]] = []
        self._idle: queue.SimpleQueue[subprocess.Popen[bytes]] = queue.SimpleQueue()
        try:
            for _ in range(processes):
                worker = subprocess.Popen(
                    # -P: not the working directory first on the path (it may hold a "vault")
                    [sys.executable, "-P", "-m", "vault.spans", vault.store.url],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
                )  # fmt: skip
                self._workers.append(worker)
                self._idle.put(worker)
        except BaseException:
            self.close()
            raise

    @property
    def pids(self) -> list[int]:
        return [worker.pid for worker in self._workers]

    def put(
        self, spans: Sequence[FileSpan], *, media_type: str, retention_class: str | None = None
    ) -> list[BlobRef]:
        if not spans:
            return []
        retention = self._vault.retention.for_blob(retention_class)
        worker = self._idle.get()  # a writer of its own for this batch (waits for a free one)
        try:
            if self._broken is not None:
                raise VaultWriteError(self._broken)
            written = self._call(worker, (list(spans), media_type, retention))
        finally:
            self._idle.put(worker)
        return [BlobRef(sha, size, layout.blob_key(sha), created) for sha, size, created in written]

    def _call(
        self, worker: subprocess.Popen[bytes], request: tuple[list[FileSpan], str, Retention]
    ) -> list[tuple[str, int, bool]]:
        assert worker.stdin is not None and worker.stdout is not None
        try:
            pickle.dump(request, worker.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            worker.stdin.flush()
            status, value = pickle.load(worker.stdout)
        except (OSError, EOFError, pickle.UnpicklingError) as exc:
            self._broken = (
                f"a span writer process (pid {worker.pid}) ended before its batch was durable "
                f"(exit status {worker.poll()}): {exc or type(exc).__name__}"
            )
            raise VaultWriteError(self._broken) from exc
        if status != "ok":
            raise value if isinstance(value, BaseException) else VaultWriteError(str(value))
        return list(value)

    def close(self) -> None:
        """Each writer's input closed (it ends once its batch is done), then waited for."""
        for worker in self._workers:
            if worker.stdin is not None:
                with contextlib.suppress(OSError):
                    worker.stdin.close()
        for worker in self._workers:
            try:
                worker.wait(timeout=_CLOSE_SECONDS)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
            if worker.stdout is not None:
                worker.stdout.close()


def span_writer(vault: Vault, *, processes: int) -> SpanWriter:
    """Writer processes where they pay (a local store, ``processes`` > 0), else the caller's
    threads."""
    from vault.local import LocalStore

    if processes > 0 and isinstance(vault.store, LocalStore):
        return ProcessSpanWriter(vault, processes)
    return InProcessSpanWriter(vault)


# -- in a writer process ----------------------------------------------------------------------------------


def _write_spans(
    store: LocalStore, spans: list[FileSpan], media_type: str, retention: Retention
) -> list[tuple[str, int, bool]]:
    """(SHA-256, size, created) per span: read, hashed once, written as one group commit."""
    datas = read_spans(spans)
    items = [
        BatchItem(layout.blob_key(sha), data, sha, media_type, retention)
        for sha, data in zip(map(sha256_hex, datas), datas, strict=True)
    ]
    return [(result.sha256, result.size, result.created) for result in store.put_many(items)]


def _serve(url: str) -> None:
    """A writer process: batches from standard input, a reply each to standard output, until the
    input ends (its owner closed it, or ended)."""
    from vault.local import LocalStore

    # Ctrl-C in a terminal reaches the whole process group: the owner decides (and closes the
    # input); a writer never stops in the middle of its batch for it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything else printed goes to standard error, never into the replies
    requests = sys.stdin.buffer
    store = LocalStore.from_url(url)
    store.check()
    while True:
        try:
            spans, media_type, retention = pickle.load(requests)
        except EOFError:
            return
        try:
            reply: tuple[str, object] = ("ok", _write_spans(store, spans, media_type, retention))
        except Exception as exc:  # the batch's error, raised again in the owner
            reply = ("error", exc)
        try:
            payload = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # an error that does not pickle: its text
            payload = pickle.dumps(
                ("error", VaultWriteError(str(reply[1]))), protocol=pickle.HIGHEST_PROTOCOL
            )
        try:
            replies.write(payload)
            replies.flush()
        except BrokenPipeError:  # the owner is gone
            return


if __name__ == "__main__":
    _serve(sys.argv[1])
