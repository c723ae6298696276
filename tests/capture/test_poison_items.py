"""A poison item never fails the run: it becomes an open error of the run (item id, folder, HTTP
status, reason), everything else is captured, the run ends ``incomplete`` naming it, ``capture
status`` shows it, and the next run, once the source gives the item, captures it and closes the
error. The same for a delta page the source keeps refusing, an export-API item and a chat image."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from prometheus_client import generate_latest

from capstone.capture import metrics
from capstone.capture.failures import folder_error_id
from capstone.capture.state import CaptureState
from capstone.cli.capture import group as capture_cli
from capstone.cli.context import AppContext
from capstone.services import state_engine
from capstone.web.messages import run_reason
from connectors.graph.transport import GraphTransport
from connectors.simulator.faults import FaultSpec
from connectors.simulator.server import run_simulator
from tests.capture.conftest import (
    SEED,
    CaptureWorld,
    register_sample_officials,
    simulator_settings,
    truth_content,
    truth_json_content,
    vault_content,
    vault_json_content,
)
from tests.capture.test_chats import TEAMS, chat_world, held_versions, truth_chats
from vault.verify import verify_vault

MAYOR = "burgemeester@gemeente-demo.nl"


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """The transport's retries stay (8 attempts), only their jittered pauses are short."""
    monkeypatch.setattr(GraphTransport, "backoff", lambda self, attempt: 0.01)


@pytest.fixture
def poisoned(settings: Any) -> Iterator[CaptureWorld]:
    with run_simulator(seed=SEED, profile="small") as sim:
        configured = simulator_settings(settings, sim)
        world = CaptureWorld(configured, sim)
        world.vault_init()
        register_sample_officials(configured)
        yield world


def _mayor_items(world: CaptureWorld, kind: str) -> list[dict[str, Any]]:
    truth = world.sim.truth()
    expected = truth_content(truth, world.windows())
    mailbox = next(m for m in truth["mailboxes"] if m["address"] == MAYOR and m["kind"] == kind)
    return [i for i in mailbox["items"] if (MAYOR, kind, i["immutableId"]) in expected]


def _status(world: CaptureWorld, as_json: bool) -> str:
    app = AppContext(
        settings=world.settings.model_copy(update={"user": "ops", "roles": {"ops": ["archivist"]}})
    )
    result = CliRunner().invoke(capture_cli, ["status", *(["--json"] if as_json else [])], obj=app)
    assert result.exit_code == 0, result.output
    return result.output


def test_one_permanently_failing_mail_item_and_export_item(poisoned: CaptureWorld) -> None:
    world = poisoned
    mail = next(i for i in _mayor_items(world, "primary") if i["itemClass"] == "IPM.Note")
    archived = _mayor_items(world, "archive")[0]
    poison = {mail["immutableId"], archived["immutableId"]}
    world.sim.sim.faults.configure(FaultSpec(fail=tuple(sorted(poison))))

    first = {r.account: r for r in world.capture()}
    assert first[MAYOR].status == "incomplete" and first[MAYOR].error is None
    assert {u["item_id"] for u in first[MAYOR].uncapturable} == poison
    by_id = {u["item_id"]: u for u in first[MAYOR].uncapturable}
    assert by_id[mail["immutableId"]]["status"] == 500
    assert by_id[mail["immutableId"]]["error"].startswith("HTTP 500: ")
    assert by_id[mail["immutableId"]]["folder"] == mail["folderPath"]
    assert "Simulated permanent fault" in by_id[archived["immutableId"]]["error"]
    others = [r for a, r in first.items() if a != MAYOR]
    assert others and all(r.status == "complete" for r in others)

    # Everything else is in the vault; the two poison items are not.
    expected = truth_content(world.sim.truth(), world.windows())
    held = vault_content(world.vault())
    missing = {(MAYOR, "primary", mail["immutableId"]), (MAYOR, "archive", archived["immutableId"])}
    assert set(held) == set(expected) - missing
    mime = vault_content(world.vault(), ("mail-message",))
    assert mime == {k: expected[k] for k in mime}  # byte-exact

    # capture status names the run's status, its reason and the open errors with theirs.
    text = _status(world, as_json=False)
    assert "INCOMPLETE" in text and "2 item(s) or part(s) not captured" in text
    assert f"{mail['immutableId']} in {mail['folderPath']}" in text and "HTTP 500" in text
    doc = json.loads(_status(world, as_json=True))
    mayor = next(a for a in doc["accounts"] if a["account"] == MAYOR and a["source"] == "graph-mail")
    assert mayor["last_run"]["status"] == "incomplete" and mayor["last_run"]["reason"]
    assert mayor["last_run"]["cause"] == {"error": None, "not_captured": 2, "differences": 0}
    assert run_reason("incomplete", mayor["last_run"]["cause"]) == [
        "2 items of onderdelen zijn niet vastgelegd: ze staan als open fout geregistreerd en de volgende "
        "run probeert ze opnieuw."
    ]  # what the Vastlegging page says, in Dutch
    assert {e["item_id"] for e in mayor["open_errors"]} == poison
    assert {u["item_id"] for u in mayor["last_run"]["not_captured"]} == poison
    scraped = generate_latest(_registry(world)).decode()
    assert f'capstone_capture_open_errors{{account="{MAYOR}",source="graph-mail"}} 2.0' in scraped

    # The source heals: the next run captures both and closes their errors.
    world.sim.sim.faults.configure(FaultSpec())
    second = {r.account: r for r in world.capture()}
    assert all(r.status == "complete" and not r.uncapturable for r in second.values())
    state = CaptureState(state_engine(world.settings))
    assert not [e for k in ("primary", "archive") for e in state.open_errors(MAYOR, k)]
    assert set(vault_content(world.vault())) == set(expected)
    assert verify_vault(world.vault()).all_well


def test_a_delta_page_the_server_keeps_refusing_fails_only_its_folder(poisoned: CaptureWorld) -> None:
    world = poisoned
    items = _mayor_items(world, "primary")
    folder_id = next(i["folderId"] for i in items if i["folderPath"] == "Inbox")
    in_folder = {i["immutableId"] for i in items if i["folderId"] == folder_id}
    world.sim.sim.faults.configure(FaultSpec(fail=(f"{folder_id}/messages/delta",)))

    first = {r.account: r for r in world.capture()}
    mayor = first[MAYOR]
    assert mayor.status == "incomplete" and mayor.error is None
    assert [u["item_id"] for u in mayor.uncapturable] == [folder_error_id(folder_id)]
    assert mayor.uncapturable[0]["status"] == 500 and mayor.uncapturable[0]["folder"] == "Inbox"
    assert mayor.uncapturable[0]["error"].startswith("delta page: HTTP 500")
    assert all(r.status == "complete" for a, r in first.items() if a != MAYOR)
    expected = truth_content(world.sim.truth(), world.windows())
    held = vault_content(world.vault())
    lacking = {k for k in expected if k not in held}
    assert lacking == {(MAYOR, "primary", i) for i in in_folder}  # the other folders are all in
    text = _status(world, as_json=False)
    assert f"{folder_error_id(folder_id)} in Inbox" in text and "delta page: HTTP 500" in text

    world.sim.sim.faults.configure(FaultSpec())
    second = {r.account: r for r in world.capture()}
    assert all(r.status == "complete" for r in second.values())
    assert set(vault_content(world.vault())) == set(expected)
    assert not CaptureState(state_engine(world.settings)).open_errors(MAYOR, "primary")


def test_a_chat_image_that_keeps_failing_is_an_open_error_until_it_heals(settings: Any) -> None:
    with run_simulator(seed=SEED, profile="small") as sim:
        world = chat_world(settings, sim)
        chats = truth_chats(world)
        chat, message = next(
            (c, m) for c in chats for m in c["messages"] if m["hostedContents"] and not m["deletedDateTime"]
        )
        hosted_id = message["hostedContents"][0]["id"]
        sim.sim.faults.configure(FaultSpec(fail=(hosted_id,)))
        first = world.capture(source=TEAMS)
        failed = [u for r in first for u in r.uncapturable]
        version = f"{chat['id']}/{message['id']}@{message['lastModifiedDateTime']}"
        assert failed and {u["item_id"] for u in failed} == {version}
        assert all(u["status"] == 500 for u in failed)
        assert {r.status for r in first if r.uncapturable} == {"incomplete"}
        key = (chat["id"], message["id"], message["lastModifiedDateTime"])
        assert key not in held_versions(world.vault())
        others = {(c["id"], m["id"], m["lastModifiedDateTime"]) for c in chats for m in c["messages"]}
        assert len(set(held_versions(world.vault())) & others) == len(others) - 1

        sim.sim.faults.configure(FaultSpec())
        second = world.capture(source=TEAMS)
        assert all(r.status == "complete" and not r.uncapturable for r in second)
        assert key in held_versions(world.vault())
        state = CaptureState(state_engine(world.settings))
        assert not [e for r in second for e in state.open_errors(r.account, "teams")]


def test_a_failed_run_says_why_in_capture_status(poisoned: CaptureWorld) -> None:
    """A run that could not go on (here: the token endpoint refuses) shows its reason, in text too."""
    world = poisoned
    world.sim.sim.faults.configure(FaultSpec(fail=("/oauth2/",), include_auth=True))
    results = world.capture(source=None)
    assert results and all(r.status == "failed" and r.error for r in results)
    text = _status(world, as_json=False)
    assert "last run:" in text and "FAILED:" in text
    doc = json.loads(_status(world, as_json=True))
    assert all(a["last_run"]["status"] == "failed" and a["last_run"]["reason"] for a in doc["accounts"])


def _registry(world: CaptureWorld) -> Any:
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry()
    registry.register(metrics.CaptureCollector(CaptureState(state_engine(world.settings))))
    return registry


def test_a_chat_message_page_the_server_keeps_refusing_is_an_open_error_not_a_failed_run(
    settings: Any,
) -> None:
    with run_simulator(seed=SEED, profile="small") as sim:
        world = chat_world(settings, sim)
        sim.sim.faults.configure(FaultSpec(fail=("getAllMessages",)))
        first = world.capture(source=TEAMS)
        assert first and all(r.status == "incomplete" for r in first), [(r.status, r.error) for r in first]
        assert all([u["item_id"] for u in r.uncapturable] == ["source:teams"] for r in first)
        assert all(r.uncapturable[0]["status"] == 500 and "HTTP 500" in (r.error or "") for r in first)
        state = CaptureState(state_engine(world.settings))
        assert all(
            [e["item_id"] for e in state.open_errors(r.account, "teams")] == ["source:teams"] for r in first
        )

        sim.sim.faults.configure(FaultSpec())
        second = world.capture(source=TEAMS)
        assert all(r.status == "complete" and not r.uncapturable for r in second)
        assert not [e for r in second for e in state.open_errors(r.account, "teams")]
        chats = truth_chats(world)
        visible = {(c["id"], m["id"], m["lastModifiedDateTime"]) for c in chats for m in c["messages"]}
        assert visible <= set(held_versions(world.vault()))


def test_a_graph_json_item_that_cannot_be_stored_is_one_open_error(
    poisoned: CaptureWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Graph JSON source (events, contacts, tasks): one entity Capstone cannot turn into its
    canonical bytes is an open error of the run, not a failed source or run. The simulator cannot
    serve such an entity (its JSON is always encodable), so the encoder fails for that one id, as
    Python's does for an entity nested deeper than its recursion limit."""
    from connectors.graph.entities import canonical_entity as encode

    world = poisoned
    expected = truth_json_content(world.sim.truth(), world.windows())
    poison = next(
        i for (address, kind, i) in sorted(expected) if address == MAYOR and kind == "calendar-event"
    )

    def nested_too_deep(entity: Any) -> bytes:
        if entity.get("id") == poison:
            raise RecursionError("maximum recursion depth exceeded while encoding a JSON object")
        return encode(entity)

    monkeypatch.setattr("connectors.graph.connector.canonical_entity", nested_too_deep)
    first = {r.account: r for r in world.capture()}
    mayor = first[MAYOR]
    assert mayor.status == "incomplete" and mayor.error is None
    assert [(u["item_id"], u["folder"]) for u in mayor.uncapturable] == [(poison, "Calendar")]
    assert mayor.uncapturable[0]["error"].startswith("RecursionError: maximum recursion depth")
    assert all(r.status == "complete" for a, r in first.items() if a != MAYOR)
    held = vault_json_content(world.vault())
    assert {k for k in expected if k[2] != poison} <= set(held)  # every other entity is in
    assert not [k for k in held if k[2] == poison]

    monkeypatch.setattr("connectors.graph.connector.canonical_entity", encode)  # the next run reads it again
    second = {r.account: r for r in world.capture()}
    assert all(r.status == "complete" and not r.uncapturable for r in second.values())
    held = vault_json_content(world.vault())
    assert {k: {v} for k, v in expected.items()} == {k: v for k, v in held.items() if k in expected}
    assert not CaptureState(state_engine(world.settings)).open_errors(MAYOR, "primary-json")


def test_an_entity_with_a_lone_surrogate_is_stored_as_graph_sent_it() -> None:
    """A subject with half an emoji (``\\ud83d``, as Graph sends a string a client cut) has no
    UTF-8 form: stored escaped, the same bytes every time, reading back to the same entity."""
    from connectors.graph.entities import canonical_entity

    entity = {"id": "AAk1", "subject": "Feest \ud83d", "location": "Café", "@odata.context": "x"}
    data = canonical_entity(entity)
    assert data == canonical_entity(dict(reversed(entity.items())))
    assert json.loads(data) == {k: v for k, v in entity.items() if k != "@odata.context"}
    assert b"\\ud83d" in data and data.isascii()
    assert canonical_entity({"id": "AAk2", "location": "Café"}) == '{"id":"AAk2","location":"Café"}'.encode()
