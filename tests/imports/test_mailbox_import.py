"""``capstone import mailbox``: MBOX (Thunderbird layout) and EML folders byte-exact with their folder
paths, MSG and PST converted to MIME with the original kept, duplicates of captured mail recognised
by SHA-256, a damaged source refused whole; searchable as mail afterwards."""

from __future__ import annotations

import email
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from capstone.imports import mailbox as mailbox_module
from capstone.imports import service as import_service
from capstone.imports.mailbox import count_mbox, count_mbox_apart, iter_mbox
from capstone.imports.model import ImportRefused
from capstone.services import open_vault
from capstone.settings import Settings
from tests.imports.conftest import SAMPLES, World
from vault import Record
from vault.spans import FileSpan, read_spans

MAILBOX = SAMPLES / "mailbox"
CACHE = Path.home() / ".cache" / "capstone-test-data"


def run_import(world: World, source: Path, *extra: str, code: int = 0) -> dict[str, Any]:
    result = world.run(
        "ali", "import", "mailbox", "--designation", world.designation_id, "--json", *extra, str(source)
    )
    assert result.exit_code == code, result.output
    return dict(json.loads(result.stdout)) if code in (0, 1) else {}


def mail_records(world: World) -> list[Record]:
    vault = open_vault(Settings(home=world.home))
    try:
        return list(vault.iter_records("mail-message"))
    finally:
        vault.close()


def blob(world: World, sha: str) -> bytes:
    vault = open_vault(Settings(home=world.home))
    try:
        return vault.read_blob(sha)
    finally:
        vault.close()


def test_mbox_splitter_keeps_messages_byte_exact(tmp_path: Path) -> None:
    messages = [
        b"Subject: a\n\nline\n>From quoted\n",
        b"Subject: b\n\n" + b"x" * (3 << 20) + b"\n",
        b"Subject: c\n\nend\n",
    ]
    mbox = tmp_path / "big.mbox"
    mbox.write_bytes(b"".join(b"From someone Mon Jan  1 00:00:00 2019\n" + m + b"\n" for m in messages))
    found = list(iter_mbox(mbox))  # the 3 MiB message spans several read chunks
    assert [m for _, _, m in found] == messages
    line = b"From someone Mon Jan  1 00:00:00 2019\n"
    offsets = [0, len(line) + len(messages[0]) + 1, 2 * len(line) + len(messages[0]) + len(messages[1]) + 2]
    assert [o for o, _, _ in found] == offsets and found[1][1] == line.rstrip(b"\n")


def test_a_large_mbox_is_counted_by_a_process_of_its_own_and_alike(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    line = b"From someone Mon Jan  1 00:00:00 2019\n"
    bodies = [
        b"Subject: a\n\ntext\nFrom here on\n",
        b"Subject: b\n\n>From quoted\n\n\n",
        b"Subject: c\n\nend\n",
    ]
    mbox = tmp_path / "Archief.mbox"
    mbox.write_bytes(b"".join(line + body + b"\n" for body in bodies * 5))
    assert count_mbox_apart(mbox) == count_mbox(mbox) == len(list(iter_mbox(mbox))) == 15
    not_mbox = tmp_path / "other.mbox"
    not_mbox.write_bytes(b"Subject: no separator\n")
    with pytest.raises(ImportRefused, match="could not be counted"):
        count_mbox_apart(not_mbox)

    # Hurried before it is done (a host too busy for the niced process): it is stopped, and the
    # file counted in this process instead, alike.
    in_process: list[Path] = []
    real_count = mailbox_module.count_mbox

    def counted_here(path: Path) -> int:
        in_process.append(path)
        return real_count(path)

    monkeypatch.setattr(mailbox_module, "count_mbox", counted_here)
    hurried = threading.Event()
    hurried.set()
    assert count_mbox_apart(mbox, hurried) == 15
    assert in_process == [mbox]
    # Not hurried: the other process's count, polled until it is done.
    assert count_mbox_apart(mbox, threading.Event()) == 15
    assert in_process == [mbox]
    monkeypatch.setattr(mailbox_module, "count_mbox", real_count)

    calls: list[Path] = []
    hurries: list[threading.Event | None] = []

    def counted_apart(path: Path, hurry: threading.Event | None = None) -> int:
        calls.append(path)
        hurries.append(hurry)
        return count_mbox_apart(path, hurry)

    # Any MBOX counts as large here: the import's reconciliation comes from the other process.
    monkeypatch.setattr(mailbox_module, "COUNT_APART_BYTES", 1)
    monkeypatch.setattr(mailbox_module, "count_mbox_apart", counted_apart)
    report = run_import(world, mbox)
    assert calls == [mbox]
    [hurry] = hurries
    assert hurry is not None and hurry.is_set()  # set by the import once every message was read
    assert report["complete"] and report["new_messages"] == 15
    assert report["reconciliation"]["source_messages"] == 15


def test_the_count_process_runs_capstones_code_whatever_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Started in a folder that holds packages named ``vault`` and ``capstone`` of its own, the
    count process still imports Capstone's (not the working directory's)."""
    mbox = tmp_path / "bron.mbox"
    mbox.write_bytes(b"From a\nSubject: 1\n\nx\n\nFrom b\nSubject: 2\n\ny\n")
    for name in ("vault", "capstone"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(f'raise SystemExit("not the {name} package")\n')
    monkeypatch.chdir(tmp_path)
    assert count_mbox_apart(mbox) == count_mbox(mbox) == 2


@pytest.mark.parametrize("writers", ["threads", "processes", "processes-off"])
def test_mbox_and_eml_folder_byte_exact_with_folders_then_searchable(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, writers: str
) -> None:
    """The MBOX messages written by the importing process's threads (a small MBOX, or writer
    processes turned off) or, as a large one's, by writer processes that read them from the file
    (vault.spans); the EML files after them in batches of their own."""
    if writers != "threads":
        monkeypatch.setattr(import_service, "SPAN_PROCESSES_FROM", 0)
    if writers == "processes-off":
        monkeypatch.setenv("CAPSTONE_IMPORT_WRITER_PROCESSES", "0")
    report = run_import(world, MAILBOX)
    assert report["writer_processes"] == (import_service.WRITER_PROCESSES if writers == "processes" else 0)
    assert report["complete"] and report["new_messages"] == 7 and report["known"] == 0
    assert report["reconciliation"]["source_messages"] == report["reconciliation"]["held"] == 7
    records = mail_records(world)
    assert len(records) == 7
    folders = sorted({r.source["folder_path"] for r in records})
    assert folders == ["Inbox", "Inbox/Projecten", "Verzonden"]
    # every message byte-exact: the MBOX's messages as they stand in the file, the EML files whole
    expected = [m for _, _, m in iter_mbox(MAILBOX / "Inbox")] + [
        m for _, _, m in iter_mbox(MAILBOX / "Inbox.sbd" / "Projecten")
    ]
    expected += [p.read_bytes() for p in sorted((MAILBOX / "Verzonden").iterdir())]
    assert sorted(blob(world, r.blob_sha256 or "") for r in records) == sorted(expected)
    first = next(
        r for r in records if r.source["folder_path"] == "Inbox" and r.source["position"]["offset"] == 0
    )
    assert first.source["position"]["from_line"].startswith("From MAILER-DAEMON")
    assert (
        first.source["mailbox"] == "burgemeester@gemeente-demo.nl"
        and first.source["mailbox_kind"] == "import"
    )
    twins = [r for r in records if r.source["folder_path"] == "Inbox/Projecten"]
    assert sorted(r.source["ordinal"] for r in twins) == [0, 1]  # the same message twice: both kept

    again = run_import(world, MAILBOX)
    assert again["known"] == 7 and again["new_messages"] == 0 and again["complete"]
    assert len(mail_records(world)) == 7

    assert world.run("anna", "woo", "case", "open", "--ref", "WOO-2026-040", "--received", "2026-11-02",
                     "--subject", "Haven", "--designation", world.designation_id).exit_code == 0  # fmt: skip
    found = world.run("anna", "woo", "search", "--case", "WOO-2026-040", "--json", "haven", "--kind", "mail")
    hits = json.loads(found.stdout)["hits"]
    assert {h["folder_path"] for h in hits} == {"Inbox", "Verzonden"} and len(hits) == 2
    assert json.loads(world.run("anna", "woo", "search", "--case", "WOO-2026-040", "--json", "haven",
                                "--folder", "Verzonden").stdout)["total"] == 1  # fmt: skip


def test_duplicates_of_captured_mail_are_recognised_by_sha256(world: World) -> None:
    captured = (MAILBOX / "Verzonden" / "2019-03-05-haven.eml").read_bytes()
    vault = open_vault(Settings(home=world.home))
    try:
        ref = vault.put_blob(captured, media_type="message/rfc822")
        vault.put_records([Record(kind="mail-message", blob_sha256=ref.sha256, size=ref.size, media_type="message/rfc822",
                                  source={"system": "graph", "mailbox": "burgemeester@gemeente-demo.nl", "item_id": "AAA"},
                                  capture={"run_id": "capture-1"})])  # fmt: skip
        vault.write_manifest("capture-1", kind="capture-run")
    finally:
        vault.close()
    report = run_import(world, MAILBOX / "Verzonden")
    assert report["new_messages"] == 2 and report["duplicates_of_capture"] == 1
    assert report["duplicates"] == [{"folder": "", "sha256": hashlib.sha256(captured).hexdigest()}]


def test_msg_is_converted_to_mime_and_the_original_kept(world: World, tmp_path: Path) -> None:
    from msgforge import Message

    folder = tmp_path / "outlook" / "Archief"
    folder.mkdir(parents=True)
    note = tmp_path / "nota.txt"
    note.write_text("Nota parkeerbeleid 2018\n", encoding="utf-8")
    message = Message(
        subject="Parkeerbeleid binnenstad",
        html_body="<p>Bijgaand de <b>nota parkeerbeleid</b> voor het college.</p>",
        text_body="Bijgaand de nota parkeerbeleid voor het college.",
        to=[("burgemeester@gemeente-demo.nl", "Marieke van Dalen")],
        sender=("g.smit@gemeente-demo.nl", "Gerrit Smit"),
        sent=datetime(2018, 6, 1, 10, 0),
    )
    message.attach(note)
    original = folder / "parkeerbeleid.msg"
    message.save(original)
    report = run_import(world, tmp_path / "outlook")
    assert report["complete"] and report["converted"] == 1 and report["format"] == "msg"
    assert report["source_sha256"] == [hashlib.sha256(original.read_bytes()).hexdigest()]
    [record] = mail_records(world)
    assert record.source["converted_from"] == "msg" and record.source["folder_path"] == "Archief"
    parsed = email.message_from_bytes(blob(world, record.blob_sha256 or ""))
    assert parsed["Subject"] == "Parkeerbeleid binnenstad"
    assert parsed["X-Capstone-Converted-From"].startswith("msg; parkeerbeleid.msg")
    assert "nota.txt" in [p.get_filename() for p in parsed.walk()]
    texts = [p.get_payload(decode=True) for p in parsed.walk() if p.get_content_type() == "text/plain"]
    assert any(b"nota parkeerbeleid" in (t or b"") for t in texts)
    assert blob(world, report["source_sha256"][0]) == original.read_bytes()


def _enron_pst() -> Path:
    """The Enron test PST published in the npm package ``pst-extractor`` (fetched once with npm)."""
    target = CACHE / "enron.pst"
    if target.is_file():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed: it fetches the published test PST (pst-extractor's enron.pst)")
    done = subprocess.run(
        [npm, "pack", "pst-extractor@1.12.0"], cwd=CACHE, capture_output=True, text=True, timeout=300
    )
    if done.returncode != 0:
        pytest.skip(
            f"npm could not fetch pst-extractor (its enron.pst is the test PST): {done.stderr[-200:]}"
        )
    with tarfile.open(CACHE / "pst-extractor-1.12.0.tgz") as archive:
        member = archive.extractfile("package/example/testdata/enron.pst")
        assert member is not None
        target.write_bytes(member.read())
    return target


@pytest.mark.slow
def test_pst_every_folder_converted_and_the_pst_kept(world: World, tmp_path: Path) -> None:
    pst = _enron_pst()
    report = run_import(world, pst)
    assert report["complete"] and report["new_messages"] == 71 and report["converted"] == 71
    assert report["source_sha256"] == [hashlib.sha256(pst.read_bytes()).hexdigest()]
    records = mail_records(world)
    folders = {r.source["folder_path"] for r in records}
    assert "Top of Personal Folders/lokay-m/MLOKAY (Non-Privileged)/Sent Items" in folders
    counts = {f: sum(1 for r in records if r.source["folder_path"] == f) for f in folders}
    assert counts["Top of Personal Folders/lokay-m/MLOKAY (Non-Privileged)/Personal"] == 47
    sample = email.message_from_bytes(blob(world, records[0].blob_sha256 or ""))
    assert sample["X-Capstone-Converted-From"].startswith("pst; enron.pst")
    assert sample["Message-ID"] and sample["Subject"]  # the transport headers as received
    assert all(
        r.source["converted_from"] == "pst" and r.source["position"]["pst_identifier"] for r in records
    )


def test_damaged_or_unknown_sources_are_refused_with_nothing_written(world: World, tmp_path: Path) -> None:
    vault = open_vault(Settings(home=world.home))
    before = vault.stats()["objects"]
    vault.close()
    broken = tmp_path / "archief.mbox"
    broken.write_bytes(b"Subject: no From_ line\n\nbody\n")
    folder = tmp_path / "mixed"
    shutil.copytree(MAILBOX, folder)
    (folder / "notities.docx").write_bytes(b"PK\x03\x04 not mail")
    fake_pst = tmp_path / "old.pst"
    fake_pst.write_bytes(b"!BDN" + b"\x00" * 100)
    for bad in (broken, folder, fake_pst, tmp_path / "absent"):
        result = world.run("ali", "import", "mailbox", "--designation", world.designation_id, str(bad))
        assert result.exit_code == 2 and "refused, nothing written" in result.output, result.output
    vault = open_vault(Settings(home=world.home))
    assert vault.stats()["objects"] == before
    vault.close()
    denied = world.run("anna", "import", "mailbox", "--designation", world.designation_id, str(MAILBOX))
    assert denied.exit_code == 3


SPLIT_CASES = {
    "plain": b"From a Mon Jan  1 00:00:00 2019\nS: 1\n\nbody\n\nFrom b Mon\nS: 2\n\nend\n\n",
    "crlf": b"From a Mon\r\nS: 1\r\n\r\nbody\r\n\nFrom b Mon\r\nS: 2\r\n\r\nend\r\n",
    "from in a line": b"From a\nS: 1\n\ntext\nFrom here on\n>From quoted\n\nFrom b\nS: 2\n\nx\n",
    "no final newline": b"From a\nS: 1\n\nbody\n\nFrom b\nS: 2\n\nno newline at the end",
    "empty last message": b"From a\nS: 1\n\nbody\n\nFrom b\n",
    "blank lines": b"From a\nS: 1\n\n\n\n\nFrom b\nS: 2\n\n\n\n",
    # a separator across the 1 MiB boundary of the chunked reader
    "straddle": b"From a\nS: 1\n\n" + b"y" * ((1 << 20) - 18) + b"\n\nFrom b\nS: 2\n\nz\n",
}


@pytest.mark.parametrize("case", sorted(SPLIT_CASES))
def test_the_three_splitters_agree(tmp_path: Path, case: str) -> None:
    """memmem over the mapping (the default), sre over it, and the chunked reader: the same
    messages, offsets and From_ lines."""
    import mmap

    from capstone.imports import mailbox

    mbox = tmp_path / "case.mbox"
    mbox.write_bytes(SPLIT_CASES[case])
    assert mailbox._libc is not None  # this platform's C library has memmem: the default is tested
    results = []
    for finder_of in (
        lambda v, fd: mailbox._MemmemFinder(fd, len(v), mailbox._libc),
        lambda v, fd: mailbox._RegexFinder(v),
    ):
        with mbox.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as view:
            finder = finder_of(view, handle.fileno())
            results.append(list(mailbox._iter_mbox_view(mbox, view, finder)))
            finder.close()
    with mbox.open("rb") as handle:
        results.append(list(mailbox._iter_mbox_chunks(mbox, handle)))
    assert results[0] == results[1] == results[2] == list(iter_mbox(mbox))
    assert len(results[0]) == count_mbox(mbox)
    # The import's spans (the writers read the messages where they lie) hold the same bytes.
    located = list(mailbox.iter_mbox_spans(mbox))
    spans = [span for _, _, span in located]
    assert all(isinstance(span, FileSpan) for span in spans)
    assert [(offset, line) for offset, line, _ in located] == [
        (offset, line) for offset, line, _ in results[0]
    ]
    assert read_spans([span for span in spans if isinstance(span, FileSpan)]) == [m for _, _, m in results[0]]


def test_an_mbox_larger_than_memory_is_searched_by_memmem_too(tmp_path: Path) -> None:
    """The memmem mapping is read-only and shared: no memory is reserved for it, so a file larger
    than the machine's memory maps (a private writable mapping of it would be refused)."""
    import mmap

    from capstone.imports import mailbox

    mbox = tmp_path / "huge.mbox"
    mbox.write_bytes(b"From a\nS: 1\n\nbody\n")
    os.truncate(mbox, 1 << 40)  # 1 TiB, sparse: no blocks on disk
    with mbox.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as view:
        finder = mailbox._separator_finder(view, handle.fileno())
        try:
            assert isinstance(finder, mailbox._MemmemFinder)
        finally:
            finder.close()
