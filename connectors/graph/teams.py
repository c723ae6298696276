"""A user's Teams chats through Graph: chats, members, every message via ``getAllMessages``, and
hosted contents (inline images).

Messages are returned as the raw JSON documents Graph sent (through msgraph-sdk's request builders
and pipeline, read as bytes), so each captured version is exactly what the source said, not a
re-serialisation. ``getAllMessages`` is filtered on a ``lastModifiedDateTime`` window: that window
is the incremental cursor. ``model`` selects the licensing/payment model (``A`` for compliance use).
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_abstractions.headers_collection import HeadersCollection
from msgraph.generated.chats.item.messages.messages_request_builder import MessagesRequestBuilder
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.users.item.chats.get_all_messages.get_all_messages_request_builder import (
    GetAllMessagesRequestBuilder,
)

from connectors.base import SourceError
from connectors.graph.client import GraphConnection
from connectors.graph.mail import _error

_ERRORS: dict[str, Any] = {"XXX": ODataError}
CHAT_PAGE_MAX = 50  # Graph's largest $top for chat messages
_HOSTED = re.compile(r"/chats/([^/\"']+)/messages/([^/\"']+)/hostedContents/([^/\"']+)/\$value")


@dataclass(frozen=True)
class MessagePage:
    messages: list[dict[str, Any]]
    next_link: str | None


def hosted_content_refs(message: dict[str, Any]) -> list[str]:
    """Ids of the hosted contents (inline images) a message's HTML body points at."""
    body = (message.get("body") or {}).get("content") or ""
    return sorted({m.group(3) for m in _HOSTED.finditer(body)})


class GraphChats:
    """The chats one user takes part in."""

    def __init__(
        self, connection: GraphConnection, user: str, *, model: str = "A", page_size: int = 50
    ) -> None:
        self.connection = connection
        self.user = user
        self.model = model
        self.page_size = page_size
        self._sdk = connection.sdk

    async def _raw(self, builder: Any, config: RequestConfiguration[Any] | None = None) -> dict[str, Any]:
        info = builder.to_get_request_information(config or RequestConfiguration(headers=HeadersCollection()))
        try:
            data = await self._sdk.request_adapter.send_primitive_async(info, "bytes", _ERRORS)
        except ODataError as exc:
            raise _error(exc, f"Teams request for {self.user}") from exc
        if not data:
            raise SourceError(f"Teams request for {self.user}: empty response")
        document: dict[str, Any] = json.loads(data)
        return document

    @staticmethod
    def _headers() -> HeadersCollection:
        """System events are ``systemEventMessage`` only when unknown enum members are asked for."""
        headers = HeadersCollection()
        headers.add("Prefer", "include-unknown-enum-members")
        return headers

    async def _collect(self, builder: Any, query: Any = None) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        page = await self._raw(builder, RequestConfiguration(headers=self._headers(), query_parameters=query))
        while True:
            items.extend(page.get("value", []))
            link = page.get("@odata.nextLink")
            if not link:
                return items
            page = await self._raw(builder.with_url(link), RequestConfiguration(headers=self._headers()))

    async def list_chats(self) -> list[dict[str, Any]]:
        return await self._collect(self._sdk.users.by_user_id(self.user).chats)

    async def chat(self, chat_id: str) -> dict[str, Any]:
        return await self._raw(self._sdk.chats.by_chat_id(chat_id))

    async def members(self, chat_id: str) -> list[dict[str, Any]]:
        return await self._collect(self._sdk.chats.by_chat_id(chat_id).members)

    async def chat_messages(self, chat_id: str) -> list[dict[str, Any]]:
        """Every message of one chat as it is now (for reconciliation), in the same shape as
        ``getAllMessages`` returns them (system events included as ``systemEventMessage``)."""
        query = MessagesRequestBuilder.MessagesRequestBuilderGetQueryParameters(top=CHAT_PAGE_MAX)
        return await self._collect(self._sdk.chats.by_chat_id(chat_id).messages, query)

    async def all_messages(self, cursor: str | None, *, since: str | None, until: str) -> MessagePage:
        """One page of ``getAllMessages`` in the window ``(since, until)``; ``cursor`` is a next link."""
        builder: Any = self._sdk.users.by_user_id(self.user).chats.get_all_messages
        if cursor:
            return self._page(
                await self._raw(builder.with_url(cursor), RequestConfiguration(headers=self._headers()))
            )
        window = f"lastModifiedDateTime lt {until}"
        if since:
            window = f"lastModifiedDateTime gt {since} and {window}"
        query = GetAllMessagesRequestBuilder.GetAllMessagesRequestBuilderGetQueryParameters(
            model=self.model, filter=window, top=self.page_size
        )
        return self._page(
            await self._raw(builder, RequestConfiguration(headers=self._headers(), query_parameters=query))
        )

    @staticmethod
    def _page(document: dict[str, Any]) -> MessagePage:
        return MessagePage(
            messages=list(document.get("value", [])), next_link=document.get("@odata.nextLink")
        )

    def hosted_content_url(self, chat_id: str, message_id: str, hosted_id: str) -> str:
        return (
            f"{self.connection.base_url}/chats/{quote(chat_id, safe='')}/messages/{quote(message_id, safe='')}"
            f"/hostedContents/{quote(hosted_id, safe='')}/$value"
        )

    async def stream_hosted_content(
        self, chat_id: str, message_id: str, hosted_id: str
    ) -> AsyncIterator[tuple[str, bytes]]:
        """(content type, chunk) pairs of an inline image, streamed."""
        url = self.hosted_content_url(chat_id, message_id, hosted_id)
        async with self.connection.raw.stream("GET", url) as response:
            if response.status_code != 200:
                await response.aread()
                raise SourceError(
                    f"hosted content {hosted_id}: Graph answered {response.status_code}",
                    status=response.status_code,
                )
            content_type = response.headers.get("Content-Type", "application/octet-stream")
            async for chunk in response.aiter_raw(1 << 20):
                yield content_type, chunk
