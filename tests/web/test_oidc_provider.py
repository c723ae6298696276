"""The simulated tenant's OpenID Provider behaves as Entra ID does where the web app relies on it:
discovery, PKCE required and checked, codes used once, RS256 tokens with Entra's claims; and the
web app's session cookie is Secure outside loopback and ends at the absolute timeout."""

from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlsplit

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet
from starlette.testclient import TestClient

from capstone.web.app import create_app
from capstone.web.server import run_web
from connectors.simulator.oidc import WEB_CLIENT_ID, WEB_CLIENT_SECRET
from tests.web.conftest import WebWorld, web_settings
from tests.web.signin import sign_in


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


def test_authorization_code_flow_with_pkce(web_world: WebWorld) -> None:
    sim = web_world.sim
    with httpx.Client(timeout=30) as http:
        meta = http.get(f"{sim.base_url}/{sim.tenant_id}/v2.0/.well-known/openid-configuration").json()
        assert meta["issuer"] == f"{sim.base_url}/{sim.tenant_id}/v2.0" and meta[
            "code_challenge_methods_supported"
        ] == ["S256"]
        redirect = "http://127.0.0.1:1/cb"
        params = {"client_id": WEB_CLIENT_ID, "redirect_uri": redirect, "response_type": "code", "scope": "openid profile",
                  "state": "s1", "nonce": "n1"}  # fmt: skip
        no_pkce = http.get(meta["authorization_endpoint"], params=params)
        assert no_pkce.status_code == 400 and "Proof Key for Code Exchange" in no_pkce.text
        verifier, challenge = _pkce()
        params |= {"code_challenge": challenge, "code_challenge_method": "S256"}
        login = http.get(meta["authorization_endpoint"], params=params)
        assert login.status_code == 200 and "medewerker@" in login.text
        chosen = http.post(meta["authorization_endpoint"], data=params | {"login_hint": "auditor"})
        assert chosen.status_code == 302
        query = parse_qs(urlsplit(chosen.headers["location"]).query)
        assert query["state"] == ["s1"]
        form = {"grant_type": "authorization_code", "code": query["code"][0], "redirect_uri": redirect,
                "client_id": WEB_CLIENT_ID, "client_secret": WEB_CLIENT_SECRET}  # fmt: skip
        wrong = http.post(meta["token_endpoint"], data=form | {"code_verifier": _pkce()[0]})
        assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
        # the code was consumed by the failed attempt: a code is good for one redemption only
        assert http.post(meta["token_endpoint"], data=form | {"code_verifier": verifier}).status_code == 400

        chosen = http.post(meta["authorization_endpoint"], data=params | {"login_hint": "auditor"})
        form["code"] = parse_qs(urlsplit(chosen.headers["location"]).query)["code"][0]
        tokens = http.post(meta["token_endpoint"], data=form | {"code_verifier": verifier})
        assert tokens.status_code == 200, tokens.text
        keys = KeySet.import_key_set(http.get(meta["jwks_uri"]).json())
        claims = jwt.decode(tokens.json()["id_token"], keys, algorithms=["RS256"]).claims
        assert claims["aud"] == WEB_CLIENT_ID and claims["nonce"] == "n1" and claims["tid"] == sim.tenant_id
        assert claims["preferred_username"] == web_world.upn("auditor") and claims["roles"] == ["auditor"]
        assert claims["groups"] and claims["oid"]


def test_session_cookie_is_secure_outside_loopback(web_world: WebWorld) -> None:
    app = create_app(web_world.settings, web_world.web, secure_cookies=True)
    with TestClient(app, base_url="https://capstone.example") as client:
        started = client.get("/aanmelden", follow_redirects=False)
        assert started.status_code == 302
        cookie = started.headers["set-cookie"].lower()
        assert "secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie


def test_absolute_timeout_ends_the_session(web_world: WebWorld) -> None:
    strict = web_settings(web_world.sim, absolute_timeout_seconds=0)
    with run_web(web_world.settings, strict) as url, httpx.Client(timeout=60) as client:
        sign_in(client, url, "auditor")
        assert client.get(url + "/audit").status_code == 303
