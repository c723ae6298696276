"""Who is calling: a :class:`Principal` from an ID or access token's claims (Entra ID shapes), its
Capstone roles (the ``roles`` claim, or group ids mapped in settings) and the service layer's
:class:`~capstone.access.Actor` built from it.

Bearer access tokens are checked by :class:`TokenValidator`: RS256 only (``alg: none`` and HMAC
with the public key are refused before any key is used), signature against the issuer's JWKS
(cached, fetched again on an unknown ``kid``, at most every ``jwks_refresh_min_seconds``), ``iss``,
``aud``, ``exp`` and ``nbf``.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from capstone.access import ROLES, Actor
from capstone.web.config import WebSettings

ALGORITHMS = ("RS256",)


@dataclass(frozen=True)
class Principal:
    oid: str
    username: str  # preferred_username (the audit log's actor name)
    display_name: str
    roles: frozenset[str]

    def actor(self) -> Actor:
        return Actor(self.username, self.roles)

    def to_session(self) -> dict[str, Any]:
        return {
            "oid": self.oid,
            "username": self.username,
            "name": self.display_name,
            "roles": sorted(self.roles),
        }

    @classmethod
    def from_session(cls, doc: Mapping[str, Any]) -> Principal:
        return cls(str(doc["oid"]), str(doc["username"]), str(doc["name"]), frozenset(doc["roles"]))


def principal_from_claims(claims: Mapping[str, Any], group_roles: Mapping[str, str]) -> Principal:
    """Identity from ``oid``/``preferred_username``; roles from app roles and mapped groups, limited
    to the roles Capstone knows."""
    oid = str(claims.get("oid") or claims.get("sub") or "")
    username = str(claims.get("preferred_username") or oid)
    if not oid or not username:
        raise TokenError("the token names no user (oid/preferred_username)")
    granted = {str(r) for r in claims.get("roles") or []}
    granted |= {group_roles[g] for g in claims.get("groups") or [] if g in group_roles}
    return Principal(oid, username, str(claims.get("name") or username), frozenset(granted & set(ROLES)))


class TokenError(Exception):
    """A bearer token that is refused; the message says why (it is audited, never the token)."""


def _header(token: str) -> dict[str, Any]:
    try:
        segment = token.split(".")[0]
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, IndexError) as exc:
        raise TokenError("the token is not a JWT") from exc
    if not isinstance(header, dict):
        raise TokenError("the token is not a JWT")
    return header


class TokenValidator:
    def __init__(self, web: WebSettings, http: httpx.Client | None = None) -> None:
        self.web = web
        self._http = http or httpx.Client(timeout=10.0)
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None
        self._fetched_at = 0.0
        self._lock = threading.Lock()

    def metadata(self) -> dict[str, Any]:
        if self._metadata is None:
            response = self._http.get(self.web.metadata_url)
            response.raise_for_status()
            self._metadata = dict(response.json())
        return self._metadata

    def _keyset(self, kid: str) -> KeySet:
        with self._lock:
            known = self._keys is not None and any(k.kid == kid for k in self._keys.keys)
            stale = time.monotonic() - self._fetched_at >= self.web.jwks_refresh_min_seconds
            if self._keys is None or (not known and stale):
                response = self._http.get(self.metadata()["jwks_uri"])
                response.raise_for_status()
                self._keys = KeySet.import_key_set(response.json())
                self._fetched_at = time.monotonic()
            return self._keys

    def validate(self, token: str) -> dict[str, Any]:
        """The claims of a valid access token; :class:`TokenError` with the reason otherwise."""
        header = _header(token)
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise TokenError(f"algorithm {alg!r} is not accepted (only RS256)")
        kid = str(header.get("kid") or "")
        try:
            keys = self._keyset(kid)
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            raise TokenError(f"the issuer's keys cannot be read: {type(exc).__name__}") from exc
        key = next((k for k in keys.keys if k.kid == kid), None)
        if key is None:
            raise TokenError(f"unknown signing key {kid!r}")
        try:
            decoded = jwt.decode(token, key, algorithms=list(ALGORITHMS))
        except (JoseError, ValueError) as exc:
            raise TokenError(f"bad signature or malformed token: {type(exc).__name__}") from exc
        registry = jwt.JWTClaimsRegistry(
            leeway=60,
            iss={"essential": True, "value": self.metadata()["issuer"]},
            aud={"essential": True, "value": self.web.audience},
            exp={"essential": True},
        )
        try:
            registry.validate(decoded.claims)
        except JoseError as exc:
            raise TokenError(f"{type(exc).__name__}: {exc.description or exc.error}") from exc
        return dict(decoded.claims)
