"""Retention run cost (issue 21): how long `capstone retention run` takes over a vault of N objects,
as ratios against reading every record once (the baseline every run pays), measured in the same run.

    .venv/bin/python bench/retention_bench.py [--objects 5000] (local vault)

Phases: ``baseline`` reads every record (collect); ``first`` secures every object (one extend per
object); ``repeat`` is the next run, served by the cache of secured locks (no store request per
object). Writes bench/results/retention.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from capstone.access import Actor
from capstone.retention.objects import collect
from capstone.retention.service import RetentionService
from capstone.services import open_vault
from capstone.settings import Settings
from vault import Record

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--objects", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=500, help="Records per segment.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="retention-bench-") as tmp:
        settings = Settings(
            home=Path(tmp) / "home", vault=f"file://{tmp}/vault", exclusion_window="1s", exclusion_margin="1s",
            roles={"bench": ["archivist"]}, user="bench",
        )  # fmt: skip
        vault = open_vault(settings, create=True)
        captured = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()
        for start in range(0, args.objects, args.batch):
            records = []
            for i in range(start, min(start + args.batch, args.objects)):
                blob = vault.put_blob(f"object {i}".encode(), media_type="text/plain")
                records.append(
                    Record(kind="mail-message", source={"mailbox": "m@x", "item_id": f"i{i}"},
                           capture={"captured_at": captured}, blob_sha256=blob.sha256, size=blob.size)
                )  # fmt: skip
            vault.write_manifest("bench", vault.put_records(records))
        time.sleep(1.5)
        started = time.perf_counter()
        assert len(collect(vault)) == args.objects
        baseline = time.perf_counter() - started
        vault.close()
        service = RetentionService(settings, Actor("bench", frozenset({"archivist"})))
        started = time.perf_counter()
        first = service.run()
        first_s = time.perf_counter() - started
        started = time.perf_counter()
        repeat = service.run()
        repeat_s = time.perf_counter() - started
        assert first.secured == args.objects and repeat.already_secured == args.objects
    result = {
        "objects": args.objects,
        "baseline_collect_s": round(baseline, 3),
        "first_run_s": round(first_s, 3),
        "repeat_run_s": round(repeat_s, 3),
        "first_over_baseline": round(first_s / baseline, 2),
        "repeat_over_baseline": round(repeat_s / baseline, 2),
    }
    out = ROOT / "bench" / "results" / "retention.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
