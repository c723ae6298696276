"""Entra ID's OpenID Connect endpoints for people signing in, so the web application can be tested
and demonstrated against a real OpenID Provider on 127.0.0.1 (issue 18).

- ``GET /{tenant}/v2.0/.well-known/openid-configuration``: discovery
- ``GET /{tenant}/oauth2/v2.0/authorize``: a login page listing the demo users; ``POST`` signs one in
  and redirects back with a code (authorization code flow; PKCE with ``S256`` is required)
- ``POST /{tenant}/oauth2/v2.0/token`` with ``grant_type=authorization_code``: ID and access token
- ``GET /discovery/v2.0/keys`` (and ``/{tenant}/discovery/v2.0/keys``): the JWKS
- ``GET /{tenant}/oauth2/v2.0/logout``: ends the provider's side and redirects back
- ``POST /_sim/oidc/token``: a token for a demo user with a failure switch for tests (``expired``,
  ``audience``, ``issuer``, ``unknown_key``); not part of Entra ID

Tokens are RS256 with Entra's v2.0 claim shapes: ``oid``, ``tid``, ``sub``, ``preferred_username``,
``name``, ``roles`` (app roles) and ``groups`` (group object ids).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import html
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

WEB_CLIENT_ID = "ca95e0b0-5eed-4c0d-8a11-00000000web1"
WEB_CLIENT_SECRET = "simulator-web-secret"
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class DemoUser:
    username: str  # the local part; preferred_username is username@domain
    name: str
    roles: tuple[str, ...]
    groups: tuple[str, ...] = ()

    @property
    def oid(self) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, "user:" + self.username))


# Group object ids a deployment may map to Capstone roles (CAPSTONE_WEB_GROUP_ROLES).
GROUP_IDS = {
    "registry-admin": "9a1f0c1e-0000-4000-8000-00000000a001",
    "archivist": "9a1f0c1e-0000-4000-8000-00000000a002",
    "woo-officer": "9a1f0c1e-0000-4000-8000-00000000a003",
    "auditor": "9a1f0c1e-0000-4000-8000-00000000a004",
    "official": "9a1f0c1e-0000-4000-8000-00000000a005",
}

DEMO_USERS = (
    DemoUser(
        "beheerder", "Bea Beheerder (registerbeheer)", ("registry-admin",), (GROUP_IDS["registry-admin"],)
    ),
    DemoUser("archivaris", "Arie Archivaris", ("archivist",), (GROUP_IDS["archivist"],)),
    # A second archivist: a vernietigingslijst is approved by another archivist than its proposer.
    DemoUser(
        "archivaris2", "Anna Archiefbeheer (tweede archivaris)", ("archivist",), (GROUP_IDS["archivist"],)
    ),
    DemoUser("woo", "Wanda Woo-jurist", ("woo-officer",), (GROUP_IDS["woo-officer"],)),
    # A second Woo officer: gives the collegiale toets on what Wanda assessed (issue 19).
    DemoUser("collega", "Kees Collega (Woo-jurist)", ("woo-officer",), (GROUP_IDS["woo-officer"],)),
    DemoUser("auditor", "Otto Auditor", ("auditor",), (GROUP_IDS["auditor"],)),
    # The mayor of the sample register: marks her own private mail (issue 21, "Privé markeren").
    DemoUser("burgemeester", "Marieke van Dalen (burgemeester)", ("official",), (GROUP_IDS["official"],)),
    DemoUser("medewerker", "Mia Medewerker (geen rol)", ()),
)


@functools.cache
def _process_key(kid: str) -> RSAKey:
    """One signing key per kid and process (generating RSA keys per simulator would slow tests)."""
    return RSAKey.generate_key(2048, parameters={"kid": kid})


@dataclass
class _Grant:
    user: DemoUser
    client_id: str
    redirect_uri: str
    challenge: str
    nonce: str | None
    issuer: str
    expires: float


@dataclass
class OidcProvider:
    tenant_id: str
    domain: str
    clients: dict[str, str] = field(default_factory=lambda: {WEB_CLIENT_ID: WEB_CLIENT_SECRET})
    users: tuple[DemoUser, ...] = DEMO_USERS
    lifetime: float = 3600.0
    clock: Callable[[], float] = time.time
    key: RSAKey = field(default_factory=lambda: _process_key("sim-1"))
    stray_key: RSAKey = field(default_factory=lambda: _process_key("stray"))  # not in the JWKS
    _grants: dict[str, _Grant] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- metadata ------------------------------------------------------------------------------

    def issuer(self, base_url: str) -> str:
        return f"{base_url}/{self.tenant_id}/v2.0"

    def discovery(self, base_url: str) -> dict[str, Any]:
        t = f"{base_url}/{self.tenant_id}"
        return {
            "issuer": self.issuer(base_url),
            "authorization_endpoint": f"{t}/oauth2/v2.0/authorize",
            "token_endpoint": f"{t}/oauth2/v2.0/token",
            "jwks_uri": f"{t}/discovery/v2.0/keys",
            "end_session_endpoint": f"{t}/oauth2/v2.0/logout",
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": [
                "sub", "iss", "aud", "exp", "iat", "nbf", "nonce", "name", "oid", "tid",
                "preferred_username", "roles", "groups",
            ],
            "tenant_region_scope": "EU",
        }  # fmt: skip

    def jwks(self) -> dict[str, Any]:
        return dict(KeySet([self.key]).as_dict(private=False))

    def user(self, username: str) -> DemoUser | None:
        return next((u for u in self.users if u.username == username), None)

    # -- tokens --------------------------------------------------------------------------------

    def mint(
        self,
        user: DemoUser,
        *,
        issuer: str,
        audience: str,
        lifetime: float | None = None,
        nonce: str | None = None,
        key: RSAKey | None = None,
        not_before: float | None = None,
    ) -> str:
        now = self.clock()
        claims: dict[str, Any] = {
            "aud": audience,
            "iss": issuer,
            "iat": int(now),
            "nbf": int(now if not_before is None else not_before),
            "exp": int(now + (self.lifetime if lifetime is None else lifetime)),
            "oid": user.oid,
            "sub": user.oid,
            "tid": self.tenant_id,
            "preferred_username": f"{user.username}@{self.domain}",
            "name": user.name,
            "roles": list(user.roles),
            "groups": list(user.groups),
            "ver": "2.0",
            "uti": secrets.token_urlsafe(16),
        }
        if nonce:
            claims["nonce"] = nonce
        signer = key or self.key
        return jwt.encode(
            {"alg": "RS256", "typ": "JWT", "kid": signer.kid}, claims, signer, algorithms=["RS256"]
        )

    def test_token(self, username: str, base_url: str, audience: str, failure: str | None = None) -> str:
        """A token for a demo user, optionally broken in one way tests need."""
        user = self.user(username)
        if user is None:
            raise ValueError(f"unknown demo user {username!r}")
        kwargs: dict[str, Any] = {"issuer": self.issuer(base_url), "audience": audience}
        if failure == "expired":
            kwargs["lifetime"] = -120
        elif failure == "audience":
            kwargs["audience"] = "api://some-other-application"
        elif failure == "issuer":
            kwargs["issuer"] = f"https://login.microsoftonline.com/{uuid.uuid4()}/v2.0"
        elif failure == "unknown_key":
            kwargs["key"] = self.stray_key
        elif failure == "not_yet_valid":
            kwargs["not_before"] = self.clock() + 3600
        elif failure:
            raise ValueError(f"unknown failure {failure!r}")
        return self.mint(user, **kwargs)

    # -- authorization code flow ---------------------------------------------------------------

    def check_authorize(self, params: dict[str, str]) -> str | None:
        """Why an authorization request is refused, or None."""
        secret = self.clients.get(params.get("client_id", ""))
        if secret is None:
            return "AADSTS700016: unknown application (client_id)"
        redirect = urlsplit(params.get("redirect_uri", ""))
        if redirect.scheme not in ("http", "https") or (
            redirect.scheme == "http" and redirect.hostname not in _LOOPBACK
        ):
            return "AADSTS50011: the redirect URI does not match a registered one"
        if params.get("response_type") != "code":
            return "AADSTS70005: response_type must be 'code'"
        if "openid" not in params.get("scope", "").split():
            return "AADSTS650053: the scope must include 'openid'"
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            return "AADSTS9002325: Proof Key for Code Exchange (S256) is required"
        return None

    def issue_code(self, params: dict[str, str], username: str, base_url: str) -> str:
        """The redirect (with code and state) after ``username`` signed in."""
        user = self.user(username)
        if user is None:
            raise ValueError(f"unknown demo user {username!r}")
        code = secrets.token_urlsafe(32)
        with self._lock:
            self._grants[code] = _Grant(
                user=user,
                client_id=params["client_id"],
                redirect_uri=params["redirect_uri"],
                challenge=params["code_challenge"],
                nonce=params.get("nonce"),
                issuer=self.issuer(base_url),
                expires=self.clock() + 300,
            )
        query = {"code": code}
        if params.get("state"):
            query["state"] = params["state"]
        separator = "&" if "?" in params["redirect_uri"] else "?"
        return params["redirect_uri"] + separator + urlencode(query)

    def token_endpoint(self, form: dict[str, str], authorization: str | None) -> tuple[int, dict[str, Any]]:
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        if authorization and authorization.lower().startswith("basic "):
            decoded = base64.b64decode(authorization[6:]).decode()
            client_id, _, secret = decoded.partition(":")
            from urllib.parse import unquote

            client_id, secret = unquote(client_id), unquote(secret)
        expected = self.clients.get(client_id)
        if expected is None or not hmac.compare_digest(secret, expected):
            return 401, {
                "error": "invalid_client",
                "error_description": "AADSTS7000215: invalid client secret",
            }
        if form.get("grant_type") != "authorization_code":
            return 400, {"error": "unsupported_grant_type"}
        with self._lock:
            grant = self._grants.pop(form.get("code", ""), None)  # a code is used once
        if grant is None or grant.expires < self.clock() or grant.client_id != client_id:
            return 400, {
                "error": "invalid_grant",
                "error_description": "AADSTS70008: the code is invalid or expired",
            }
        if form.get("redirect_uri") != grant.redirect_uri:
            return 400, {"error": "invalid_grant", "error_description": "AADSTS50011: redirect_uri differs"}
        verifier = form.get("code_verifier", "")
        computed = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
        if not verifier or not hmac.compare_digest(computed, grant.challenge):
            return 400, {
                "error": "invalid_grant",
                "error_description": "AADSTS501481: the code_verifier does not match",
            }
        id_token = self.mint(grant.user, issuer=grant.issuer, audience=client_id, nonce=grant.nonce)
        access = self.mint(grant.user, issuer=grant.issuer, audience=client_id)
        return 200, {
            "token_type": "Bearer",
            "scope": "openid profile email",
            "expires_in": int(self.lifetime),
            "access_token": access,
            "id_token": id_token,
        }

    def login_page(self, params: dict[str, str], action: str) -> str:
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in params.items()
        )
        buttons = "".join(
            f'<li><form method="post" action="{html.escape(action)}">{hidden}'
            f'<input type="hidden" name="login_hint" value="{html.escape(u.username)}">'
            f'<button type="submit">{html.escape(u.name)}</button> '
            f"<span>{html.escape(u.username)}@{html.escape(self.domain)} — "
            f"{html.escape(', '.join(u.roles) or 'geen rollen')}</span></form></li>"
            for u in self.users
        )
        return (
            '<!doctype html><html lang="nl"><head><meta charset="utf-8"><title>Aanmelden (gesimuleerde tenant)</title>'
            "</head><body><main><h1>Aanmelden bij de gesimuleerde tenant</h1>"
            f"<p>Kies een demogebruiker van {html.escape(self.domain)}.</p><ul>{buttons}</ul></main></body></html>"
        )
