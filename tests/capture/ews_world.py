"""Capture of a simulated tenant whose officials are on-premises Exchange accounts (EWS): the
registry's sample officials with ``exchange_endpoint`` = the simulator's EWS URL, the EWS service
account configured, and what truth says EWS must give the vault (keyed by EWS item id, which is
valid in its folder only)."""

from __future__ import annotations

import csv
import io
from collections.abc import Collection
from datetime import datetime
from importlib import resources
from typing import Any

from pydantic import SecretStr

from capstone.registry.service import Registry
from capstone.services import state_engine
from capstone.settings import Settings
from connectors.simulator.state import SimulatorConfig
from tests.capture.conftest import simulator_settings
from vault import Vault

EWS_USER, EWS_PASSWORD = next(iter(SimulatorConfig().ews_users.items()))
EWS_SYSTEM = "microsoft-exchange"
PRIVATE = "Privé"

Key = tuple[str, str, str]  # (address, mailbox kind, EWS item id)


def ews_settings(base: Settings, sim: Any, **more: Any) -> Settings:
    """Settings for the simulated tenant with the EWS service account (plain HTTP on 127.0.0.1)."""
    return simulator_settings(
        base,
        sim,
        ews_username=EWS_USER,
        ews_password=SecretStr(EWS_PASSWORD),
        ews_allow_insecure_http=True,
        **more,
    )


def ews_env() -> dict[str, str]:
    """The same EWS configuration as environment variables (for a capture subprocess)."""
    return {
        "CAPSTONE_EWS_USERNAME": EWS_USER,
        "CAPSTONE_EWS_PASSWORD": EWS_PASSWORD,
        "CAPSTONE_EWS_ALLOW_INSECURE_HTTP": "true",
    }


def register_on_premises(
    settings: Settings, endpoint: str, accounts: Collection[str] | None = None, *, chats: bool = False
) -> set[str]:
    """Register the sample officials, ``accounts`` of them (None: all) on premises at ``endpoint``;
    ``chats=False`` designates their mail only. Returns the on-premises addresses."""
    data = resources.files("capstone.registry").joinpath("samples/sleutelfunctionarissen.csv").read_text()
    rows = list(csv.DictReader(io.StringIO(data)))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[*rows[0].keys(), "exchange_endpoint"])
    writer.writeheader()
    chosen = set()
    for row in rows:
        on_premises = accounts is None or row["mail"] in accounts
        if on_premises:
            chosen.add(row["mail"])
        writer.writerow(
            row
            | {
                "exchange_endpoint": endpoint if on_premises else "",
                "capture_chats": row["capture_chats"] if chats else "no",
            }
        )
    Registry(state_engine(settings)).import_csv(
        out.getvalue().encode(), filename="officials.csv", actor="test"
    )
    return chosen


def capture_windows(settings: Settings) -> dict[str, Any]:
    registry = Registry(state_engine(settings))
    return {a.upn or a.primary_smtp: d.capture_window() for d in registry.designations() for a in d.accounts}


def ews_truth(truth: dict[str, Any], windows: dict[str, Any], accounts: Collection[str]) -> dict[Key, str]:
    """(address, mailbox kind, EWS item id) -> MIME SHA-256 of every item of ``accounts`` that the
    vault must hold: every folder (hidden ones, Recoverable Items, the archive), except private
    folders and what lies outside the account's capture window."""
    expected: dict[Key, str] = {}
    for mailbox in truth["mailboxes"]:
        window = windows.get(mailbox["address"])
        if window is None or mailbox["address"] not in accounts:
            continue
        for item in mailbox["items"]:
            if PRIVATE in item["folderPath"].split("/"):
                continue
            received = datetime.fromisoformat(item["receivedDateTime"].replace("Z", "+00:00"))
            if window.contains(received):
                expected[(mailbox["address"], mailbox["kind"], item["ewsId"])] = item["sha256"]
    return expected


def ews_folders(truth: dict[str, Any], accounts: Collection[str]) -> dict[Key, str]:
    """(address, mailbox kind, EWS item id) -> folder path, for every item of ``accounts``."""
    return {
        (m["address"], m["kind"], i["ewsId"]): i["folderPath"]
        for m in truth["mailboxes"]
        if m["address"] in accounts
        for i in m["items"]
    }


def ews_held(vault: Vault) -> dict[Key, str]:
    """(address, mailbox kind, EWS item id) -> blob SHA-256 of every EWS mail record."""
    held: dict[Key, str] = {}
    for record in vault.iter_records("mail-message"):
        src = record.source
        if src["system"] == EWS_SYSTEM:
            assert record.blob_sha256 is not None and record.media_type == "message/rfc822"
            key = (src["mailbox"], src["mailbox_kind"], src["item_id"])
            assert key not in held or held[key] == record.blob_sha256, key
            held[key] = record.blob_sha256
    return held


def ews_record_folders(vault: Vault) -> dict[Key, str]:
    return {
        (r.source["mailbox"], r.source["mailbox_kind"], r.source["item_id"]): r.source["folder_path"]
        for r in vault.iter_records("mail-message")
        if r.source["system"] == EWS_SYSTEM
    }


def private_ews_items(truth: dict[str, Any], accounts: Collection[str]) -> set[tuple[str, str]]:
    return {
        (m["address"], i["ewsId"])
        for m in truth["mailboxes"]
        if m["address"] in accounts
        for i in m["items"]
        if PRIVATE in i["folderPath"].split("/")
    }


def sync_calls(sim: Any) -> dict[str, int]:
    """SyncFolderItems requests the simulator answered, per folder (its EWS folder id)."""
    prefix = "ews:SyncFolderItems:"
    return {k[len(prefix) :]: v for k, v in dict(sim.sim.request_counts).items() if k.startswith(prefix)}
