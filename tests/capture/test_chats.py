"""Capture of the key officials' Teams chats: complete against the simulator's truth, every version
kept across edits, deletions and reactions, images byte-exact, crash-safe under SIGKILL, faults
repaired; transcripts rendered from the vault alone; chat-capture freshness."""

from __future__ import annotations

import asyncio
import base64
import csv
import hashlib
import io
import json
import random
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import lxml.html
import pytest
from click.testing import CliRunner

from capstone.audit.log import AuditLog
from capstone.capture.freshness import parse_duration, stale_chat_captures
from capstone.capture.state import CaptureState
from capstone.chats.sanitize import sanitize_html
from capstone.chats.transcript import render_transcript
from capstone.cli.chats import group as chats_cli
from capstone.cli.context import AppContext
from capstone.registry.service import Registry
from capstone.services import graph_connection, open_vault, state_engine
from capstone.settings import Settings
from capstone.woo.service import WooService
from connectors.base import SourceError
from connectors.graph.teams import GraphChats
from connectors.simulator.faults import FaultSpec
from connectors.simulator.server import RunningSimulator, run_simulator
from tests.capture.conftest import SEED, CaptureWorld, simulator_settings
from tests.capture.processes import final_runs, kill_at_random_moments
from vault import Vault
from vault.verify import verify_vault

MAYOR = "burgemeester@gemeente-demo.nl"
COLLEGE = "Collegeoverleg"
TEAMS = "graph-teams"


# -- helpers ----------------------------------------------------------------------------------------


def register_chat_officials(settings: Settings, changes: dict[str, dict[str, str]] | None = None) -> None:
    """The registry's sample officials, designated for their Teams chats only (no mail);
    ``changes`` maps a mail address to column values that differ."""
    text = (
        resources.files("capstone.registry").joinpath("samples/sleutelfunctionarissen.csv").read_text("utf-8")
    )
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows and all(r["capture_chats"] == "yes" for r in rows)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row | {"capture_mail": "no"} | (changes or {}).get(row["mail"], {}))
    Registry(state_engine(settings)).import_csv(
        out.getvalue().encode(), filename="chats-only.csv", actor="test"
    )


def chat_world(settings: Settings, sim: RunningSimulator) -> CaptureWorld:
    configured = simulator_settings(settings, sim)
    open_vault(configured, create=True)
    register_chat_officials(configured)
    return CaptureWorld(configured, sim)


@pytest.fixture
def chats_only(settings: Settings) -> Iterator[CaptureWorld]:
    with run_simulator(seed=SEED, profile="small") as sim:
        yield chat_world(settings, sim)


class Source:
    """What the simulated Graph serves now, read with plain HTTP (not through the capture code)."""

    def __init__(self, sim: RunningSimulator) -> None:
        self.sim = sim
        self.client = httpx.Client(
            base_url=sim.graph_url,
            headers={
                "Authorization": f"Bearer {sim.mint_token()}",
                "Prefer": "include-unknown-enum-members",
            },
        )

    def message(self, chat_id: str, message_id: str) -> dict[str, Any]:
        response = self.client.get(f"/chats/{quote(chat_id, safe='')}/messages/{message_id}")
        response.raise_for_status()
        document: dict[str, Any] = response.json()
        document.pop("@odata.context", None)
        return document

    def hosted(self, chat_id: str, message_id: str, hosted_id: str) -> bytes:
        response = self.client.get(
            f"/chats/{quote(chat_id, safe='')}/messages/{message_id}/hostedContents/{hosted_id}/$value"
        )
        response.raise_for_status()
        return response.content


def truth_chats(world: CaptureWorld) -> list[dict[str, Any]]:
    """The chats at least one designated account takes part in."""
    accounts = world.accounts()
    return [c for c in world.sim.truth()["chats"] if set(c["members"]) & accounts]


def current_versions(chats: list[dict[str, Any]]) -> dict[tuple[str, str, str], dict[str, Any]]:
    """(chat, message, lastModifiedDateTime) -> truth entry: what the source shows right now."""
    return {(c["id"], m["id"], m["lastModifiedDateTime"]): m for c in chats for m in c["messages"]}


def held_versions(vault: Vault) -> dict[tuple[str, str, str], set[str]]:
    held: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for record in vault.iter_records("chat-message-version"):
        src = record.source
        assert record.blob_sha256 is not None
        held[(src["chat_id"], src["message_id"], src["version"])].add(record.blob_sha256)
    return held


def version_documents(vault: Vault, chat_id: str, message_id: str) -> list[dict[str, Any]]:
    """Every stored version of one message, oldest first (each member account's record of a version
    holds the same blob: :func:`assert_equals_truth` checks that)."""
    blobs = {
        r.blob_sha256
        for r in vault.iter_records("chat-message-version")
        if r.source["chat_id"] == chat_id and r.source["message_id"] == message_id and r.blob_sha256
    }
    docs = [json.loads(vault.read_blob(sha)) for sha in blobs]
    return sorted(docs, key=lambda d: d["lastModifiedDateTime"])


def body_sha(document: dict[str, Any]) -> str:
    return hashlib.sha256(document["body"]["content"].encode("utf-8")).hexdigest()


def hosted_blobs(vault: Vault) -> dict[tuple[str, str, str], str]:
    return {
        (r.source["chat_id"], r.source["message_id"], r.source["hosted_content_id"]): str(r.blob_sha256)
        for r in vault.iter_records("hosted-content")
    }


def college(world: CaptureWorld) -> dict[str, Any]:
    return next(c for c in world.sim.truth()["chats"] if c["topic"] == COLLEGE)


def plain_messages(chat: dict[str, Any]) -> list[dict[str, Any]]:
    """Ordinary messages never edited, deleted or reacted to: candidates for changes."""
    return [
        m
        for m in chat["messages"]
        if m["messageType"] == "message" and len(m["versions"]) == 1 and not m["reactions"]
    ]


def teams_runs(world: CaptureWorld) -> dict[str, Any]:
    return {r.account: r for r in world.capture(source=TEAMS)}


def assert_equals_truth(world: CaptureWorld, *, extra_versions: int = 0) -> None:
    """Every message version visible in the source now is in the vault, each stored once, with the
    JSON the source serves; every inline image of a visible message is stored byte-exact."""
    chats = truth_chats(world)
    vault = world.vault()
    expected = current_versions(chats)
    held = held_versions(vault)
    assert set(expected) <= set(held), sorted(set(expected) - set(held))[:5]
    assert len(set(held) - set(expected)) == extra_versions
    assert all(len(blobs) == 1 for blobs in held.values())  # replays wrote nothing conflicting
    source = Source(world.sim)
    for (chat_id, message_id, version), entry in expected.items():
        (sha,) = held[(chat_id, message_id, version)]
        stored = json.loads(vault.read_blob(sha))
        assert stored == source.message(chat_id, message_id)
        assert body_sha(stored) == entry["versions"][-1]["sha256"]
    hosted = hosted_blobs(vault)
    for chat in chats:
        for message in chat["messages"]:
            if message["deletedDateTime"]:
                continue  # a deleted message's body no longer points at its images
            for image in message["hostedContents"]:
                sha = hosted[(chat["id"], message["id"], image["id"])]
                assert sha == image["sha256"]
                assert vault.read_blob(sha) == source.hosted(chat["id"], message["id"], image["id"])


# -- capture ----------------------------------------------------------------------------------------


def test_full_chat_capture_equals_truth(world: CaptureWorld) -> None:
    runs = {r.account: r for r in world.capture(source=None) if r.source == TEAMS}
    accounts = world.accounts()
    assert set(runs) == accounts  # mail and chats both run for every designation
    assert all(r.status == "complete" for r in runs.values()), [(r.account, r.error) for r in runs.values()]
    assert_equals_truth(world)

    chats = truth_chats(world)
    for account, run in runs.items():
        mine = [c for c in chats if account in c["members"]]
        assert run.reconciliation is not None and run.reconciliation["complete"]
        assert run.reconciliation["source_items"] == sum(len(c["messages"]) for c in mine)
        assert {c["chat_id"] for c in run.reconciliation["chats"]} == {c["id"] for c in mine}

    vault = world.vault()
    # Every message of a chat is in the archive of each designated member, as a record of that
    # member's account (one blob); system events kept as what they are (asked for with Prefer:
    # include-unknown-enum-members).
    kinds = [
        (r.source["observed_for"], r.designation and r.designation["official"], r.source["message_type"])
        for r in vault.iter_records("chat-message-version")
    ]
    registry = Registry(state_engine(world.settings))
    officials = {a.upn or a.primary_smtp: d.name for d in registry.designations() for a in d.accounts}
    truth_kinds = [
        (a, officials[a], m["messageType"])
        for c in chats
        for a in set(c["members"]) & accounts
        for m in c["messages"]
    ]
    assert sorted(kinds) == sorted(truth_kinds) and "systemEventMessage" in {k for _, _, k in kinds}
    # Chat metadata: the chat and its members, once per chat and member account.
    by_account = [
        (r.source["chat_id"], r.source["observed_for"]) for r in vault.iter_records("chat-metadata")
    ]
    assert sorted(by_account) == sorted((c["id"], a) for c in chats for a in set(c["members"]) & accounts)
    metadata = {r.source["chat_id"]: r for r in vault.iter_records("chat-metadata")}
    for chat in chats:
        document = json.loads(vault.read_blob(str(metadata[chat["id"]].blob_sha256)))
        assert document["chat"]["id"] == chat["id"] and document["chat"]["topic"] == chat["topic"]
        assert sorted(m["email"] for m in document["members"]) == sorted(chat["members"])
    # Linked SharePoint files: recorded as not captured, one event per visible reference.
    references = {
        (r.source["chat_id"], r.source["message_id"], r.source["attachment_id"])
        for r in vault.iter_records("source-event")
        if r.source.get("event") == "reference-attachment-not-captured"
    }
    assert references == {
        (c["id"], m["id"], a["id"])
        for c in chats
        for m in c["messages"]
        if not m["deletedDateTime"]
        for a in m["attachments"]
        if a["contentType"] == "reference"
    }
    assert references and len(hosted_blobs(vault)) > 0
    # Provenance on every version record.
    record = next(iter(vault.iter_records("chat-message-version")))
    assert record.source["system"] == "microsoft-teams" and record.designation is not None
    for key in ("run_id", "connector", "connector_version", "captured_at", "host"):
        assert record.capture[key]
    manifests = [world.vault().read_manifest(str(r.manifest_key)) for r in runs.values()]
    assert {m["summary"]["source"] for m in manifests} == {TEAMS}
    assert verify_vault(vault).all_well


def test_changes_between_runs_add_versions_and_keep_the_old_ones(chats_only: CaptureWorld) -> None:
    world = chats_only
    assert all(r.status == "complete" for r in teams_runs(world).values())
    chat = college(world)
    members = set(chat["members"])
    plain = plain_messages(chat)
    with_image = next(m for m in plain if m["hostedContents"])
    to_edit, to_react = [m for m in plain if m is not with_image][:2]
    source = Source(world.sim)
    image_id = with_image["hostedContents"][0]["id"]
    image_bytes = source.hosted(chat["id"], with_image["id"], image_id)
    vault = world.vault()
    before_records = {r.record_id: r.blob_sha256 for r in vault.iter_records()}

    world.sim.mutate(
        {
            "op": "edit-chat-message",
            "chat": chat["id"],
            "message": to_edit["id"],
            "content": "Herzien: akkoord.",
        }
    )
    world.sim.mutate({"op": "delete-chat-message", "chat": chat["id"], "message": with_image["id"]})
    world.sim.mutate({"op": "react", "chat": chat["id"], "message": to_react["id"], "user": "wethouder.ruimte@gemeente-demo.nl", "reaction": "heart"})  # fmt: skip
    posted = world.sim.mutate({"op": "post-chat-message", "chat": chat["id"], "from": MAYOR, "content": "Nieuwe foto van het Marktplein", "images": 1})  # fmt: skip
    new_id = posted["message"]["id"]

    second = teams_runs(world)
    assert all(r.status == "complete" for r in second.values()), {
        a: r.reconciliation for a, r in second.items()
    }
    # Each member's run stored exactly the four new versions; the others nothing.
    assert {a: r.counters["items"] for a, r in second.items()} == {
        a: (4 if a in members else 0) for a in second
    }
    # The old versions of the three changed messages stay, next to their new ones.
    assert_equals_truth(world, extra_versions=3)
    vault = world.vault()
    after = {r.record_id: r.blob_sha256 for r in vault.iter_records()}
    assert all(after.get(rid) == sha for rid, sha in before_records.items())
    for sha in {s for s in before_records.values() if s}:
        vault.read_blob(sha)  # still there, still intact

    edited = version_documents(vault, chat["id"], to_edit["id"])
    truth_now = {m["id"]: m for m in college(world)["messages"]}
    assert [body_sha(d) for d in edited] == [v["sha256"] for v in truth_now[to_edit["id"]]["versions"]]
    assert edited[0]["lastEditedDateTime"] is None and edited[1]["lastEditedDateTime"]
    assert "Herzien: akkoord." in edited[1]["body"]["content"]

    deleted = version_documents(vault, chat["id"], with_image["id"])
    assert [d["deletedDateTime"] is not None for d in deleted] == [False, True]
    assert deleted[1]["body"]["content"] == "" and image_id in deleted[0]["body"]["content"]
    assert vault.read_blob(hosted_blobs(vault)[(chat["id"], with_image["id"], image_id)]) == image_bytes

    reacted = version_documents(vault, chat["id"], to_react["id"])
    assert [len(d["reactions"]) for d in reacted] == [0, 1]
    assert reacted[0]["body"] == reacted[1]["body"] and reacted[1]["messageHistory"]

    assert version_documents(vault, chat["id"], new_id)
    (new_image,) = truth_now[new_id]["hostedContents"]
    stored = vault.read_blob(hosted_blobs(vault)[(chat["id"], new_id, new_image["id"])])
    assert hashlib.sha256(stored).hexdigest() == new_image["sha256"]
    assert stored == source.hosted(chat["id"], new_id, new_image["id"]) and stored.startswith(b"\x89PNG")

    # A run without changes writes nothing but its manifest.
    objects = world.vault().stats()["objects"]
    idle = world.capture(source=None)
    assert all(r.status == "complete" and r.counters["items"] == 0 for r in idle)
    assert world.vault().stats()["objects"] == objects + len(idle)
    assert verify_vault(world.vault()).all_well


def test_get_all_messages_keeps_system_events_on_every_page(chats_only: CaptureWorld) -> None:
    """Page 2 and later of getAllMessages are asked for with the same Prefer header as page 1."""

    async def scenario() -> list[dict[str, Any]]:
        connection = graph_connection(chats_only.settings)
        try:
            chats = GraphChats(connection, MAYOR, page_size=3)
            until = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
            page = await chats.all_messages(None, since=None, until=until)
            messages, pages = list(page.messages), 1
            while page.next_link:
                page = await chats.all_messages(page.next_link, since=None, until=until)
                messages += page.messages
                pages += 1
            assert pages > 3
            return messages
        finally:
            await connection.aclose()

    messages = asyncio.run(scenario())
    mine = [c for c in chats_only.sim.truth()["chats"] if MAYOR in c["members"]]
    assert sorted(m["messageType"] for m in messages) == sorted(
        m["messageType"] for c in mine for m in c["messages"]
    )
    assert "unknownFutureValue" not in {m["messageType"] for m in messages}


def test_sigkill_during_chat_capture_then_restart_is_complete(settings: Settings) -> None:
    rng = random.Random(20261122)
    # Each request takes 30 ms and there are a few hundred inline images: long enough to be killed.
    with run_simulator(seed=SEED, profile="small", latency=0.03) as sim:
        for n, chat in enumerate(sim.truth()["chats"] * 40):
            sim.mutate(
                {"op": "post-chat-message", "chat": chat["id"], "from": chat["members"][n % len(chat["members"])],
                 "content": f"Bericht {n} met een foto", "images": 1}
            )  # fmt: skip
        world = chat_world(settings, sim)
        kills = kill_at_random_moments(world.settings, rng, (1.5, 3.0), from_run_start=True)
        assert kills >= 2, "the runs ended before they could be killed: raise the simulator latency"
        runs = final_runs(world.settings)
        assert {r["source"] for r in runs} == {TEAMS} and all(r["status"] == "complete" for r in runs)
        assert any(r["resumed"] for r in runs), "a killed run should have been resumed, not restarted"
        sim.sim.config.latency = 0.0  # read the source back quickly
        assert_equals_truth(world)
        assert len(hosted_blobs(world.vault())) >= 240
        assert verify_vault(world.vault()).all_well


def test_faults_while_capturing_chats_lose_nothing(settings: Settings) -> None:
    spec = FaultSpec.parse("seed=5,rate=0.2,kinds=500,503,reset,truncate,retry_after=0")
    with run_simulator(seed=SEED, profile="small", faults=spec) as sim:
        world = chat_world(settings, sim)
        runs = teams_runs(world)
        if any(r.status != "complete" for r in runs.values()):
            runs = teams_runs(world)  # what failed every retry is captured by the next run
        assert all(r.status == "complete" for r in runs.values()), {
            a: r.uncapturable for a, r in runs.items()
        }
        assert sum(sim.sim.faults.injected.values()) > 0
        sim.sim.faults.spec = FaultSpec()  # read the source back without faults
        assert_equals_truth(world)
        assert verify_vault(world.vault()).all_well


def test_a_failed_image_download_is_retried_by_the_next_run(
    chats_only: CaptureWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The window cursor moves on past a version that failed; the next run's reconciliation finds
    it missing and captures it, and its open error is closed."""
    world = chats_only

    async def unavailable(self: GraphChats, chat_id: str, message_id: str, hosted_id: str) -> Any:
        raise SourceError(f"hosted content {hosted_id}: Graph answered 503", status=503)
        yield  # pragma: no cover - makes this an async generator like the real method

    with monkeypatch.context() as patch:
        patch.setattr(GraphChats, "stream_hosted_content", unavailable)
        first = teams_runs(world)
    with_images = {
        (c["id"], m["id"], m["lastModifiedDateTime"])
        for c in truth_chats(world)
        for m in c["messages"]
        if m["hostedContents"] and not m["deletedDateTime"]
    }
    failed = {u["item_id"] for r in first.values() for u in r.uncapturable}
    assert failed and {r.status for r in first.values() if r.uncapturable} == {"incomplete"}
    assert failed == {f"{chat}/{message}@{version}" for chat, message, version in with_images}
    assert held_versions(world.vault()).keys().isdisjoint(with_images)
    state = CaptureState(state_engine(world.settings))
    open_errors = {a: {e["item_id"] for e in state.open_errors(a, "teams")} for a in first}
    assert open_errors == {a: {u["item_id"] for u in r.uncapturable} for a, r in first.items()}

    second = teams_runs(world)
    assert all(r.status == "complete" and not r.uncapturable for r in second.values())
    assert all(not state.open_errors(a, "teams") for a in second)
    assert_equals_truth(world)


def test_messages_created_before_the_designation_window_are_not_captured(settings: Settings) -> None:
    """A designation from 1 October 2026 without history: only chat messages created since."""
    start = "2026-10-01"
    with run_simulator(seed=SEED, profile="small") as sim:
        configured = simulator_settings(settings, sim)
        open_vault(configured, create=True)
        register_chat_officials(
            configured,
            changes={MAYOR: {"start_date": start, "decision_date": start, "capture_history": "no"}},
        )
        world = CaptureWorld(configured, sim)
        chat = college(world)
        posted = sim.mutate({"op": "post-chat-message", "chat": chat["id"], "from": MAYOR, "content": "Na de aanwijzing"})  # fmt: skip
        assert world.windows()[MAYOR].since is not None
        runs = teams_runs(world)
        assert all(r.status == "complete" for r in runs.values())
        mine = [c for c in world.sim.truth()["chats"] if MAYOR in c["members"]]
        state = CaptureState(state_engine(configured))
        rows = state.items(
            MAYOR,
            "teams",
            [f"{c['id']}/{m['id']}@{m['lastModifiedDateTime']}" for c in mine for m in c["messages"]],
        )
        assert {r.state for r in rows.values()} == {"captured", "out_of_window"}
        captured = {i for i, r in rows.items() if r.state == "captured"}
        assert captured == {
            f"{chat['id']}/{posted['message']['id']}@{posted['message']['lastModifiedDateTime']}"
        }
        assert all(r.blob_sha256 is None for r in rows.values() if r.state == "out_of_window")


# -- transcript -------------------------------------------------------------------------------------


def _data_uri_bytes(src: str) -> bytes:
    assert src.startswith("data:image/png;base64,"), src[:40]
    return base64.b64decode(src.split(",", 1)[1])


def test_transcript_renders_every_version_from_the_vault(chats_only: CaptureWorld, tmp_path: Path) -> None:
    world = chats_only
    teams_runs(world)
    chat = college(world)
    plain = plain_messages(chat)
    with_image = next(m for m in plain if m["hostedContents"])
    to_edit, to_react = [m for m in plain if m is not with_image][:2]
    source = Source(world.sim)
    image_bytes = source.hosted(chat["id"], with_image["id"], with_image["hostedContents"][0]["id"])
    original_text = source.message(chat["id"], to_edit["id"])["body"]["content"]
    world.sim.mutate(
        {
            "op": "edit-chat-message",
            "chat": chat["id"],
            "message": to_edit["id"],
            "content": "Herzien: akkoord.",
        }
    )
    world.sim.mutate({"op": "delete-chat-message", "chat": chat["id"], "message": with_image["id"]})
    world.sim.mutate({"op": "react", "chat": chat["id"], "message": to_react["id"], "user": "wethouder.ruimte@gemeente-demo.nl", "reaction": "like"})  # fmt: skip
    hostile = '<script>alert("x")</script> & <img src=x onerror=alert(1)> "Marktplein"'
    posted = world.sim.mutate({"op": "post-chat-message", "chat": chat["id"], "from": MAYOR, "content": hostile, "images": 1})  # fmt: skip
    teams_runs(world)
    truth = {m["id"]: m for m in college(world)["messages"]}
    new_image = truth[posted["message"]["id"]]["hostedContents"][0]

    text, info = render_transcript(world.vault(), chat["id"])
    doc = lxml.html.document_fromstring(text)
    assert doc.findtext(".//title") == f"Chattranscript: {COLLEGE}"
    assert "img-src data:" in doc.xpath('//meta[@http-equiv="Content-Security-Policy"]/@content')[0]
    articles = {a.get("data-message-id"): a for a in doc.xpath("//article[@data-message-id]")}
    assert set(articles) == set(truth)  # every message, system events included
    assert info.messages == len(truth) and info.versions == len(truth) + 3

    def versions(message_id: str) -> list[str]:
        return [
            li.get("data-kind") for li in articles[message_id].xpath('.//li[contains(@class, "version")]')
        ]

    def markers(message_id: str) -> set[str]:
        return set(articles[message_id].xpath(".//header/span[@data-marker]/@data-marker"))

    # Edited: marked, and both versions readable.
    edited = articles[to_edit["id"]]
    assert markers(to_edit["id"]) == {"bewerkt"} and "edited" in edited.get("class").split()
    assert versions(to_edit["id"]) == ["original", "edited"]
    history = edited.xpath('.//li[contains(@class, "version")]')
    original_plain = lxml.html.fragment_fromstring(original_text, create_parent="div").text_content()
    assert original_plain.strip() in history[0].text_content()
    assert "Herzien: akkoord." in history[1].text_content()
    assert "Herzien: akkoord." in edited.xpath('./div[@class="body"]')[0].text_content()
    # Deleted: marked, the content from before the deletion still shown, with its image inline.
    deleted = articles[with_image["id"]]
    assert markers(with_image["id"]) == {"verwijderd"}
    assert "verwijderd op" in deleted.xpath('.//p[@class="deleted-note"]')[0].text_content()
    assert versions(with_image["id"]) == ["original", "deleted"]
    (kept,) = deleted.xpath('./div[contains(@class, "deleted-content")]//img')
    assert _data_uri_bytes(kept.get("src")) == image_bytes
    # Messages edited or deleted before the first capture say so.
    earlier = [m["id"] for m in chat["messages"] if len(m["versions"]) > 1 and m["messageType"] == "message"]
    assert earlier and all(versions(i)[0] in ("edited-before", "deleted-before") for i in earlier)
    # Reactions with who reacted.
    reactions = articles[to_react["id"]].xpath('./div[@class="reactions"]')[0].text_content()
    assert reactions.startswith("Reacties:") and "Fatima El Amrani" in reactions
    assert versions(to_react["id"]) == ["original", "reactions"]
    # Content is escaped: the hostile text is shown as text, nothing active is in the page.
    new = articles[posted["message"]["id"]]
    assert hostile in new.xpath('./div[@class="body"]')[0].text_content()
    assert not doc.xpath("//script") and not doc.xpath("//iframe")
    assert not [a for el in doc.iter() for a in el.attrib if a.lower().startswith("on")]
    images = doc.xpath("//img")
    assert images and all(img.get("src").startswith("data:image/") for img in images)
    (fresh,) = new.xpath('./div[@class="body"]//img')
    assert hashlib.sha256(_data_uri_bytes(fresh.get("src"))).hexdigest() == new_image["sha256"]
    # System events in words; reference attachments as not archived links.
    system = [a for a in articles.values() if "system" in a.get("class").split()]
    assert any("hernoemd naar “Collegeoverleg”" in a.text_content() for a in system)
    assert doc.xpath('//span[@class="reference"]') and "bestand niet gearchiveerd" in text


def test_sanitizer_keeps_formatting_and_drops_everything_active() -> None:
    out = sanitize_html(
        '<p onclick="x()">Hoi <b>allen</b> <a href="javascript:alert(1)">klik</a> '
        '<a href="https://example.org/a?b=1&amp;c=2">link</a><script>bad()</script>'
        '<style>p{}</style><iframe src="https://evil"></iframe><img src="https://evil/x.png">'
        '<at id="0">Jan</at> 1 &lt; 2<unknown>tekst</unknown><attachment id="a1"/>na</p>',
        render_attachment=lambda i: f"[bijlage {i}]",
    )
    assert out == (
        '<p>Hoi <b>allen</b> <a rel="noopener noreferrer">klik</a> <a href="https://example.org/a?b=1&amp;c=2" '
        'rel="noopener noreferrer">link</a><span class="missing-image" title="https://evil/x.png">'
        '[afbeelding niet in het archief]</span><span class="mention">@Jan</span> 1 &lt; 2tekst'
        "[bijlage a1]na</p>"
    )


def test_sanitizer_keeps_visible_fallback_text_and_the_rest_after_an_unclosed_svg() -> None:
    out = sanitize_html(
        "<p>Voor</p><object data=x.swf>Tekst voor wie geen plugin heeft</object>"
        "<noscript>Zet JavaScript aan</noscript><svg><script>bad()</script><g>in de tekening"
        '<p>De rest van de <b>brief</b></p><img src="https://evil/t.gif" onerror="x()">'
    )
    assert "Tekst voor wie geen plugin heeft" in out and "Zet JavaScript aan" in out
    assert "De rest van de <b>brief</b>" in out
    assert "script" not in out and "onerror" not in out and "<svg" not in out and "<object" not in out


def test_chats_cli_lists_chats_and_writes_a_transcript(chats_only: CaptureWorld, tmp_path: Path) -> None:
    world = chats_only
    teams_runs(world)
    runner = CliRunner()
    anna = world.settings.model_copy(update={"user": "anna", "roles": {"anna": ["woo-officer"]}})
    woo = WooService(anna)
    everyone = sorted({d.name for d in Registry(state_engine(anna)).designations()})
    woo.open_case(
        ref="WOO-2026-020", received=date(2026, 11, 2), subject="College-chats",
        scope=woo.resolve_scope(officials=everyone),
    )  # fmt: skip
    app = AppContext(settings=anna)
    listed = runner.invoke(chats_cli, ["list", "--json"], obj=app)
    assert listed.exit_code == 0, listed.output
    chats = {c["chat_id"]: c for c in json.loads(listed.output)["chats"]}
    truth = {c["id"]: c for c in truth_chats(world)}
    assert set(chats) == set(truth)
    for chat_id, chat in truth.items():
        assert chats[chat_id]["messages"] == len(chat["messages"])
        assert chats[chat_id]["topic"] == chat["topic"]
    out = tmp_path / "transcripts" / "college.html"
    chat_id = college(world)["id"]
    caseless = runner.invoke(chats_cli, ["transcript", chat_id, "--out", str(out)], obj=app)
    assert caseless.exit_code == 3 and "only possible inside a Woo case" in caseless.output
    assert not out.exists()
    case = ["--case", "WOO-2026-020"]
    written = runner.invoke(chats_cli, ["transcript", chat_id, *case, "--out", str(out)], obj=app)
    assert written.exit_code == 0, written.output
    assert out.as_uri() in written.output
    doc = lxml.html.document_fromstring(out.read_text("utf-8"))
    assert len(doc.xpath("//article[@data-message-id]")) == len(truth[chat_id]["messages"])
    missing = runner.invoke(chats_cli, ["transcript", "19:nope@thread.v2", *case, "--out", str(out)], obj=app)
    assert missing.exit_code == 3 and "outside the scope" in missing.output  # not in the vault: not in scope
    # an existing file is never overwritten without --force (issue 16); an unknown case is a refusal
    out.write_text("eerder bestand", encoding="utf-8")
    again = runner.invoke(chats_cli, ["transcript", chat_id, *case, "--out", str(out)], obj=app)
    assert again.exit_code == 2 and "exists: not overwritten" in again.output
    assert out.read_text("utf-8") == "eerder bestand" and not list(out.parent.glob("*.tmp"))
    forced = runner.invoke(chats_cli, ["transcript", chat_id, *case, "--out", str(out), "--force"], obj=app)
    assert forced.exit_code == 0, forced.output
    assert len(
        lxml.html.document_fromstring(out.read_text("utf-8")).xpath("//article[@data-message-id]")
    ) == len(truth[chat_id]["messages"])
    unknown = ["transcript", chat_id, "--case", "WOO-2026-999", "--out", str(tmp_path / "x.html")]
    nocase = runner.invoke(chats_cli, unknown, obj=app)
    assert nocase.exit_code == 3 and "no Woo case WOO-2026-999" in nocase.output
    human = runner.invoke(chats_cli, ["list"], obj=app)
    assert human.exit_code == 0 and COLLEGE in human.output
    every = runner.invoke(
        chats_cli, ["transcripts", *case, "--out-dir", str(tmp_path / "all"), "--json"], obj=app
    )
    assert every.exit_code == 0, every.output
    files = {t["chat_id"]: Path(t["path"]) for t in json.loads(every.output)["transcripts"]}
    assert set(files) == set(truth) and len({p.name for p in files.values()}) == len(truth)
    for chat_id, path in files.items():
        page = lxml.html.document_fromstring(path.read_text("utf-8"))
        assert page.xpath("//body/@data-chat-id") == [chat_id]
    views = [
        (e.outcome, e.case_ref)
        for e in AuditLog(state_engine(anna)).entries()
        if e.action == "chat-transcript"
    ]
    assert views == [
        ("refused", None),
        ("allowed", "WOO-2026-020"),
        ("refused", "WOO-2026-020"),  # not in the vault: not in scope
        ("allowed", "WOO-2026-020"),  # --force
        ("refused", "WOO-2026-999"),
        ("allowed", "WOO-2026-020"),
    ]


# -- schedule ---------------------------------------------------------------------------------------


def test_stale_chat_captures_are_reported(chats_only: CaptureWorld) -> None:
    assert parse_duration("1h") == timedelta(hours=1) and parse_duration("90") == timedelta(seconds=90)
    with pytest.raises(ValueError):
        parse_duration("0m")
    world = chats_only
    engine = state_engine(world.settings)
    hour = timedelta(hours=1)
    never = stale_chat_captures(engine, hour, datetime.now(UTC))
    assert {s.account for s in never} == world.accounts()
    assert all(s.last_complete_at is None and "never" in s.message() for s in never)
    teams_runs(world)
    now = datetime.now(UTC)
    assert stale_chat_captures(engine, hour, now) == []
    later = stale_chat_captures(engine, hour, now + timedelta(hours=2))
    assert {s.account for s in later} == world.accounts()
    for entry in later:
        assert entry.age is not None and timedelta(hours=2) <= entry.age < timedelta(hours=2, minutes=1)
        assert entry.to_json()["last_complete_run"] and "longer than the maximum of 60 min" in entry.message()
