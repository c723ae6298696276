"""Imports against baselines measured in the same run, on the local vault.

    .venv/bin/python bench/import_bench.py [--mbox-messages 20000] [--size-kb 100] [--rounds 4]
                                           [--whatsapp-messages 100000] [--skip-index] [--work DIR]

1. MBOX bulk import: an MBOX of N generated messages of about ``--size-kb`` each is imported with
   ``capstone import mailbox`` (a process of its own: validating pass, byte-exact blobs, records,
   manifest) and compared with the raw vault PUT rate of the same message bytes into a fresh vault,
   no records, measured two ways in this process: the same batches as group commits by
   ``Vault.put_blobs`` in writer threads (the split in this process), and the same batches of spans
   by the vault's writer processes (``vault.spans``, each reading its messages from the MBOX, as
   the import of a large MBOX writes them). The baseline of a round is the faster of the two. The
   rate of single PUTs (an fsync each) over the first 2,000 messages is shown beside it.
   ``--rounds`` rounds of the three, in alternating order, each into vaults of their own; the
   medians are the result (the disk of a shared machine varies by a third from minute to minute).
   Before each phase the dirty pages are written back and, where the bench may (as root;
   ``--keep-caches`` not to), the page cache is dropped and the MBOX read back into it, so every
   phase starts from the same cache. The index build over the first round's vault is reported
   beside it (``--skip-index`` leaves it out).
2. WhatsApp: an Android export of ``--whatsapp-messages`` messages imported with
   ``capstone import phone``: messages/s and the peak RSS of the importing process.

Targets (issue 22): MBOX import >= 0.8 x raw PUT and >= 2,500 messages/s; WhatsApp peak RSS <= 300 MB.
The issue's size is 100,000 MBOX messages (``--mbox-messages 100000``: a 10 GB MBOX, and 20 GB more
per round); the default of 20,000 keeps four rounds within about 20 GB and ten minutes. The bench
refuses to start when the work directory's file system has too little space for what it writes.
The JSON result goes to bench/results/import-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from capstone.imports.generate import whatsapp_android  # noqa: E402
from capstone.imports.mailbox import iter_mbox, iter_mbox_spans  # noqa: E402
from capstone.imports.service import (  # noqa: E402
    BLOB_THREADS,
    MAIL_BATCH,
    MAIL_BATCH_BYTES,
    MAIL_WRITERS,
    WRITER_PROCESSES,
)
from vault import open_vault  # noqa: E402
from vault.spans import FileSpan, span_writer  # noqa: E402

ROLES = {"bench": ["archivist", "registry-admin"]}
T = TypeVar("T")
WORDS = [
    "gemeente",
    "begroting",
    "raad",
    "college",
    "wethouder",
    "fietsbrug",
    "haven",
    "dijk",
    "parkeren",
    "woningbouw",
    "subsidie",
    "vergunning",
    "bestemmingsplan",
    "verkeer",
    "onderwijs",
    "zorg",
    "jeugd",
    "afval",
    "energie",
    "klimaat",
]


def write_mbox(path: Path, messages: int, size_kb: int, seed: int = 7) -> int:
    """Generated messages of about ``size_kb`` each (text body), streamed to disk; returns bytes."""
    rng = random.Random(seed)
    start = datetime(2015, 1, 1, tzinfo=UTC)
    pool = [" ".join(rng.choice(WORDS) for _ in range(11)) for _ in range(512)]
    total = 0
    with path.open("wb") as out:
        for number in range(messages):
            moment = start + timedelta(minutes=17 * number)
            lines = []
            size = 0
            while size < size_kb * 1024:
                line = f"{pool[rng.randrange(512)]} {number}-{size}\n"
                lines.append(line)
                size += len(line)
            body = "".join(lines)
            message = (
                f"From: Afzender {number % 97} <afzender{number % 97}@gemeente-demo.nl>\n"
                "To: Marieke van Dalen <burgemeester@gemeente-demo.nl>\n"
                f"Subject: Historisch bericht {number}\n"
                f"Date: {moment:%a, %d %b %Y %H:%M:%S +0000}\n"
                f"Message-ID: <hist-{number}@bench.gemeente-demo.nl>\n"
                "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n" + body
            ).encode()
            block = (
                b"From bench@localhost "
                + moment.strftime("%a %b %d %H:%M:%S %Y").encode()
                + b"\n"
                + message
                + b"\n"
            )
            out.write(block)
            total += len(message)
    return total


def mbox_disk_bytes(messages: int, size_kb: int, rounds: int) -> int:
    """About what the MBOX part writes: the MBOX, and per round two raw vaults (threads, writer
    processes) and an import vault of the same bytes (kept until the end of the bench), with a
    tenth more for sidecars, records, directories and file system blocks."""
    return int(messages * size_kb * 1024 * (1 + 3 * rounds) * 1.1)


def cli_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAPSTONE_", "AWS_"))}
    env.update(CAPSTONE_HOME=str(home))
    env["CAPSTONE_LOG_LEVEL"] = "warning"
    return env


def capstone(home: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], float, float]:
    """Run the CLI; (result, seconds, peak RSS in MB of that very process, from wait4)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.monotonic()
        process = subprocess.Popen([sys.executable, "-m", "capstone.cli.main", *args], env=cli_env(home),
                                   stdout=out, stderr=err, text=True)  # fmt: skip
        peak = _PeakRss(process.pid)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.monotonic() - started
        peak.stop()
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        result = subprocess.CompletedProcess(process.args, process.returncode, out.read(), err.read())
    if result.returncode not in (0, 1):
        raise SystemExit(f"capstone {' '.join(args[:2])} failed: {result.stderr[-2000:]}")
    # ru_maxrss of an exec'd child starts at its parent's RSS when it forked (Linux carries the old
    # address space's high-water mark across exec), so after the raw phase it would report the
    # bench's own size. VmHWM belongs to the child's own address space: the peak it really reached.
    return result, seconds, (peak.kib or usage.ru_maxrss) / 1024


class _PeakRss:
    """Polls ``VmHWM`` (the high-water mark of a process's resident set, monotone) in /proc while
    the process runs; the last reading misses at most the final poll interval of growth."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.kib = 0
        self._path = Path(f"/proc/{pid}/status")
        self._done = threading.Event()
        self._interval = interval
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._done.is_set():
            try:
                text = self._path.read_text()
            except OSError:
                return
            for line in text.splitlines():
                if line.startswith("VmHWM:"):
                    self.kib = max(self.kib, int(line.split()[1]))
            self._done.wait(self._interval)

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def drop_caches(mbox: Path) -> bool:
    """Drop the clean page cache (``/proc/sys/vm/drop_caches``, root only), then read ``mbox`` back
    into it, so a phase starts with the MBOX cached and nothing else; False where not permitted."""
    try:
        with open("/proc/sys/vm/drop_caches", "w", encoding="ascii") as control:
            control.write("3\n")
    except OSError:
        return False
    buffer = bytearray(8 << 20)
    with mbox.open("rb", buffering=0) as handle:
        while handle.readinto(buffer):
            pass
    return True


def prepare_home(home: Path) -> str:
    # Environment variables grant no roles: the administrator's file in the home names the
    # identity and grants it (owned by whoever runs the bench, who owns the home, mode 0600).
    home.mkdir(parents=True, exist_ok=True)
    os.chmod(home, 0o700)
    config = home / "capstone.toml"
    config.write_text(
        'user = "bench"\n[roles]\n' + "".join(f"{k} = {json.dumps(v)}\n" for k, v in ROLES.items()),
        encoding="utf-8",
    )
    os.chmod(config, 0o600)
    capstone(home, "vault", "init")
    created, _, _ = capstone(
        home, "registry", "designate", "--name", "Marieke van Dalen", "--mail", "burgemeester@gemeente-demo.nl",
        "--function", "Burgemeester", "--organisation-unit", "Bestuur", "--category", "college",
        "--start-date", "2024-01-01", "--deciding-body", "DT", "--decision-date", "2024-01-15",
        "--decision-reference", "DT-2024-003", "--json",
    )  # fmt: skip
    return str(json.loads(created.stdout)["designation_id"])


def raw_put(mbox: Path, work: Path) -> dict[str, Any]:
    """The same message bytes PUT into a fresh local vault, no records: group commits of the
    importer's batches (``Vault.put_blobs``) in as many writer threads as the importer has, while
    the next batch is read in this process."""
    vault = open_vault(f"file://{work / 'raw-vault'}", cache_dir=work / "raw-cache", create=True)
    try:
        started = time.monotonic()
        count, size = _in_batches(((data, len(data)) for _, _, data in iter_mbox(mbox)), vault.put_blobs)
        seconds = time.monotonic() - started
    finally:
        vault.close()
    return {"messages": count, "bytes": size, "seconds": round(seconds, 2), "messages_per_s": round(count / seconds, 1),
            "mb_per_s": round(size / seconds / 1e6, 1)}  # fmt: skip


def raw_put_spans(mbox: Path, work: Path) -> dict[str, Any]:
    """The same messages PUT into a fresh local vault as the importer writes a large MBOX's, no
    records: its batches of spans, each read, hashed and group-committed by one of the vault's
    writer processes (``vault.spans``), as many batches at once as the importer has."""
    vault = open_vault(f"file://{work / 'raw-spans-vault'}", cache_dir=work / "raw-spans-cache", create=True)
    writer = span_writer(vault, processes=WRITER_PROCESSES)
    try:
        started = time.monotonic()
        spans = (span for _, _, span in iter_mbox_spans(mbox) if isinstance(span, FileSpan))
        count, size = _in_batches(((span, span.length) for span in spans), writer.put)
        seconds = time.monotonic() - started
    finally:
        writer.close()
        vault.close()
    return {"messages": count, "bytes": size, "seconds": round(seconds, 2), "messages_per_s": round(count / seconds, 1),
            "mb_per_s": round(size / seconds / 1e6, 1), "writer_processes": WRITER_PROCESSES}  # fmt: skip


def _in_batches(contents: Iterator[tuple[T, int]], put: Callable[..., Any]) -> tuple[int, int]:
    """``contents`` (each with its size) written by ``put`` in the importer's batches, as many at
    once as the importer writes, while the next batch is read; (messages, bytes)."""
    count = size = 0
    with ThreadPoolExecutor(MAIL_WRITERS) as threads:
        in_flight: list[Future[Any]] = []
        batch: list[T] = []
        batch_bytes = 0
        for content, length in contents:
            batch.append(content)
            batch_bytes += length
            count += 1
            size += length
            if len(batch) >= MAIL_BATCH or batch_bytes >= MAIL_BATCH_BYTES:
                in_flight.append(threads.submit(put, batch, media_type="message/rfc822"))
                batch, batch_bytes = [], 0
                while len(in_flight) > MAIL_WRITERS:
                    in_flight.pop(0).result()
        in_flight.append(threads.submit(put, batch, media_type="message/rfc822"))
        for future in in_flight:
            future.result()
    return count, size


def single_put(mbox: Path, work: Path, limit: int) -> dict[str, Any]:
    """For comparison: the first ``limit`` messages each PUT on its own (``Vault.put_blob``: an
    fsync per blob and its directories), with the importer's former thread count."""
    vault = open_vault(f"file://{work / 'single-vault'}", cache_dir=work / "single-cache", create=True)
    datas = [data for _, (_, _, data) in zip(range(limit), iter_mbox(mbox), strict=False)]
    started = time.monotonic()
    with ThreadPoolExecutor(BLOB_THREADS) as pool:
        list(pool.map(lambda d: vault.put_blob(d, media_type="message/rfc822"), datas))
    seconds = time.monotonic() - started
    vault.close()
    return {
        "messages": len(datas),
        "seconds": round(seconds, 2),
        "messages_per_s": round(len(datas) / seconds, 1),
    }


def mbox_round(
    mbox: Path, work: Path, args: argparse.Namespace, generated: int, number: int
) -> dict[str, Any]:
    """The two raw PUTs (threads; writer processes) and one import of ``mbox``; the import first
    in every second round, so a drift of the machine's speed during the run does not favour either.
    The import is compared with the faster raw PUT of the round. The disk's speed varies a lot from
    minute to minute on a shared machine: one round alone says little, the median of a few does.

    The vaults stay until the end of the bench: removing tens of thousands of files just before a
    phase would make it pay for the bench's own clean-up (ext4 skips recently freed inodes when it
    allocates new ones, reading their inode table blocks for about 30 s)."""
    work.mkdir(parents=True, exist_ok=True)
    home = work / "mbox-home"
    designation = prepare_home(home)
    import_first = number % 2 == 1
    raws: dict[str, dict[str, Any]] = {}
    report: dict[str, Any] = {}
    seconds = rss = 0.0
    phases = ("raw-threads", "raw-processes", "import")
    for phase in reversed(phases) if import_first else phases:
        # What the previous phase (or the MBOX's generation) left dirty is not written back during
        # this one: a syncfs(2) of the vault's file system would flush it too.
        os.sync()
        # Nor does it start with another page cache than the other phase: what earlier phases cached
        # (a vault's files, another process's pages) costs the kernel reclaim work that varied the
        # phases by a third on this machine; with the cache dropped, both start with the MBOX alone.
        dropped = not args.keep_caches and drop_caches(mbox)
        time.sleep(args.settle)  # nor does it find the disk still busy with it below the file system
        if phase.startswith("raw"):
            raws[phase] = raw_put(mbox, work) if phase == "raw-threads" else raw_put_spans(mbox, work)
            print(f"  raw vault PUT (group commits, {phase[4:]}): {raws[phase]['messages_per_s']:,} msg/s, "
                  f"{raws[phase]['mb_per_s']} MB/s", flush=True)  # fmt: skip
        else:
            done, seconds, rss = capstone(home, "import", "mailbox", "--designation", designation, "--no-index",
                                          "--json", str(mbox))  # fmt: skip
            report = json.loads(done.stdout)
            print(f"  import: {args.mbox_messages / report['seconds']:,.0f} msg/s ({report['seconds']:.1f} s), "
                  f"complete {report['complete']}", flush=True)  # fmt: skip
    # The baseline is the faster way the vault offers to PUT these bytes (this round's).
    raw = dict(max(raws.values(), key=lambda r: float(r["messages_per_s"])))
    raw["way"] = "writer processes" if "writer_processes" in raw else "threads"
    raw["threads"], raw["processes"] = raws["raw-threads"], raws["raw-processes"]
    if number == 0:
        single = single_put(mbox, work, min(args.mbox_messages, 2000))
        raw["single_put"] = single
        print(f"  single PUTs (first {single['messages']:,}, fsync each): {single['messages_per_s']:,} msg/s",
              flush=True)  # fmt: skip
    rate = args.mbox_messages / report["seconds"]  # the run itself, as raw_put (no process start)
    result: dict[str, Any] = {
        "order": ", ".join(reversed(phases) if import_first else phases), "page_cache_dropped": dropped,
        "seconds": report["seconds"], "wall_seconds_with_process_start": round(seconds, 2),
        "messages_per_s": round(rate, 1), "mb_per_s": round(generated / report["seconds"] / 1e6, 1),
        "ratio_to_raw_put": round(rate / raw["messages_per_s"], 3), "raw_put": raw,
        "complete": report["complete"], "new": report["new_messages"], "peak_rss_mb": round(rss, 1),
        "writer_processes": report["writer_processes"],
    }  # fmt: skip
    print(f"  round {number + 1}: {result['ratio_to_raw_put']} x raw PUT ({raw['way']})", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mbox-messages", type=int, default=20_000)
    parser.add_argument("--size-kb", type=int, default=100)
    parser.add_argument("--whatsapp-messages", type=int, default=100_000)
    parser.add_argument(
        "--rounds",
        type=int,
        default=4,
        help="Rounds of the raw PUTs and the import, in alternating order; the medians are reported (default 4).",
    )
    parser.add_argument(
        "--settle", type=float, default=10.0,
        help="Seconds of quiet before each raw PUT and import (default 10): the phase before may have left "
        "the disk busy below the file system (a virtual disk's host cache).",
    )  # fmt: skip
    parser.add_argument(
        "--keep-caches", action="store_true",
        help="Do not drop the page cache before each phase (by default it is dropped where the bench may, "
        "as root, and the MBOX read back in: both phases start from the same cache).",
    )  # fmt: skip
    parser.add_argument("--skip-index", action="store_true")
    parser.add_argument("--skip-mbox", action="store_true")
    parser.add_argument("--skip-whatsapp", action="store_true")
    parser.add_argument(
        "--work", type=Path, default=None, help="Work directory (default: a temporary one, removed)."
    )
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.settle < 0:
        parser.error("--settle must not be negative")
    work = args.work or Path(tempfile.mkdtemp(prefix="import-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    if not args.skip_mbox:
        need = mbox_disk_bytes(args.mbox_messages, args.size_kb, args.rounds)
        free = shutil.disk_usage(work).free
        if free < need:
            parser.error(
                f"{args.mbox_messages:,} messages of {args.size_kb} kB in {args.rounds} round(s) need about "
                f"{need / 1e9:,.1f} GB free in {work} (the MBOX, and each round's two vaults kept until the "
                f"end), and {free / 1e9:,.1f} GB are: use fewer --rounds or --mbox-messages"
            )
    result: dict[str, Any] = {"at": datetime.now(UTC).isoformat(), "cpus": os.cpu_count()}
    try:
        if not args.skip_mbox:
            mbox = work / "historisch.mbox"
            generated = write_mbox(mbox, args.mbox_messages, args.size_kb)
            print(f"MBOX: {args.mbox_messages:,} messages, {generated / 1e6:,.0f} MB", flush=True)
            rounds = [mbox_round(mbox, work / f"round-{n}", args, generated, n) for n in range(args.rounds)]
            ratios = sorted(r["ratio_to_raw_put"] for r in rounds)
            mbox_result: dict[str, Any] = {
                "messages": args.mbox_messages, "bytes": generated,
                "complete": all(r["complete"] for r in rounds),
                "peak_rss_mb": max(r["peak_rss_mb"] for r in rounds),
                "ratio_to_raw_put": round(statistics.median(ratios), 3),
                "messages_per_s": round(statistics.median(r["messages_per_s"] for r in rounds), 1),
                "raw_messages_per_s": round(statistics.median(r["raw_put"]["messages_per_s"] for r in rounds), 1),
                "raw_threads_messages_per_s": round(
                    statistics.median(r["raw_put"]["threads"]["messages_per_s"] for r in rounds), 1),
                "raw_processes_messages_per_s": round(
                    statistics.median(r["raw_put"]["processes"]["messages_per_s"] for r in rounds), 1),
                "rounds": rounds,
            }  # fmt: skip
            if len(rounds) > 1:
                print(f"  median of {len(rounds)} rounds: import {mbox_result['messages_per_s']:,} msg/s, raw "
                      f"{mbox_result['raw_messages_per_s']:,} msg/s, ratio {mbox_result['ratio_to_raw_put']} "
                      f"(each round's: {', '.join(str(r) for r in ratios)})", flush=True)  # fmt: skip
            if not args.skip_index:
                home = work / "round-0" / "mbox-home"
                _, index_seconds, _ = capstone(home, "index", "update", "--json")
                mbox_result["index_seconds"] = round(index_seconds, 1)
                mbox_result["index_messages_per_s"] = round(args.mbox_messages / index_seconds, 1)
                print(
                    f"  index build: {mbox_result['index_messages_per_s']:,} msg/s ({index_seconds:.0f} s)",
                    flush=True,
                )
            result["mbox"] = mbox_result
            mbox.unlink()
        if not args.skip_whatsapp:
            export = whatsapp_android(work / "whatsapp", messages=args.whatsapp_messages, official="Marieke van Dalen",
                                      media_every=1000, zipped=True)  # fmt: skip
            home = work / "whatsapp-home"
            designation = prepare_home(home)
            done, seconds, rss = capstone(home, "import", "phone", "--official", designation, "--device",
                                          "bench", "--no-index", "--json", str(export))  # fmt: skip
            [report] = json.loads(done.stdout)["imports"]
            rate = args.whatsapp_messages / seconds
            result["whatsapp"] = {
                "messages": args.whatsapp_messages, "seconds": round(seconds, 2), "messages_per_s": round(rate, 1),
                "peak_rss_mb": round(rss, 1), "complete": report["complete"],
                "new": report["new"],
            }  # fmt: skip
            print(f"WhatsApp: {args.whatsapp_messages:,} messages, {rate:,.0f} msg/s ({seconds:.1f} s), "
                  f"peak RSS {rss:,.0f} MB, complete {report['complete']}", flush=True)  # fmt: skip
        for done_with in [*(f"round-{n}" for n in range(args.rounds)), "whatsapp-home"]:
            shutil.rmtree(work / done_with, ignore_errors=True)  # only now: see mbox_round
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    out = ROOT / "bench" / "results" / f"import-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
