"""The connector seam: each account's connector is chosen by its registration, and only the seam's
error types reach capture.

An account registered with an on-premises Exchange endpoint is never captured through Graph: until
the EWS connector is there, its mail run fails with an open error naming the endpoint, while the
other accounts are captured as before (and its Teams chats, which are in the cloud, through Graph).
"""

from __future__ import annotations

import ast
import csv
import io
from importlib import resources
from pathlib import Path

import httpx

from capstone.capture.failures import SOURCE_FAILURES, failure_reason, failure_status
from capstone.capture.runner import capture_status
from capstone.registry.service import Registry
from capstone.services import open_vault, state_engine
from capstone.settings import Settings
from connectors.errors import SourceError
from connectors.graph.errors import translate
from connectors.simulator.server import RunningSimulator
from tests.capture.conftest import CaptureWorld, simulator_settings

ON_PREMISES = "gemeentesecretaris@gemeente-demo.nl"
ENDPOINT = "https://mail.gemeente-demo.nl/EWS/Exchange.asmx"
CAPTURE = Path(__file__).resolve().parents[2] / "capstone" / "capture"


def _register_with_one_on_premises(settings: Settings) -> None:
    sample = resources.files("capstone.registry").joinpath("samples/sleutelfunctionarissen.csv").read_text()
    rows = list(csv.DictReader(io.StringIO(sample)))
    assert any(r["mail"] == ON_PREMISES for r in rows)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[*rows[0].keys(), "exchange_endpoint"])
    writer.writeheader()
    for row in rows:
        writer.writerow(row | {"exchange_endpoint": ENDPOINT if row["mail"] == ON_PREMISES else ""})
    registry = Registry(state_engine(settings))
    registry.import_csv(out.getvalue().encode(), filename="sleutelfunctionarissen.csv", actor="test")


def test_an_on_premises_account_is_never_sent_to_graph(
    settings: Settings, simulator: RunningSimulator
) -> None:
    configured = simulator_settings(settings, simulator)
    open_vault(configured, create=True)
    _register_with_one_on_premises(configured)
    world = CaptureWorld(configured, simulator)

    runs = world.capture(source=None)
    mail = {r.account: r for r in runs if r.source in ("graph-mail", "ews-mail")}
    on_premises = mail[ON_PREMISES]
    assert on_premises.source == "ews-mail" and on_premises.connector == "ews"
    assert on_premises.status == "failed"
    assert on_premises.error == (  # EWS is not configured here (no service account)
        f"ConnectorUnavailableError: EWS connector for endpoint {ENDPOINT} not available: "
        "CAPSTONE_EWS_USERNAME and CAPSTONE_EWS_PASSWORD are not set"
    )
    assert [u["item_id"] for u in on_premises.uncapturable] == ["source:connector"]
    assert on_premises.requests == 0
    others = [r for a, r in mail.items() if a != ON_PREMISES]
    assert others and all(r.status == "complete" and r.connector == "graph" for r in others)
    # Its chats are in the cloud: captured through Graph like everyone's.
    chats = {r.account: r for r in runs if r.source == "graph-teams"}
    assert chats[ON_PREMISES].status == "complete"

    vault = world.vault()
    mailboxes = {
        record.source["mailbox"]
        for kind in ("mail-message", "mailbox-export-item", "archive-export-item", "calendar-event")
        for record in vault.iter_records(kind)
    }
    assert ON_PREMISES not in mailboxes and mailboxes, "an on-premises mailbox was read through Graph"

    status = capture_status(configured)
    entry = next(a for a in status["accounts"] if a["account"] == ON_PREMISES and a["source"] == "ews-mail")
    assert entry["last_run"]["status"] == "failed"
    assert ENDPOINT in entry["last_run"]["reason"]
    assert [e["item_id"] for e in entry["open_errors"]] == ["source:connector"]

    again = {r.account: r for r in world.capture(source="ews-mail")}
    assert again[ON_PREMISES].status == "failed", "a second pass still refuses, never falls back to Graph"
    status = capture_status(configured)
    entry = next(a for a in status["accounts"] if a["account"] == ON_PREMISES and a["source"] == "ews-mail")
    assert [e["attempts"] for e in entry["open_errors"]] == [2]


def test_capture_imports_no_transport_library() -> None:
    """No module of ``capstone/capture`` imports httpx, requests or exchangelib (or a connector's
    Graph/EWS classes): connectors translate their errors at the seam."""
    forbidden = ("httpx", "requests", "exchangelib", "msgraph", "kiota", "connectors.graph", "connectors.ews")
    offenders = []
    for path in sorted(CAPTURE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [
                f"{path.name}: {n}" for n in names if n.split(".")[0] in forbidden or n in forbidden
            ]
            offenders += [f"{path.name}: {n}" for n in names if any(n.startswith(f + ".") for f in forbidden)]
    assert not offenders, offenders
    assert (SourceError,) == SOURCE_FAILURES


def test_graph_transport_errors_cross_the_seam_as_source_errors() -> None:
    request = httpx.Request("GET", "https://graph.example/v1.0/users/a/messages/x/$value")
    timeout = translate(httpx.ReadTimeout("timed out reading", request=request), "MIME of x")
    assert isinstance(timeout, SourceError) and timeout.status is None
    assert failure_reason(timeout) == "ReadTimeout: timed out reading"  # as named before the seam
    answered = translate(
        httpx.HTTPStatusError("no", request=request, response=httpx.Response(503, request=request)),
        "MIME of x",
    )
    assert isinstance(answered, SourceError) and failure_status(answered) == 503
    assert failure_reason(answered).startswith("HTTP 503: ")
    assert translate(ValueError("not a transport error"), "x") is None
