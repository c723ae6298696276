"""A msgraph-sdk client pointed at a simulated tenant: the real SDK, unmodified, with a custom base
URL and either a simulator-issued token (client credentials) or a static one."""

from __future__ import annotations

import time
from typing import Any

import httpx
from kiota_abstractions.authentication.access_token_provider import AccessTokenProvider
from kiota_abstractions.authentication.allowed_hosts_validator import AllowedHostsValidator
from kiota_abstractions.authentication.base_bearer_token_authentication_provider import (
    BaseBearerTokenAuthenticationProvider,
)
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_abstractions.headers_collection import HeadersCollection
from msgraph.graph_request_adapter import GraphRequestAdapter
from msgraph.graph_service_client import GraphServiceClient
from msgraph_core import GraphClientFactory

from connectors.simulator.server import Endpoints

GRAPH_SCOPE = "https://graph.microsoft.com/.default"


class SimulatorTokenProvider(AccessTokenProvider):
    """Client-credentials tokens from the simulator's token endpoint (or one static token)."""

    def __init__(self, endpoints: Endpoints, *, static_token: str | None = None) -> None:
        self.endpoints = endpoints
        self.static_token = static_token
        self.token: str | None = None
        self.expires_at = 0.0
        self.fetched = 0

    async def get_authorization_token(self, uri: str, additional_authentication_context: Any = None) -> str:
        if self.static_token is not None:
            return self.static_token
        if self.token is None or time.monotonic() >= self.expires_at:
            async with httpx.AsyncClient() as client:
                response = await client.post(
                    self.endpoints.token_url,
                    data={
                        "grant_type": "client_credentials",
                        "client_id": self.endpoints.client_id,
                        "client_secret": self.endpoints.client_secret,
                        "scope": GRAPH_SCOPE,
                    },
                )
            response.raise_for_status()
            payload = response.json()
            self.token = str(payload["access_token"])
            self.expires_at = time.monotonic() + float(payload["expires_in"]) - 1
            self.fetched += 1
        return self.token

    def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
        return AllowedHostsValidator(["127.0.0.1", "localhost"])


def graph_client(endpoints: Endpoints, *, static_token: str | None = None, beta: bool = False) -> Any:
    """A GraphServiceClient whose every request goes to the simulator."""
    base_url = endpoints.graph_beta_url if beta else endpoints.graph_url
    http = GraphClientFactory.create_with_default_middleware(
        client=httpx.AsyncClient(base_url=base_url, timeout=120)
    )
    provider = SimulatorTokenProvider(endpoints, static_token=static_token)
    adapter = GraphRequestAdapter(BaseBearerTokenAuthenticationProvider(provider), http)
    adapter.base_url = base_url
    client: Any = GraphServiceClient(request_adapter=adapter)
    client.token_provider = provider  # for tests that look at token fetches
    return client


def config(
    prefer: str | None = None, *, immutable: bool = True, query: Any = None
) -> RequestConfiguration[Any]:
    """A request configuration with a fresh HeadersCollection (kiota's default instance is shared
    between requests) and the ``Prefer`` header Capstone sends."""
    headers = HeadersCollection()
    values = [v for v in (prefer, 'IdType="ImmutableId"' if immutable else None) if v]
    if values:
        headers.add("Prefer", ", ".join(values))
    configuration: RequestConfiguration[Any] = RequestConfiguration(headers=headers, query_parameters=query)
    return configuration
