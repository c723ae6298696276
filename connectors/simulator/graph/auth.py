"""The OAuth2 client-credentials token endpoint (``POST /{tenant}/oauth2/v2.0/token``) and the check
of bearer tokens on every Graph and EWS request.

Tokens are JWTs (HS256 with a per-server key) carrying ``appid``, ``tid``, ``aud``, ``roles`` and
``exp``, shaped like Entra ID's app-only tokens. An expired, forged or missing token is a 401 with
Graph's ``InvalidAuthenticationToken`` error.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from connectors.simulator.graph.common import GraphError

GRAPH_RESOURCE = "https://graph.microsoft.com"
EWS_RESOURCE = "https://outlook.office365.com"
DEFAULT_CLIENT_ID = "c0ffee00-5eed-4c0d-8a11-0000000ca95e"
DEFAULT_CLIENT_SECRET = "simulator-secret"
DEFAULT_ROLES = (
    "User.Read.All",
    "Mail.Read",
    "MailboxSettings.Read",
    "MailboxFolder.Read.All",
    "MailboxItem.Read.All",
    "MailboxItem.Export.All",
    "Chat.Read.All",
    "full_access_as_app",
)
_WWW_AUTHENTICATE = (
    'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", '
    'client_id="00000003-0000-0000-c000-000000000000"'
)


@dataclass(frozen=True)
class AppRegistration:
    client_id: str
    client_secret: str
    display_name: str = "Capstone"
    roles: tuple[str, ...] = DEFAULT_ROLES


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class TokenService:
    tenant_id: str
    tenant_domain: str
    apps: dict[str, AppRegistration] = field(default_factory=dict)
    lifetime: float = 3599.0
    key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        if not self.apps:
            self.apps[DEFAULT_CLIENT_ID] = AppRegistration(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)

    def knows_tenant(self, ref: str) -> bool:
        return ref.lower() in (self.tenant_id.lower(), self.tenant_domain.lower(), "organizations")

    # -- issuing -------------------------------------------------------------------------------

    def mint(
        self,
        client_id: str = DEFAULT_CLIENT_ID,
        *,
        lifetime: float | None = None,
        resource: str = GRAPH_RESOURCE,
    ) -> str:
        """A signed token for a registered app (also for tests that want a static token)."""
        app = self.apps[client_id]
        moment = self.clock()
        now = int(moment)
        exp = round(
            moment + (self.lifetime if lifetime is None else lifetime), 3
        )  # NumericDate may be fractional
        header = {"typ": "JWT", "alg": "HS256", "kid": "simulator"}
        claims = {
            "aud": resource,
            "iss": f"https://sts.windows.net/{self.tenant_id}/",
            "iat": now,
            "nbf": now,
            "exp": exp,
            "app_displayname": app.display_name,
            "appid": app.client_id,
            "appidacr": "1",
            "idtyp": "app",
            "oid": str(uuid.uuid5(uuid.NAMESPACE_URL, "sp:" + app.client_id)),
            "roles": list(app.roles),
            "sub": str(uuid.uuid5(uuid.NAMESPACE_URL, "sp:" + app.client_id)),
            "tid": self.tenant_id,
            "ver": "1.0",
            "uti": secrets.token_urlsafe(16),
        }
        signing_input = (
            _b64(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + _b64(json.dumps(claims, separators=(",", ":")).encode())
        )
        signature = hmac.new(self.key, signing_input.encode(), hashlib.sha256).digest()
        return signing_input + "." + _b64(signature)

    def token_endpoint(self, tenant_ref: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """Answer a token request as Entra ID does: (status, JSON body)."""
        if not self.knows_tenant(tenant_ref):
            return self._aad_error(
                400,
                "invalid_tenant",
                90002,
                f"Tenant '{tenant_ref}' not found. Check to make sure you have the correct tenant ID.",
            )
        if form.get("grant_type") != "client_credentials":
            return self._aad_error(
                400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type."
            )
        client_id = form.get("client_id", "")
        app = self.apps.get(client_id)
        if app is None:
            return self._aad_error(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory '{self.tenant_domain}'.",
            )
        if not hmac.compare_digest(form.get("client_secret", ""), app.client_secret):
            return self._aad_error(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value.",
            )
        scope = form.get("scope", "")
        resource = scope.removesuffix("/.default").rstrip("/")
        if not scope.endswith("/.default") or resource not in (GRAPH_RESOURCE, EWS_RESOURCE):
            return self._aad_error(
                400,
                "invalid_scope",
                1002012,
                f"The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).",
            )
        lifetime = int(self.lifetime)
        return 200, {
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": self.mint(client_id, resource=resource),
        }

    def _aad_error(self, status: int, error: str, code: int, description: str) -> tuple[int, dict[str, Any]]:
        trace = str(uuid.uuid4())
        return status, {
            "error": error,
            "error_description": f"AADSTS{code}: {description}\r\nTrace ID: {trace}\r\nCorrelation ID: {trace}\r\nTimestamp: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M:%SZ')}",
            "error_codes": [code],
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ"),
            "trace_id": trace,
            "correlation_id": trace,
        }

    # -- checking ------------------------------------------------------------------------------

    def claims(self, token: str) -> dict[str, Any] | None:
        """The token's claims when it is well formed and signed by this server, else None."""
        parts = token.split(".")
        if len(parts) != 3:
            return None
        try:
            signature = _unb64(parts[2])
            claims = json.loads(_unb64(parts[1]))
        except (ValueError, TypeError):
            return None
        expected = hmac.new(self.key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(signature, expected) or not isinstance(claims, dict):
            return None
        return claims

    def authenticate(self, authorization: str | None, *, resource: str = GRAPH_RESOURCE) -> str:
        """The app id of a valid bearer token; a 401 :class:`GraphError` otherwise."""
        headers = {"WWW-Authenticate": _WWW_AUTHENTICATE}
        if (
            not authorization
            or not authorization.lower().startswith("bearer ")
            or not authorization[7:].strip()
        ):
            raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty.", headers)
        claims = self.claims(authorization[7:].strip())
        if claims is None:
            raise GraphError(
                401,
                "InvalidAuthenticationToken",
                "IDX14100: JWT is not well formed or its signature is invalid.",
                headers,
            )
        if float(claims.get("exp", 0)) <= self.clock():
            raise GraphError(
                401,
                "InvalidAuthenticationToken",
                "Lifetime validation failed, the token is expired.",
                headers,
            )
        if claims.get("aud") != resource:
            raise GraphError(
                401,
                "InvalidAuthenticationToken",
                "Access token validation failure. Invalid audience.",
                headers,
            )
        if claims.get("tid") != self.tenant_id:
            raise GraphError(
                401, "InvalidAuthenticationToken", "Access token validation failure. Invalid tenant.", headers
            )
        return str(claims.get("appid"))
