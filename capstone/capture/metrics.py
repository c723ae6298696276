"""Prometheus metrics of the capture engine, served on ``CAPSTONE_METRICS_PORT`` when set.

Counters of this process (labels ``account``), raised when a run ends:

- ``capstone_capture_items_total``, ``capstone_capture_bytes_total``: items and new blob bytes written;
- ``capstone_capture_errors_total``: items that could not be captured;
- ``capstone_capture_throttle_wait_seconds_total``: time spent waiting for Graph's limits.

Read from the state database at every scrape (labels ``account``, ``source``: ``graph-mail`` or
``graph-teams``), so they are right after a restart and a stalled capture shows as a growing lag:

- ``capstone_capture_lag_seconds``: seconds since the account's last complete run (absent: never);
- ``capstone_capture_last_success_timestamp_seconds``;
- ``capstone_capture_held_items``, ``capstone_capture_held_bytes``: what the vault holds for it;
- ``capstone_capture_open_errors``: items that failed and are retried by the next run.

With ``capstone capture worker`` (issue 20), also from the state database:

- ``capstone_capture_worker_up`` (``worker``, ``host``): 1 while the worker's heartbeat is recent;
- ``capstone_capture_worker_leases`` (``worker``): accounts it holds;
- ``capstone_capture_lease_age_seconds``, ``capstone_capture_lease_expired`` (``worker``, ``account``);
- ``capstone_capture_queue_due``: accounts due now (a growing number: add workers).

Example::

    serve(9464, CaptureState(engine))      # then: curl http://127.0.0.1:9464/metrics
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC

from prometheus_client import CollectorRegistry, Counter, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from capstone.capture.state import CaptureState, kinds_of_source

REGISTRY = CollectorRegistry()
ITEMS = Counter("capstone_capture_items_total", "Items written to the vault", ["account"], registry=REGISTRY)
BYTES = Counter(
    "capstone_capture_bytes_total", "Bytes of new blobs written to the vault", ["account"], registry=REGISTRY
)
ERRORS = Counter(
    "capstone_capture_errors_total", "Items that could not be captured", ["account"], registry=REGISTRY
)
THROTTLE_WAITS = Counter(
    "capstone_capture_throttle_wait_seconds_total",
    "Seconds spent waiting for Graph's limits (Retry-After, backoff, own pacing)",
    ["account"],
    registry=REGISTRY,
)


class CaptureCollector(Collector):
    """Gauges computed from the state database when Prometheus scrapes."""

    def __init__(self, state: CaptureState) -> None:
        self.state = state

    def collect(self) -> Iterator[GaugeMetricFamily]:
        labels = ["account", "source"]
        lag = GaugeMetricFamily(
            "capstone_capture_lag_seconds", "Seconds since the last complete run", labels=labels
        )
        last = GaugeMetricFamily(
            "capstone_capture_last_success_timestamp_seconds", "End of the last complete run", labels=labels
        )
        items = GaugeMetricFamily("capstone_capture_held_items", "Items the vault holds", labels=labels)
        size = GaugeMetricFamily("capstone_capture_held_bytes", "Bytes the vault holds", labels=labels)
        errors = GaugeMetricFamily(
            "capstone_capture_open_errors", "Items that failed and are retried", labels=labels
        )
        now = time.time()
        for runs in self.state.latest_runs():
            values = [runs.account, runs.source]
            kinds = kinds_of_source(runs.source)
            held = self.state.totals(runs.account, kinds)
            items.add_metric(values, held["items"])
            size.add_metric(values, held["bytes"])
            errors.add_metric(values, sum(len(self.state.open_errors(runs.account, k)) for k in kinds))
            finished = (runs.last_complete or {}).get("finished_at")
            if finished is not None:
                stamp = (finished if finished.tzinfo else finished.replace(tzinfo=UTC)).timestamp()
                last.add_metric(values, stamp)
                lag.add_metric(values, max(now - stamp, 0.0))
        yield from (lag, last, items, size, errors)
        yield from self._workers()

    def _workers(self) -> Iterator[GaugeMetricFamily]:
        from capstone.capture.leases import Leases

        snapshot = Leases(self.state.engine).snapshot()
        alive = GaugeMetricFamily(
            "capstone_capture_worker_up",
            "1 while the worker's heartbeat is recent",
            labels=["worker", "host"],
        )
        held = GaugeMetricFamily(
            "capstone_capture_worker_leases", "Accounts the worker holds", labels=["worker"]
        )
        age = GaugeMetricFamily(
            "capstone_capture_lease_age_seconds",
            "How long the worker has held the account",
            labels=["worker", "account"],
        )
        expired = GaugeMetricFamily(
            "capstone_capture_lease_expired",
            "1 if the lease expired without renewal",
            labels=["worker", "account"],
        )
        for worker in snapshot["workers"]:
            name = str(worker["worker_id"])
            alive.add_metric([name, str(worker.get("host", ""))], 1.0 if worker["state"] == "alive" else 0.0)
            held.add_metric([name], len(worker["leases"]))
            for lease in worker["leases"]:
                age.add_metric([name, lease["account"]], float(lease["age_seconds"] or 0.0))
                expired.add_metric([name, lease["account"]], 1.0 if lease["expired"] else 0.0)
        queue = snapshot["queue"]
        due = GaugeMetricFamily("capstone_capture_queue_due", "Accounts due for capture now and not held")
        due.add_metric([], queue["due_now"])
        yield from (alive, held, age, expired, due)


_served: set[int] = set()


def serve(port: int, state: CaptureState, *, addr: str = "127.0.0.1") -> None:
    """Serve the counters and the state gauges on ``addr:port`` (once per port and process)."""
    if port in _served:
        return
    REGISTRY.register(CaptureCollector(state))
    start_http_server(port, addr=addr, registry=REGISTRY)
    _served.add(port)


def observe_run(account: str, *, items: int, size: int, errors: int, throttle_waits: float = 0.0) -> None:
    ITEMS.labels(account).inc(items)
    BYTES.labels(account).inc(size)
    ERRORS.labels(account).inc(errors)
    THROTTLE_WAITS.labels(account).inc(max(throttle_waits, 0.0))
