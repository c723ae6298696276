"""Builds a msgraph-sdk client whose every request goes through one :class:`GraphTransport`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx
from kiota_abstractions.authentication.anonymous_authentication_provider import (
    AnonymousAuthenticationProvider,
)
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_abstractions.headers_collection import HeadersCollection
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.graph_request_adapter import GraphRequestAdapter
from msgraph.graph_service_client import GraphServiceClient
from msgraph_core import GraphClientFactory

from connectors.graph.transport import GraphTransport, TokenSource, TransportPolicy

GRAPH_V1 = "https://graph.microsoft.com/v1.0"


@dataclass
class GraphConnection:
    """A Graph endpoint with its SDK client and the raw HTTP client used for streaming downloads."""

    base_url: str
    sdk: Any  # GraphServiceClient (untyped library)
    http: httpx.AsyncClient  # the SDK's client (kiota middleware)
    raw: httpx.AsyncClient  # plain client for streaming downloads, same transport and limits
    transport: GraphTransport

    async def aclose(self) -> None:
        await self.raw.aclose()
        await self.http.aclose()

    async def get_json(self, builder: Any, config: RequestConfiguration[Any] | None = None) -> dict[str, Any]:
        """GET through an SDK request builder (URL template, middleware, error mapping) and return
        the JSON document as Graph sent it. kiota's model deserialisation is skipped: it costs about
        10 ms per page and keeps nothing we need that the JSON does not hold."""
        info = builder.to_get_request_information(config or RequestConfiguration(headers=HeadersCollection()))
        return await self.send_json(info)

    async def post_json(
        self, builder: Any, body: Any, config: RequestConfiguration[Any] | None = None
    ) -> dict[str, Any]:
        info = builder.to_post_request_information(
            body, config or RequestConfiguration(headers=HeadersCollection())
        )
        return await self.send_json(info)

    async def send_json(self, info: Any) -> dict[str, Any]:
        """Send a kiota ``RequestInformation`` and return the JSON document Graph answered."""
        data = await self.sdk.request_adapter.send_primitive_async(info, "bytes", {"XXX": ODataError})
        if not data:
            return {}
        document: dict[str, Any] = json.loads(data)
        return document


def connect(
    token_source: TokenSource,
    *,
    base_url: str = GRAPH_V1,
    policy: TransportPolicy | None = None,
    inner: httpx.AsyncBaseTransport | None = None,
    timeout: float = 120.0,
) -> GraphConnection:
    """Authentication is done by the transport (so a 401 can renew the token and retry)."""
    base_url = base_url.rstrip("/")
    transport = GraphTransport(token_source, policy=policy, inner=inner, base_url=base_url)
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=100)
    sdk_http = GraphClientFactory.create_with_default_middleware(
        client=httpx.AsyncClient(base_url=base_url, transport=transport, timeout=timeout, limits=limits)
    )
    adapter = GraphRequestAdapter(AnonymousAuthenticationProvider(), sdk_http)
    adapter.base_url = base_url
    sdk = GraphServiceClient(request_adapter=adapter)
    raw = httpx.AsyncClient(transport=transport, timeout=timeout, limits=limits)
    return GraphConnection(base_url=base_url, sdk=sdk, http=sdk_http, raw=raw, transport=transport)
