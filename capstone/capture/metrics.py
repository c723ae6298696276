"""Prometheus metrics of the capture engine (served on ``CAPSTONE_METRICS_PORT`` when set)."""

from __future__ import annotations

import time

from prometheus_client import Counter, Gauge, start_http_server

ITEMS = Counter("capstone_capture_items_total", "Items written to the vault", ["account"])
BYTES = Counter("capstone_capture_bytes_total", "Bytes of new blobs written to the vault", ["account"])
ERRORS = Counter("capstone_capture_errors_total", "Items that could not be captured", ["account"])
LAST_SUCCESS = Gauge(
    "capstone_capture_last_success_timestamp_seconds", "End of the last complete run", ["account"]
)
LAG = Gauge("capstone_capture_lag_seconds", "Seconds since the last complete run", ["account"])

_started = False


def serve(port: int) -> None:
    global _started
    if not _started:
        start_http_server(port, addr="127.0.0.1")
        _started = True


def observe_run(account: str, *, items: int, size: int, errors: int, complete: bool) -> None:
    ITEMS.labels(account).inc(items)
    BYTES.labels(account).inc(size)
    ERRORS.labels(account).inc(errors)
    if complete:
        LAST_SUCCESS.labels(account).set(time.time())
        LAG.labels(account).set(0)
