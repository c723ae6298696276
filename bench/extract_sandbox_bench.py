"""Hostile attachments against the extraction sandbox, and the capture rate beside a busy index.

    .venv/bin/python bench/extract_sandbox_bench.py [--seconds 5] [--memory-mb 512] [--repeat 3] [--out PATH]

1. ``hostile``: each document of ``tests/index/hostile.py`` (an XLSX padded to column XFD, a DOCX
   that inflates to gigabytes of elements, a PDF of Flate bombs) extracted through the sandbox:
   wall time against the time limit (target: ratio <= 1.2), the peak RSS of the sandbox processes
   (``RUSAGE_CHILDREN``) against the memory limit (target <= 1.0), and this process's RSS growth.
   Baseline in the same run: ordinary PDF/DOCX/XLSX attachments extracted in-process and through
   the sandbox (the sandbox's overhead per ordinary document).
2. ``capture``: two fresh simulated tenants (same seed), one with three mails carrying the hostile
   attachments: the capture pass's items/s with the index updated beside it (``IndexFollower``);
   target ratio hostile / baseline >= 0.8 (capture does not wait for the index). The index update's
   own time follows for both.
Results go to stdout and bench/results/extract_sandbox_bench.json.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _rss_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def hostile(seconds: float, memory_mb: int) -> dict[str, Any]:
    from capstone.index.extract import attachment_text
    from capstone.index.sandbox import ExtractionSandbox, SandboxLimits
    from tests.index.helpers import docx_bytes, pdf_bytes, xlsx_bytes
    from tests.index.hostile import DOCX_TYPE, PDF_TYPE, XLSX_TYPE, hostile_set

    ordinary = [
        ("advies.pdf", PDF_TYPE, pdf_bytes("Advies over de haven. " * 40)),
        ("besluit.docx", DOCX_TYPE, docx_bytes(["Besluit over de sluis."] * 40)),
        (
            "lijst.xlsx",
            XLSX_TYPE,
            xlsx_bytes([["naam", "bedrag"], *[[f"post {i}", str(i)] for i in range(200)]]),
        ),
    ]
    documents = hostile_set()
    sandbox = ExtractionSandbox(SandboxLimits(seconds=seconds, memory_mb=memory_mb))
    try:
        sandbox.extract(
            ordinary[0][2], ordinary[0][1], ordinary[0][0], []
        )  # start the process outside the measurements
        inline = sandboxed = 0.0
        rounds = 5
        for _ in range(rounds):
            for name, kind, data in ordinary:
                started = time.perf_counter()
                attachment_text(data, kind, name, [])
                inline += time.perf_counter() - started
                started = time.perf_counter()
                sandbox.extract(data, kind, name, [])
                sandboxed += time.perf_counter() - started
        parent_before = _rss_mb(resource.RUSAGE_SELF)
        rows = []
        for name, kind, data in documents:
            notes: list[str] = []
            started = time.perf_counter()
            text = sandbox.extract(data, kind, name, notes)
            elapsed = time.perf_counter() - started
            rows.append(
                {
                    "document": name,
                    "bytes": len(data),
                    "seconds": round(elapsed, 2),
                    "time_ratio": round(elapsed / seconds, 2),
                    "text_chars": len(text),
                    "notes": notes,
                }
            )
    finally:
        sandbox.close()
    children_peak = _rss_mb(resource.RUSAGE_CHILDREN)
    return {
        "limits": {"seconds": seconds, "memory_mb": memory_mb},
        "ordinary_per_document_ms": {
            "inline": round(1000 * inline / (rounds * len(ordinary)), 1),
            "sandbox": round(1000 * sandboxed / (rounds * len(ordinary)), 1),
        },
        "documents": rows,
        "max_time_ratio": max(r["time_ratio"] for r in rows),
        "sandbox_peak_rss_mb": round(children_peak, 1),
        "memory_ratio": round(children_peak / memory_mb, 2),
        "parent_rss_growth_mb": round(_rss_mb(resource.RUSAGE_SELF) - parent_before, 1),
    }


def _world(home: Path, hostile_mails: bool, seconds: float, memory_mb: int) -> tuple[Any, Any]:
    from capstone.services import open_vault
    from capstone.settings import Settings
    from connectors.simulator.server import run_simulator
    from tests.capture.conftest import SEED, register_sample_officials, simulator_settings
    from tests.index.helpers import mime
    from tests.index.hostile import hostile_set

    running = run_simulator(seed=SEED, profile="small")
    sim = running.__enter__()
    settings = simulator_settings(
        Settings(home=home), sim, index_extract_seconds=seconds, index_extract_memory_mb=memory_mb
    )
    open_vault(settings, create=True)
    register_sample_officials(settings)
    if hostile_mails:
        for number, attachment in enumerate(hostile_set()):
            data = mime(
                subject=f"Bijlage {number}",
                body="Zie bijlage.",
                message_id=f"<hostile-{number}@gemeente-demo.nl>",
                attachments=[attachment],
            )
            sim.mutate(
                {
                    "op": "add-message",
                    "mailbox": "burgemeester@gemeente-demo.nl",
                    "folder": "Inbox",
                    "mime": base64.b64encode(data).decode(),
                }
            )
    return running, settings


def capture(seconds: float, memory_mb: int, repeat: int) -> dict[str, Any]:
    from capstone.capture.indexing import IndexFollower
    from capstone.capture.runner import capture_once

    runs: dict[str, list[dict[str, Any]]] = {"baseline": [], "hostile": []}
    # A warm-up pass first (imports, caches), then the two alternately: the shared machine's noise
    # falls on both alike; the median of each is reported.
    order = [("warm-up", False)] + [("baseline", False), ("hostile", True)] * repeat
    for label, planted in order:
        with tempfile.TemporaryDirectory(prefix=f"sandbox-bench-{label}-") as home:
            running, settings = _world(Path(home), planted, seconds, memory_mb)
            try:
                follower = IndexFollower(settings)
                started = time.perf_counter()
                results = asyncio.run(capture_once(settings, progress=False, indexer=follower))
                captured = time.perf_counter() - started
                items = sum(r.counters.get("items", 0) for r in results)
                follower.wait()
                indexed = time.perf_counter() - started - captured
            finally:
                running.__exit__(None, None, None)
        if label in runs:
            runs[label].append(
                {
                    "items": items,
                    "capture_seconds": round(captured, 2),
                    "items_per_second": round(items / captured, 1),
                    "index_seconds_after_capture": round(indexed, 2),
                    "complete": all(r.status == "complete" for r in results),
                }
            )
    out: dict[str, Any] = {}
    for label, measured in runs.items():
        ordered = sorted(measured, key=lambda r: float(r["items_per_second"]))
        out[label] = {
            **ordered[len(ordered) // 2],
            "all_items_per_second": [r["items_per_second"] for r in measured],
        }
    out["rate_ratio"] = round(out["hostile"]["items_per_second"] / out["baseline"]["items_per_second"], 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--memory-mb", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=3, help="capture passes of each kind")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "extract_sandbox_bench.json"))
    args = parser.parse_args()
    result = {
        "hostile": hostile(args.seconds, args.memory_mb),
        "capture": capture(args.seconds, args.memory_mb, args.repeat),
    }
    text = json.dumps(result, indent=2, ensure_ascii=False)
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
