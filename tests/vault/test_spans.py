"""Blobs from spans of a file (``vault.spans``): the writer processes of a local store and the
in-process writer store the same blobs, byte-exact, once; a span the file no longer holds, or a
writer process that dies, fails the batch; the writer processes end with the process owning them."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path

import pytest

from tests.vault.conftest import VaultFactory
from vault import open_vault
from vault.errors import VaultWriteError
from vault.spans import FileSpan, InProcessSpanWriter, ProcessSpanWriter, read_spans, span_writer
from vault.vault import Vault

ROOT = Path(__file__).resolve().parents[2]


def _source(path: Path, count: int = 40) -> tuple[list[FileSpan], list[bytes]]:
    """A file of ``count`` distinct messages between separator lines; their spans and bytes."""
    spans, messages = [], []
    with path.open("wb") as out:
        for n in range(count):
            out.write(b"From x@localhost Mon Jan  5 09:00:00 2015\n")
            message = f"Subject: bericht {n}\n\n".encode() + os.urandom(200 + 97 * n)
            spans.append(FileSpan(str(path), out.tell(), len(message)))
            messages.append(message)
            out.write(message + b"\n\n")
    return spans, messages


def _local_vault(tmp_path: Path, name: str = "vault") -> Vault:
    return open_vault(f"file://{tmp_path / name}", cache_dir=tmp_path / f"{name}-cache", create=True)


def test_read_spans_gives_each_span_and_refuses_one_the_file_no_longer_holds(tmp_path: Path) -> None:
    spans, messages = _source(tmp_path / "bron.mbox")
    assert read_spans(spans) == messages
    beyond = FileSpan(spans[-1].path, spans[-1].offset, spans[-1].length + 10_000)
    with pytest.raises(VaultWriteError, match="changed during the import"):
        read_spans([spans[0], beyond])
    with pytest.raises(VaultWriteError, match=r"weg\.mbox"):
        read_spans([FileSpan(str(tmp_path / "weg.mbox"), 0, 1)])


def test_writer_processes_store_each_span_byte_exact_and_once(tmp_path: Path) -> None:
    spans, messages = _source(tmp_path / "bron.mbox")
    vault = _local_vault(tmp_path)
    writer = span_writer(vault, processes=2)
    try:
        assert isinstance(writer, ProcessSpanWriter) and writer.processes == 2
        refs = writer.put([*spans, spans[3]], media_type="message/rfc822")  # one span twice in a batch
        assert [ref.sha256 for ref in refs] == [
            hashlib.sha256(m).hexdigest() for m in [*messages, messages[3]]
        ]
        assert [ref.size for ref in refs] == [len(m) for m in [*messages, messages[3]]]
        assert [ref.created for ref in refs] == [True] * len(messages) + [False]
        for ref, message in zip(refs, messages, strict=False):
            assert vault.read_blob(ref.sha256) == message
        again = writer.put(spans[:5], media_type="message/rfc822")  # known: nothing written again
        assert [ref.created for ref in again] == [False] * 5
        assert [ref.key for ref in again] == [ref.key for ref in refs[:5]]
        for pid in writer.pids:  # Ctrl-C reaches the writers too: they leave it to their owner
            os.kill(pid, signal.SIGINT)
        time.sleep(0.5)
        assert all(_alive(pid) for pid in writer.pids)
        assert [ref.created for ref in writer.put(spans[5:7], media_type="message/rfc822")] == [False, False]
    finally:
        writer.close()
    # The metadata of a blob written by a writer process is that of one put_blobs writes.
    other = _local_vault(tmp_path, "other")
    try:
        (by_bytes,) = other.put_blobs([messages[0]], media_type="message/rfc822")
        mine, theirs = vault.store.head(refs[0].key), other.store.head(by_bytes.key)
        assert mine is not None and theirs is not None
        assert (mine.sha256, mine.size, mine.media_type) == (theirs.sha256, theirs.size, theirs.media_type)
        assert mine.retain_until is not None and theirs.retain_until is not None
        assert abs(mine.retain_until - theirs.retain_until) < timedelta(minutes=1)  # locked alike
        assert mine.sha256 == refs[0].sha256
    finally:
        other.close()
        vault.close()


def test_a_vault_folder_in_the_working_directory_is_not_the_writers_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An importer started in a folder that holds a ``vault`` package of its own (a data folder,
    a checkout) still starts writers running Capstone's."""
    spans, messages = _source(tmp_path / "bron.mbox", count=3)
    (tmp_path / "vault").mkdir()
    (tmp_path / "vault" / "__init__.py").write_text('raise SystemExit("not the vault package")\n')
    monkeypatch.chdir(tmp_path)
    vault = _local_vault(tmp_path, "kluis")
    writer = ProcessSpanWriter(vault, 1)
    try:
        refs = writer.put(spans, media_type="message/rfc822")
        assert [vault.read_blob(ref.sha256) for ref in refs] == messages
    finally:
        writer.close()
        vault.close()


def test_the_in_process_writer_stores_the_same_blobs(make_vault: VaultFactory, tmp_path: Path) -> None:
    """On every backend (an S3 store always gets this writer: its writes are network waits)."""
    spans, messages = _source(tmp_path / "bron.mbox", count=12)
    vault = make_vault()
    writer = span_writer(vault, processes=0 if vault.store.url.startswith("file:") else 2)
    try:
        assert isinstance(writer, InProcessSpanWriter) and writer.processes == 0
        refs = writer.put(spans, media_type="message/rfc822")
        assert [ref.sha256 for ref in refs] == [hashlib.sha256(m).hexdigest() for m in messages]
        assert all(ref.created for ref in refs)
        assert [vault.read_blob(ref.sha256) for ref in refs] == messages
    finally:
        writer.close()
        vault.close()


def test_a_writer_process_that_dies_fails_its_batch(tmp_path: Path) -> None:
    spans, _ = _source(tmp_path / "bron.mbox")
    vault = _local_vault(tmp_path)
    writer = ProcessSpanWriter(vault, 1)
    try:
        writer.put(spans[:2], media_type="message/rfc822")  # started
        pids = writer.pids
        assert len(pids) == 1
        os.kill(pids[0], signal.SIGKILL)
        with pytest.raises(VaultWriteError, match=r"span writer process .* ended before its batch"):
            writer.put(spans[2:], media_type="message/rfc822")
        with pytest.raises(VaultWriteError, match="ended before"):  # and so does every later batch
            writer.put(spans[:1], media_type="message/rfc822")
    finally:
        writer.close()
        vault.close()


def test_writer_processes_end_with_the_process_that_owns_them(tmp_path: Path) -> None:
    """An importer killed with SIGKILL leaves no writer process behind: each sees its input end."""
    spans, _ = _source(tmp_path / "bron.mbox", count=4)
    owner_code = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from vault import open_vault
        from vault.spans import FileSpan, span_writer
        vault = open_vault("file://{tmp_path / "vault"}", cache_dir=Path("{tmp_path / "cache"}"), create=True)
        writer = span_writer(vault, processes=2)
        writer.put([FileSpan({spans[0].path!r}, {spans[0].offset}, {spans[0].length})], media_type="text/plain")
        writer.put([FileSpan({spans[1].path!r}, {spans[1].offset}, {spans[1].length})], media_type="text/plain")
        print(" ".join(str(p) for p in writer.pids), flush=True)
        time.sleep(600)
        """
    )
    owner = subprocess.Popen(
        [sys.executable, "-c", owner_code], cwd=ROOT, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    try:
        assert owner.stdout is not None
        pids = [int(p) for p in owner.stdout.readline().split()]
        assert len(pids) == 2 and all(_alive(pid) for pid in pids)
    finally:
        owner.kill()
        owner.wait()
    deadline = time.monotonic() + 20
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in pids), "a writer process outlived its owner"


def _alive(pid: int) -> bool:
    """Running (a zombie, dead but not yet reaped by its parent, counts as ended)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
