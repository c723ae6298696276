"""On-premises Exchange through EWS behind the connector seam: a registry with Exchange Online
officials and one on-premises official (``exchange_endpoint`` = the simulator's EWS URL) captures
each through its own connector; the EWS account's primary mailbox and archive (Recoverable Items
included) equal truth, every SHA-256, as MIME; a second run after add/move/delete captures exactly
those changes."""

from __future__ import annotations

import csv
import io
from importlib import resources
from typing import Any

import pytest
from pydantic import SecretStr

from capstone.capture.runner import capture_status
from capstone.registry.service import Registry
from capstone.services import open_vault, state_engine
from capstone.settings import Settings
from connectors.simulator.server import RunningSimulator
from connectors.simulator.state import SimulatorConfig
from tests.capture.conftest import private_items, run_capture, simulator_settings, truth_content

ON_PREMISES = "burgemeester@gemeente-demo.nl"  # has an online archive


def _register(settings: Settings, endpoint: str) -> None:
    data = resources.files("capstone.registry").joinpath("samples/sleutelfunctionarissen.csv").read_text()
    rows = list(csv.DictReader(io.StringIO(data)))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[*rows[0].keys(), "exchange_endpoint"])
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "exchange_endpoint": endpoint if row["mail"] == ON_PREMISES else ""})
    Registry(state_engine(settings)).import_csv(
        out.getvalue().encode(), filename="officials.csv", actor="test"
    )


def _ews_held(settings: Settings) -> dict[tuple[str, str], str]:
    """(mailbox kind, EWS item id) -> blob SHA-256 of every EWS mail record."""
    held = {}
    for record in open_vault(settings).iter_records("mail-message"):
        src = record.source
        if src["system"] == "microsoft-exchange":
            assert record.blob_sha256 and src["mailbox"] == ON_PREMISES
            held[(src["mailbox_kind"], src["item_id"])] = record.blob_sha256
    return held


def _expected(truth: dict[str, Any], windows: dict[str, Any]) -> dict[tuple[str, str], str]:
    by_immutable = {
        (m["kind"], i["immutableId"]): i["ewsId"]
        for m in truth["mailboxes"]
        if m["address"] == ON_PREMISES
        for i in m["items"]
    }
    return {
        (kind, by_immutable[(kind, immutable)]): sha
        for (address, kind, immutable), sha in truth_content(truth, windows).items()
        if address == ON_PREMISES
    }


@pytest.mark.slow
def test_graph_and_ews_officials_each_through_their_connector(
    settings: Settings, simulator: RunningSimulator
) -> None:
    user, password = next(iter(SimulatorConfig().ews_users.items()))
    configured = simulator_settings(
        settings,
        simulator,
        ews_username=user,
        ews_password=SecretStr(password),
        ews_allow_insecure_http=True,
    )
    open_vault(configured, create=True)
    _register(configured, simulator.ews_url)
    windows = {
        a.upn or a.primary_smtp: d.capture_window()
        for d in Registry(state_engine(configured)).designations()
        for a in d.accounts
    }

    results = run_capture(configured)
    mail = {r.account: r for r in results if r.source in ("graph-mail", "ews-mail")}
    assert all(r.status == "complete" for r in mail.values()), [
        (r.account, r.status, r.error) for r in mail.values()
    ]
    assert mail[ON_PREMISES].source == "ews-mail"
    assert {r.source for a, r in mail.items() if a != ON_PREMISES} == {"graph-mail"}

    truth = simulator.truth()
    expected = _expected(truth, windows)
    held = _ews_held(configured)
    assert held == expected
    assert {kind for kind, _ in held} == {"primary", "archive"}
    folders = {
        r.source["folder_path"]
        for r in open_vault(configured).iter_records("mail-message")
        if r.source["system"] == "microsoft-exchange"
    }
    assert {"Recoverable Items/Deletions", "Recoverable Items/DiscoveryHolds", "Calendar", "Tasks"} <= folders
    exclusions = {
        (r.source["mailbox"], r.source["item_id"])
        for r in open_vault(configured).iter_records("exclusion")
        if r.source["mailbox"] == ON_PREMISES
    }
    assert len(exclusions) == len({k for k in private_items(truth, {ON_PREMISES})})

    # capture status names each account's connector run source
    status = capture_status(configured)
    text = repr(status)
    assert "ews-mail" in text and "graph-mail" in text

    # incremental: add, move, delete between runs -> exactly those changes
    inbox = [
        i
        for m in truth["mailboxes"]
        if m["address"] == ON_PREMISES and m["kind"] == "primary"
        for i in m["items"]
        if i["folderPath"] == "Inbox"
    ]
    added = simulator.mutate(
        {"op": "add-message", "mailbox": ON_PREMISES, "folder": "Inbox", "subject": "Tweede ronde"}
    )
    moved = simulator.mutate({"op": "move", "item": inbox[0]["ewsId"], "folder": "Archive"})
    deleted = simulator.mutate({"op": "delete", "item": inbox[1]["ewsId"]})
    before = set(_ews_held(configured))
    second = [r for r in run_capture(configured) if r.account == ON_PREMISES and r.source == "ews-mail"]
    assert second and second[0].status == "complete", second[0].error
    new = set(_ews_held(configured)) - before
    assert new == {
        ("primary", added["item"]["ewsId"]),
        ("primary", moved["item"]["ewsId"]),
        ("primary", deleted["item"]["ewsId"]),
    }
    gone = {
        r.source_identity.get("item_id")
        for r in open_vault(configured).iter_records("source-event")
        if r.source.get("mailbox") == ON_PREMISES
    }
    assert {inbox[0]["ewsId"], inbox[1]["ewsId"]} <= gone
