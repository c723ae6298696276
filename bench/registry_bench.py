"""Registry import: seconds per row at growing sizes, as ratios to the smallest size in the same
run (1.0 everywhere: linear; the quadratic import of issue 16 took 17 s for 2 000 rows, 65 s for
4 000, a ratio of ~2 per doubling). The database part (parse, validate, check overlaps, insert) and
the archival of every event into a local vault (an fsync'd blob each) are measured apart.

    .venv/bin/python bench/registry_bench.py [--sizes 2000,20000,100000] [--archive-sizes 2000,10000]
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from capstone.registry import settings_archive
from capstone.registry.service import Registry
from capstone.services import open_vault, state_engine
from capstone.settings import Settings

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
    parser.add_argument("--sizes", default="2000,20000,100000")
    parser.add_argument("--archive-sizes", default="2000,10000")
    args = parser.parse_args()
    results: dict[str, Any] = {
        "database": series([int(n) for n in args.sizes.split(",")], archive=False),
        "with_local_vault_archive": series([int(n) for n in args.archive_sizes.split(",")], archive=True),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(json.dumps(results, indent=2))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "registry_bench.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
