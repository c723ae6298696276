"""Where an EWS capture's time goes: how many of the mailbox's request slots are in use over a run,
and how long each EWS operation waits for a slot and runs in its worker thread.

    .venv/bin/python bench/ews_slots.py [--profile large] [--mailbox ADDRESS] [--page-size N]

One simulator; a first capture warms it (it renders every listed item once to learn its size), then
a second capture into a fresh vault is traced. The capture child is ``bench/ews_bench.py``'s, with
the connection's slot (``_AdaptiveSlot``) and ``EwsConnection.call`` wrapped to note times only.
Streamed items (``EwsConnection.stream``) hold a slot too, so they count in the occupancy, but only
``call`` operations get timings.

Prints, and writes to bench/results/ews_slots.json (``--out``):
- ``occupancy``: the share of the traced run with 0..max requests in flight;
- per operation: requests, median and mean milliseconds waiting before its worker thread started
  (the slot, the session gate, the thread pool) and inside the thread (the request and the parsing
  of its response);
- the run's items/s and CPU per item, as ``bench/ews_bench.py`` reports them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.capture_bench import start_simulator, write_results  # noqa: E402
from bench.ews_bench import (  # noqa: E402
    CAPTURE_CHILD,
    capture_arguments,
    cpu_seconds,
    page_size_env,
    run_capture,
    with_cpu,
    with_rates,
)

TRACE = r"""
import atexit, json, os, time
import connectors.ews.connection as _connection

_slots, _calls = [], []
_acquire, _release = _connection._AdaptiveSlot.acquire, _connection._AdaptiveSlot.release
_call = _connection.EwsConnection.call

async def _traced_acquire(self):
    await _acquire(self)
    _slots.append((time.monotonic(), 1))

def _traced_release(self):
    _slots.append((time.monotonic(), -1))
    _release(self)

async def _traced_call(self, address, operation, what, fn):
    started = time.monotonic()
    times = {}

    def timed(account):
        times["in"] = time.monotonic()
        try:
            return fn(account)
        finally:
            times["out"] = time.monotonic()

    try:
        return await _call(self, address, operation, what, timed)
    finally:
        ended = time.monotonic()
        _calls.append((operation, started, times.get("in", ended), times.get("out", ended), ended))

_connection._AdaptiveSlot.acquire, _connection._AdaptiveSlot.release = _traced_acquire, _traced_release
_connection.EwsConnection.call = _traced_call

def _dump():
    with open(os.environ["CAPSTONE_BENCH_TRACE"], "w") as out:
        json.dump({"slots": _slots, "calls": _calls}, out)

atexit.register(_dump)
"""


def occupancy(events: list[tuple[float, int]]) -> dict[int, float]:
    """Share of the time between the first and the last event with n requests holding a slot."""
    events = sorted(events)
    shares: dict[int, float] = {}
    in_flight, last = 0, events[0][0]
    for at, change in events:
        shares[in_flight] = shares.get(in_flight, 0.0) + at - last
        in_flight, last = in_flight + change, at
    total = sum(shares.values()) or 1.0
    return {n: shares[n] / total for n in sorted(shares)}


def timings(calls: list[tuple[str, float, float, float, float]]) -> dict[str, dict[str, float]]:
    by_operation: dict[str, list[tuple[float, float]]] = {}
    for operation, started, thread_in, thread_out, _ in calls:
        by_operation.setdefault(operation, []).append((thread_in - started, thread_out - thread_in))
    return {
        operation: {
            "requests": len(spans),
            "wait_ms_median": 1000 * statistics.median(w for w, _ in spans),
            "wait_ms_mean": 1000 * statistics.mean(w for w, _ in spans),
            "thread_ms_median": 1000 * statistics.median(t for _, t in spans),
            "thread_ms_mean": 1000 * statistics.mean(t for _, t in spans),
        }
        for operation, spans in sorted(by_operation.items())
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    capture_arguments(parser)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "ews_slots.json")
    args = parser.parse_args()
    more = page_size_env(args.page_size)
    work = ROOT / ".test-servers" / "bench"
    work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work) as tmp_name:
        tmp = Path(tmp_name)
        sim, info = start_simulator("--profile", args.profile, "--no-throttle")
        try:
            run_capture(info, tmp / "warm", args.mailbox, **more)  # its vault stays until the end
            trace = tmp / "trace.json"
            sim0 = cpu_seconds(sim.pid)
            run = run_capture(
                info,
                tmp / "traced",
                args.mailbox,
                TRACE + CAPTURE_CHILD,
                CAPSTONE_BENCH_TRACE=str(trace),
                **more,
            )
            run = with_cpu(run, run["items"], cpu_seconds(sim.pid) - sim0)
        finally:
            sim.terminate()
            sim.wait()
        traced = json.loads(trace.read_text())
    result: dict[str, Any] = {
        "params": {k: str(v) for k, v in vars(args).items()},
        "run": with_rates(run),
        "occupancy": occupancy([(at, change) for at, change in traced["slots"]]),
        "operations": timings([tuple(call) for call in traced["calls"]]),
    }
    write_results(result, args.out)


if __name__ == "__main__":
    main()
