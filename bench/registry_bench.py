"""Registry import: seconds per row at growing sizes, as ratios to the smallest size in the same
run (1.0 everywhere: linear; the quadratic import of issue 16 took 17 s for 2 000 rows, 65 s for
4 000, a ratio of ~2 per doubling). The database part (parse, validate, check overlaps, insert) and
the whole import with the archival of every event into a local vault are measured apart.

The archival is measured against its former way in the same run (issue 16: 100 000 rows took 72-96 s
for a goal of 30 s): ``baseline_blob_per_event`` stores each event as an fsync'd blob of its own, as
the archive did before; ``batched`` is today's archive (events inside their records, one segment per
10 000 events). ``speedup`` is baseline seconds / batched seconds for the same rows on this machine.

    .venv/bin/python bench/registry_bench.py [--sizes 2000,20000,100000] [--archive-sizes 10000,100000]
        [--compare-sizes 10000,100000]
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from capstone.registry import ArchiveItem, ArchiveReceipt, settings_archive
from capstone.registry.archive import RECORD_KIND, SOURCE_SYSTEM, event_bytes, vault_archive
from capstone.registry.service import Registry
from capstone.services import open_vault, state_engine
from capstone.settings import Settings
from vault import Record, Vault

ROOT = Path(__file__).resolve().parent.parent
HEADER = (
    "name,mail,function,organisation_unit,category,start_date,end_date,deciding_body,decision_date,"
    "decision_reference\n"
)


def generated_csv(rows: int) -> bytes:
    return (
        HEADER
        + "".join(
            f"Persoon {i},p{i}@gemeente-demo.nl,Functie {i},Afdeling {i % 40},college,2024-01-01,,"
            f"Directieteam,2024-01-15,DT-{i}\n"
            for i in range(rows)
        )
    ).encode()


def archive_blob_per_event(vault: Vault, items: Sequence[ArchiveItem]) -> list[ArchiveReceipt]:
    """The archive as it was before issue 16's batching: an fsync'd blob per event (16 threads)."""
    from concurrent.futures import ThreadPoolExecutor

    now = datetime.now(UTC)
    run_id = f"registry-{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    with ThreadPoolExecutor(16) as pool:
        blobs = list(
            pool.map(lambda i: vault.put_blob(event_bytes(i.event), media_type="application/json"), items)
        )
    records = [
        Record(
            kind=RECORD_KIND,
            source={"system": SOURCE_SYSTEM, "event_id": i.event.event_id, "version": i.event.version,
                    "designation_id": i.event.designation_id, "event_type": i.event.event_type.value},
            capture={"run_id": run_id, "actor": i.event.actor, "captured_at": now.isoformat()},
            blob_sha256=b.sha256, size=b.size, media_type="application/json",
            designation=i.designation.record_reference(),
        )
        for i, b in zip(items, blobs, strict=True)
    ]  # fmt: skip
    refs = vault.put_records(records)
    vault.write_manifest(run_id, refs, kind="registry", summary={"events": len(refs)})
    return [ArchiveReceipt(i.event.event_id, r.record_id, run_id) for i, r in zip(items, refs, strict=True)]


def archive_seconds(rows: int, *, baseline: bool) -> dict[str, float]:
    """The whole import with its archive into a local vault: import (database) and archive apart."""
    with tempfile.TemporaryDirectory(dir=ROOT / ".cache") as tmp:
        settings = Settings(home=Path(tmp) / "home")
        vault = open_vault(settings, create=True)
        engine = state_engine(settings)
        data = generated_csv(rows)
        start = time.perf_counter()
        Registry(engine).import_csv(data, filename="bench.csv", actor="bench")  # no archive yet
        imported = time.perf_counter()
        archive = (
            (lambda items: archive_blob_per_event(vault, items)) if baseline else vault_archive(lambda: vault)
        )
        status = Registry(engine, archive=archive).archive_pending()
        done = time.perf_counter()
        assert status.archived == rows and not status.error, status
        vault.close()
        engine.dispose()
        return {"import": imported - start, "archive": done - imported, "total": done - start}


def archive_comparison(sizes: list[int]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for n in sizes:
        baseline = archive_seconds(n, baseline=True)
        batched = archive_seconds(n, baseline=False)
        out[str(n)] = {
            "baseline_blob_per_event": {k: round(v, 2) for k, v in baseline.items()},
            "batched": {k: round(v, 2) for k, v in batched.items()},
            "archive_speedup": round(baseline["archive"] / batched["archive"], 1),
            "total_speedup": round(baseline["total"] / batched["total"], 2),
        }
    return out


def import_seconds(rows: int, *, archive: bool) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=Path(tmp) / "home")
        if archive:
            open_vault(settings, create=True).close()
        registry = Registry(state_engine(settings), archive=settings_archive(settings) if archive else None)
        data = generated_csv(rows)
        start = time.perf_counter()
        result = registry.import_csv(data, filename="bench.csv", actor="bench")
        seconds = time.perf_counter() - start
        assert len(result.designations) == rows
        if archive:
            assert registry.last_archive.archived == rows and not registry.last_archive.error
        registry.engine.dispose()
        return seconds


def series(sizes: list[int], *, archive: bool) -> dict[str, Any]:
    runs = {n: import_seconds(n, archive=archive) for n in sizes}
    base = runs[sizes[0]] / sizes[0]
    return {
        str(n): {
            "seconds": round(s, 2),
            "rows_per_s": round(n / s),
            "per_row_ratio_to_smallest": round((s / n) / base, 2),
        }
        for n, s in runs.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="2000,20000,100000", help="Database-only imports ('' skips).")
    parser.add_argument(
        "--archive-sizes", default="10000,100000", help="Imports with the archive ('' skips)."
    )
    parser.add_argument(
        "--compare-sizes", default="10000,100000", help="Archive vs the former blob per event ('' skips)."
    )
    args = parser.parse_args()
    (ROOT / ".cache").mkdir(exist_ok=True)

    def sizes(text: str) -> list[int]:
        return [int(n) for n in text.split(",") if n.strip()]

    results: dict[str, Any] = {}
    if sizes(args.sizes):
        results["database"] = series(sizes(args.sizes), archive=False)
    if sizes(args.archive_sizes):
        results["with_local_vault_archive"] = series(sizes(args.archive_sizes), archive=True)
    if sizes(args.compare_sizes):
        results["archive_vs_blob_per_event"] = archive_comparison(sizes(args.compare_sizes))
    results["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(results, indent=2))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "registry_bench.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
