"""Tokens for Graph: OAuth2 client credentials against Entra ID (or the simulated tenant).

Production uses ``azure-identity`` (client secret or certificate). The plain client-credentials
source below speaks the same OAuth2 token endpoint over HTTP and is what tests point at the
simulated tenant (azure-identity insists on https authorities). Tokens are cached until shortly
before they expire and renewed on demand after a 401.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import httpx

GRAPH_SCOPE = "https://graph.microsoft.com/.default"


@dataclass
class ClientCredentialsTokenSource:
    """OAuth2 client-credentials grant against ``token_url``. Never logs the secret or the token."""

    token_url: str
    client_id: str
    client_secret: str
    scope: str = GRAPH_SCOPE
    refresh_margin: float = 60.0

    def __post_init__(self) -> None:
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    async def __call__(self, force_refresh: bool = False) -> str:
        async with self._lock:
            if not force_refresh and self._token and time.monotonic() < self._expires_at:
                return self._token
            async with httpx.AsyncClient(timeout=30) as client:
                response = await client.post(
                    self.token_url,
                    data={
                        "grant_type": "client_credentials",
                        "client_id": self.client_id,
                        "client_secret": self.client_secret,
                        "scope": self.scope,
                    },
                )
            if response.status_code != 200:
                raise PermissionError(
                    f"token endpoint {self.token_url} refused client {self.client_id!r} (HTTP {response.status_code})"
                )
            payload = response.json()
            self._token = str(payload["access_token"])
            lifetime = float(payload.get("expires_in", 3600))
            self._expires_at = time.monotonic() + max(lifetime - self.refresh_margin, lifetime / 2)
            return self._token


@dataclass
class AzureIdentityTokenSource:
    """Client credentials through azure-identity: a secret, or a certificate (PEM path)."""

    tenant_id: str
    client_id: str
    client_secret: str | None = None
    certificate_path: str | None = None
    scope: str = GRAPH_SCOPE

    def __post_init__(self) -> None:
        from azure.identity.aio import CertificateCredential, ClientSecretCredential

        self._credential: Any
        if self.certificate_path:
            self._credential = CertificateCredential(self.tenant_id, self.client_id, self.certificate_path)
        elif self.client_secret:
            self._credential = ClientSecretCredential(self.tenant_id, self.client_id, self.client_secret)
        else:
            raise ValueError("azure-identity needs a client secret or a certificate path")

    async def __call__(self, force_refresh: bool = False) -> str:
        token = await self._credential.get_token(self.scope)
        return str(token.token)
