"""Capture against the simulated tenant, with the registry's sample designations."""

from __future__ import annotations

import asyncio
import sysconfig
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from capstone.capture.engine import RunResult
from capstone.capture.runner import capture_once
from capstone.registry.model import CaptureWindow
from capstone.registry.service import Registry
from capstone.services import open_vault, state_engine
from capstone.settings import Settings
from connectors.simulator.server import RunningSimulator, run_simulator
from vault import Record, Vault

SEED = 7
CONTENT_KINDS = ("mail-message", "mailbox-export-item", "archive-export-item")
JSON_KINDS = ("calendar-event", "contact", "task")  # the same items once more, as Graph JSON
GRAPH_TYPES = {"event": "calendar-event", "contact": "contact", "todoTask": "task"}


def simulator_settings(base: Settings, sim: Any, **more: Any) -> Settings:
    return base.model_copy(
        update={
            "graph_base_url": sim.graph_url,
            "graph_token_url": sim.token_url,
            "graph_client_id": sim.client_id,
            "graph_client_secret": SecretStr(sim.client_secret),
            "graph_tenant_id": sim.tenant_id,
            **more,
        }
    )


def register_sample_officials(settings: Settings) -> None:
    data = resources.files("capstone.registry").joinpath("samples/sleutelfunctionarissen.csv").read_bytes()
    Registry(state_engine(settings)).import_csv(data, filename="sleutelfunctionarissen.csv", actor="test")


def run_capture(settings: Settings, **kwargs: Any) -> list[RunResult]:
    return asyncio.run(capture_once(settings, progress=False, **kwargs))


@dataclass
class CaptureWorld:
    settings: Settings
    sim: RunningSimulator

    def capture(self, source: str | None = "graph-mail", **kwargs: Any) -> list[RunResult]:
        """Capture everything due; return the runs of ``source`` (mail by default, None: all)."""
        results = run_capture(self.settings, **kwargs)
        return [r for r in results if source is None or r.source == source]

    def vault(self) -> Vault:
        return open_vault(self.settings)

    def vault_init(self) -> Vault:
        return open_vault(self.settings, create=True)

    def accounts(self) -> set[str]:
        return set(self.windows())

    def windows(self) -> dict[str, CaptureWindow]:
        registry = Registry(state_engine(self.settings))
        return {
            a.upn or a.primary_smtp: d.capture_window() for d in registry.designations() for a in d.accounts
        }


@pytest.fixture
def simulator() -> Iterator[RunningSimulator]:
    with run_simulator(seed=SEED, profile="small") as sim:
        yield sim


@pytest.fixture
def world(settings: Settings, simulator: RunningSimulator) -> CaptureWorld:
    """Capture into a local vault (the embedded default)."""
    configured = simulator_settings(settings, simulator)
    open_vault(configured, create=True)
    register_sample_officials(configured)
    return CaptureWorld(configured, simulator)


def vault_location(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Settings for the vault ``request.param`` names: "local" (the default under the home), or
    "s3": a bucket with Object Lock on the real Ceph RGW (its credentials in the environment)."""
    if request.param != "s3":
        return {}
    server = request.getfixturevalue("s3_server")
    bucket = request.getfixturevalue("s3_lock_bucket")
    monkeypatch.setenv("AWS_ENDPOINT_URL", server.endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", server.secret_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", server.region)
    return {"vault": f"s3://{bucket}/capstone"}


@pytest.fixture(params=["local", "s3"])
def any_vault_world(
    request: pytest.FixtureRequest,
    settings: Settings,
    simulator: RunningSimulator,
    monkeypatch: pytest.MonkeyPatch,
) -> CaptureWorld:
    """Capture into a local vault, and into a bucket with Object Lock on the real Ceph RGW."""
    configured = simulator_settings(settings, simulator, **vault_location(request, monkeypatch))
    open_vault(configured, create=True)
    register_sample_officials(configured)
    return CaptureWorld(configured, simulator)


def truth_content(
    truth: dict[str, Any], windows: dict[str, Any], private: str = "Privé"
) -> dict[tuple[str, str, str], str]:
    """(address, mailbox kind, immutable id) -> SHA-256 of every item the vault must hold:
    all of each designated account's items, except private ones and those outside its window."""
    expected = {}
    for mailbox in truth["mailboxes"]:
        window = windows.get(mailbox["address"])
        if window is None:
            continue
        for item in mailbox["items"]:
            if private in item["folderPath"].split("/"):
                continue
            received = datetime.fromisoformat(item["receivedDateTime"].replace("Z", "+00:00"))
            if not window.contains(received):
                continue
            expected[(mailbox["address"], mailbox["kind"], item["immutableId"])] = item["sha256"]
    return expected


def vault_content(
    vault: Vault, kinds: tuple[str, ...] = CONTENT_KINDS, *, records: Iterable[Record] | None = None
) -> dict[tuple[str, str, str], str]:
    """(address, mailbox kind, immutable id) -> SHA-256 of the blob the vault holds for the item
    (of ``records`` already read, when given, instead of reading the vault's)."""
    held = {}
    chosen = (r for kind in kinds for r in vault.iter_records(kind)) if records is None else records
    for record in chosen:
        if record.kind not in kinds:
            continue
        src = record.source
        assert record.blob_sha256 is not None
        held[(src["mailbox"], src["mailbox_kind"], src["item_id"])] = record.blob_sha256
    return held


def truth_json_content(
    truth: dict[str, Any], windows: dict[str, Any], private: str = "Privé"
) -> dict[tuple[str, str, str], str]:
    """(address, record kind, immutable id) -> SHA-256 of the canonical Graph JSON of every event,
    contact and task the vault must hold: not private, and placed in the window by one of its dates
    (an event's start or creation, a task's due date or creation, a contact's creation)."""
    expected = {}
    for mailbox in truth["mailboxes"]:
        window = windows.get(mailbox["address"])
        if window is None:
            continue
        for item in mailbox["items"]:
            graph = item.get("graph")
            if graph is None or private in item["folderPath"].split("/"):
                continue
            dates = [graph[k] for k in ("start", "due", "createdDateTime") if graph[k]]
            if not any(window.contains(datetime.fromisoformat(d.replace("Z", "+00:00"))) for d in dates):
                continue
            expected[(mailbox["address"], GRAPH_TYPES[graph["type"]], item["immutableId"])] = graph["sha256"]
    return expected


def vault_json_content(vault: Vault) -> dict[tuple[str, str, str], set[str]]:
    """(address, record kind, immutable id) -> SHA-256 of every JSON version the vault holds."""
    held: dict[tuple[str, str, str], set[str]] = {}
    for kind in JSON_KINDS:
        for record in vault.iter_records(kind):
            assert record.blob_sha256 is not None and record.media_type == "application/json"
            held.setdefault((record.source["mailbox"], kind, record.source["item_id"]), set()).add(
                record.blob_sha256
            )
    return held


def private_items(truth: dict[str, Any], accounts: set[str], private: str = "Privé") -> set[tuple[str, str]]:
    return {
        (mailbox["address"], item["immutableId"])
        for mailbox in truth["mailboxes"]
        if mailbox["address"] in accounts
        for item in mailbox["items"]
        if private in item["folderPath"].split("/")
    }


def tmp_home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def cpython_email_corpus(directory: Path) -> list[Path]:
    """CPython's email test messages (``test/test_email/data/msg_*.txt``), copied into
    ``directory`` as .eml files for the simulator to import; the originals, to compare with."""
    source = Path(sysconfig.get_paths()["stdlib"]) / "test" / "test_email" / "data"
    messages = sorted(source.glob("msg_*.txt"))
    if not messages:
        pytest.fail(f"CPython's email test messages are not installed at {source}")
    directory.mkdir(parents=True)
    for path in messages:
        (directory / f"{path.stem}.eml").write_bytes(path.read_bytes())
    return messages
