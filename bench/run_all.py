"""Run every benchmark in bench/ one after another (what ``make bench`` calls).

    .venv/bin/python bench/run_all.py [--quick] [--only vault,capture,chat,index,registry,audit] [--keep-going]

Default sizes are each bench's own defaults (the index bench: 100,000 messages against notmuch).
``--quick`` uses small settings that finish in a few minutes: a smoke test of the benches, not
figures to report. Each bench writes its JSON to bench/results/; this prints one line per bench.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable

BENCHES: dict[str, tuple[list[str], list[str]]] = {
    # name: (default arguments, --quick arguments)
    "vault": ([], ["--blobs", "100", "--large-mb", "32", "--records", "2000", "--skip-s3"]),
    "capture": ([], ["--skip-budget", "--big-mb", "64"]),
    "chat": ([], ["--messages", "1000", "--changes", "100"]),
    "index": (["--messages", "100000"], ["--messages", "10000", "--repeat", "2"]),
    "registry": ([], ["--sizes", "1000,5000", "--archive-sizes", "500,2000", "--compare-sizes", "2000"]),
    "audit": ([], ["--entries", "100"]),
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="Small settings (a smoke test).")
    parser.add_argument("--only", help="Comma-separated subset of: " + ", ".join(BENCHES))
    parser.add_argument("--keep-going", action="store_true", help="Run the rest when one bench fails.")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(BENCHES)
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        raise SystemExit(f"unknown bench(es): {', '.join(unknown)}")
    outcomes: list[tuple[str, int, float]] = []
    for name in names:
        default, quick = BENCHES[name]
        command = [PY, str(ROOT / "bench" / f"{name}_bench.py"), *(quick if args.quick else default)]
        print(f"\n### {name}: {' '.join(command[1:])}", flush=True)
        t0 = time.monotonic()
        code = subprocess.run(command, cwd=ROOT).returncode
        outcomes.append((name, code, time.monotonic() - t0))
        if code != 0 and not args.keep_going:
            break
    print("\n### summary")
    for name, code, seconds in outcomes:
        print(f"{name:<8} {'ok' if code == 0 else f'FAILED ({code})':<12} {seconds:>7.0f} s")
    if any(code != 0 for _, code, _ in outcomes) or len(outcomes) < len(names):
        sys.exit(1)


if __name__ == "__main__":
    main()
