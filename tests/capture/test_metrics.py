"""``capture status`` and the Prometheus metrics: counters of the runs, and per account what the
vault holds, open errors, the last reconciliation, and a lag that grows while no run completes."""

from __future__ import annotations

import socket
import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

from capstone.capture import metrics
from capstone.capture.runner import capture_status
from capstone.capture.state import CaptureState, kinds_of_source
from capstone.services import state_engine
from tests.capture.conftest import CaptureWorld

MAYOR = "burgemeester@gemeente-demo.nl"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_report_what_the_vault_holds_and_a_growing_lag(world: CaptureWorld) -> None:
    items_before = metrics.ITEMS.labels(MAYOR)._value.get()
    runs = world.capture(source=None)
    assert all(r.status == "complete" for r in runs)
    mayor_mail = next(r for r in runs if r.account == MAYOR and r.source == "graph-mail")

    state = CaptureState(state_engine(world.settings))
    port = _free_port()
    metrics.serve(port, state)
    first = _scrape(port)
    time.sleep(1.1)
    second = _scrape(port)

    mail = (("account", MAYOR), ("source", "graph-mail"))
    chats = (("account", MAYOR), ("source", "graph-teams"))
    held = state.totals(MAYOR, kinds_of_source("graph-mail"))
    assert held["items"] > 0
    assert first[("capstone_capture_held_items", mail)] == held["items"]
    assert first[("capstone_capture_held_bytes", mail)] == held["bytes"]
    assert first[("capstone_capture_held_items", chats)] == state.totals(MAYOR, ("teams",))["items"] > 0
    assert first[("capstone_capture_open_errors", mail)] == 0
    # The lag is computed when scraped: it grows while no run completes.
    assert 0 <= first[("capstone_capture_lag_seconds", mail)] < 120
    assert second[("capstone_capture_lag_seconds", mail)] >= first[("capstone_capture_lag_seconds", mail)] + 1
    assert first[("capstone_capture_last_success_timestamp_seconds", mail)] <= time.time()
    # Counters of this process: what its runs wrote.
    written = first[("capstone_capture_items_total", (("account", MAYOR),))]
    assert written - items_before == sum(r.counters["items"] for r in runs if r.account == MAYOR)
    assert mayor_mail.counters["items"] > 0

    # capture status: the same figures, per source and per part of the mailbox
    status = {(a["account"], a["source"]): a for a in capture_status(world.settings)["accounts"]}
    mail_status = status[(MAYOR, "graph-mail")]
    assert mail_status["items"] == held["items"] and mail_status["bytes"] == held["bytes"]
    assert sum(p["items"] for p in mail_status["by_kind"].values()) == held["items"]
    assert {"primary", "primary-export", "primary-json"} <= set(mail_status["by_kind"])
    assert mail_status["last_success"]["run_id"] == mayor_mail.run_id == mail_status["last_run"]["run_id"]
    assert 0 <= mail_status["lag_seconds"] < 120 and mail_status["open_errors"] == []
    assert mail_status["last_reconciliation"]["complete"] is True
    assert mayor_mail.reconciliation is not None
    assert mail_status["last_reconciliation"]["vault_items"] == mayor_mail.reconciliation["vault_items"]
    assert status[(MAYOR, "graph-teams")]["items"] == state.totals(MAYOR, ("teams",))["items"]
