"""Teams chats through Graph with msgraph-sdk: getAllMessages (model, lastModifiedDateTime range),
per-chat lists, members, hosted contents, edits, deletions, reactions, mentions, system events."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_abstractions.headers_collection import HeadersCollection
from msgraph.generated.chats.item.messages.messages_request_builder import MessagesRequestBuilder
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.users.item.chats.get_all_messages.get_all_messages_request_builder import (
    GetAllMessagesRequestBuilder,
)

from connectors.simulator.model import iso
from connectors.simulator.server import RunningSimulator
from tests.simulator.conftest import run
from tests.simulator.graph_client import graph_client

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

BURGEMEESTER = "burgemeester@gemeente-demo.nl"


def _config(query: Any = None, *, unknown_enums: bool = True) -> RequestConfiguration[Any]:
    headers = HeadersCollection()
    if unknown_enums:
        headers.add("Prefer", "include-unknown-enum-members")
    return RequestConfiguration(headers=headers, query_parameters=query)


async def all_messages(client: Any, user: str, **query: Any) -> list[Any]:
    builder = client.users.by_user_id(user).chats.get_all_messages
    params = GetAllMessagesRequestBuilder.GetAllMessagesRequestBuilderGetQueryParameters(**query)
    page = await builder.get(request_configuration=_config(params))
    messages = list(page.value)
    while page.odata_next_link:
        page = await builder.with_url(page.odata_next_link).get(request_configuration=_config())
        messages += page.value
    return messages


def test_get_all_messages_matches_truth(sim: RunningSimulator, truth: dict[str, Any]) -> None:
    mine = [c for c in truth["chats"] if BURGEMEESTER in c["members"]]
    expected = {(c["id"], m["id"]): m for c in mine for m in c["messages"]}

    async def scenario() -> None:
        client = graph_client(sim)
        messages = await all_messages(client, BURGEMEESTER, model="A", top=7)
        assert {(m.chat_id, m.id) for m in messages} == set(expected)
        stamps = [m.last_modified_date_time for m in messages]
        assert stamps == sorted(stamps)
        kinds = {str(m.message_type.value) for m in messages}
        assert {"message", "systemEventMessage"} <= kinds
        edited = [m for m in messages if m.last_edited_date_time]
        assert edited and all(len(expected[(m.chat_id, m.id)]["versions"]) >= 2 for m in edited)
        deleted = [m for m in messages if m.deleted_date_time]
        assert deleted and all(m.body.content == "" for m in deleted)
        assert any(m.reactions for m in messages)
        assert any(m.mentions and "<at id=" in m.body.content for m in messages)
        assert any(
            a.content_type == "reference" and a.content_url for m in messages for a in m.attachments or []
        )
        system = next(m for m in messages if str(m.message_type.value) == "systemEventMessage")
        assert system.event_detail is not None and system.from_ is None
        # the body of an undeleted message is the last version's content
        live = next(m for m in edited if not m.deleted_date_time)
        assert (
            hashlib.sha256(m_content(live).encode()).hexdigest()
            == expected[(live.chat_id, live.id)]["versions"][-1]["sha256"]
        )

    run(scenario())


def m_content(message: Any) -> str:
    return str(message.body.content)


def test_last_modified_range_filter_and_hosted_contents(sim: RunningSimulator, truth: dict[str, Any]) -> None:
    async def scenario() -> None:
        client = graph_client(sim)
        everything = await all_messages(client, BURGEMEESTER, model="B")
        stamps = sorted(m.last_modified_date_time for m in everything)
        low, high = stamps[len(stamps) // 4], stamps[3 * len(stamps) // 4]
        window = await all_messages(
            client,
            BURGEMEESTER,
            model="B",
            filter=f"lastModifiedDateTime gt {iso(low.timestamp(), ms=True)} and lastModifiedDateTime lt {iso(high.timestamp(), ms=True)}",
        )
        assert window and all(low < m.last_modified_date_time < high for m in window)
        assert len(window) == sum(1 for s in stamps if low < s < high)
        # hosted contents: the image the body references, bytes from $value
        with_image = next(m for m in everything if m.body and "hostedContents" in (m.body.content or ""))
        message = client.chats.by_chat_id(with_image.chat_id).messages.by_chat_message_id(with_image.id)
        hosted = await message.hosted_contents.get()
        assert hosted.value and hosted.value[0].content_bytes is None
        data = await message.hosted_contents.by_chat_message_hosted_content_id(
            hosted.value[0].id
        ).content.get()
        assert data.startswith(b"\x89PNG")
        assert sim.graph_url in with_image.body.content  # hosted-content URLs point at the simulator
        chat = next(c for c in truth["chats"] if c["id"] == with_image.chat_id)
        recorded = next(m for m in chat["messages"] if m["id"] == with_image.id)["hostedContents"][0]
        assert hashlib.sha256(data).hexdigest() == recorded["sha256"]

    run(scenario())


def test_chats_members_and_per_chat_messages(sim: RunningSimulator) -> None:
    async def scenario() -> None:
        client = graph_client(sim)
        chats = await client.users.by_user_id(BURGEMEESTER).chats.get()
        assert {str(c.chat_type.value) for c in chats.value} == {"oneOnOne", "group", "meeting"}
        meeting = next(c for c in chats.value if str(c.chat_type.value) == "meeting")
        assert meeting.online_meeting_info is not None
        members = await client.chats.by_chat_id(meeting.id).members.get()
        assert BURGEMEESTER in {m.email for m in members.value}
        query = MessagesRequestBuilder.MessagesRequestBuilderGetQueryParameters(top=2)
        page = await client.chats.by_chat_id(meeting.id).messages.get(request_configuration=_config(query))
        collected = list(page.value)
        while page.odata_next_link:
            page = (
                await client.chats.by_chat_id(meeting.id)
                .messages.with_url(page.odata_next_link)
                .get(request_configuration=_config())
            )
            collected += page.value
        stamps = [m.last_modified_date_time for m in collected]
        assert stamps == sorted(stamps, reverse=True)
        assert len(collected) == len(sim.tenant.chat(meeting.id).messages)
        events = {m.event_detail.odata_type for m in collected if m.event_detail}
        assert "#microsoft.graph.callEndedEventMessageDetail" in events
        with pytest.raises(ODataError) as err:
            too_many = MessagesRequestBuilder.MessagesRequestBuilderGetQueryParameters(top=51)
            await client.chats.by_chat_id(meeting.id).messages.get(request_configuration=_config(too_many))
        assert err.value.response_status_code == 400

    run(scenario())


def test_edits_and_deletions_show_up_and_evaluation_mode(fresh_sim: Any) -> None:
    with fresh_sim(evaluation_quota=5) as sim:
        chat = next(c for c in sim.tenant.chats.values() if c.chat_type == "group")
        message = next(m for m in chat.messages.values() if m.message_type == "message" and not m.deleted)
        token = sim.mint_token()
        with httpx.Client(base_url=sim.graph_url, headers={"Authorization": f"Bearer {token}"}) as raw:
            before = iso(sim.tenant.clock() - 1, ms=True)
            sim.mutate(
                {
                    "op": "edit-chat-message",
                    "chat": chat.id,
                    "message": message.id,
                    "content": "Herziene tekst",
                }
            )
            other = next(
                m
                for m in chat.messages.values()
                if m is not message and m.message_type == "message" and not m.deleted
            )
            sim.mutate({"op": "delete-chat-message", "chat": chat.id, "message": other.id})
            user = chat.members[0].user.upn
            changed = raw.get(
                f"/users/{user}/chats/getAllMessages",
                params={"model": "A", "$filter": f"lastModifiedDateTime gt {before}"},
            ).json()["value"]
            by_id = {m["id"]: m for m in changed}
            assert set(by_id) == {message.id, other.id}
            assert "Herziene tekst" in by_id[message.id]["body"]["content"]
            assert by_id[message.id]["lastEditedDateTime"] is not None
            assert by_id[other.id]["deletedDateTime"] is not None and by_id[other.id]["body"]["content"] == ""
            # system events are unknownFutureValue unless the client opts in
            plain = raw.get(f"/chats/{chat.id}/messages", params={"$top": "50"}).json()["value"]
            assert "unknownFutureValue" in {m["messageType"] for m in plain}
            # evaluation mode (no model): a small monthly quota, then 402
            first = raw.get(f"/users/{user}/chats/getAllMessages", params={"$top": "5"})
            assert first.status_code == 200
            second = raw.get(f"/users/{user}/chats/getAllMessages", params={"$top": "5"})
            assert second.status_code == 402 and second.json()["error"]["code"] == "PaymentRequired"
            bad = raw.get(f"/users/{user}/chats/getAllMessages", params={"model": "C"})
            assert bad.status_code == 400
