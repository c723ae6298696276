"""A captured, indexed simulated tenant with its OpenID Provider, and the web application on it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from starlette.testclient import TestClient

from capstone.access import WOO_OFFICER, Actor
from capstone.registry.service import Registry
from capstone.services import open_vault, state_engine
from capstone.settings import Settings
from capstone.web.app import create_app
from capstone.web.config import WebSettings
from capstone.woo.service import WooService
from connectors.simulator.oidc import WEB_CLIENT_ID, WEB_CLIENT_SECRET
from connectors.simulator.server import RunningSimulator, run_simulator
from tests.capture.conftest import SEED, register_sample_officials, run_capture, simulator_settings

CASE = "WOO-2026-001"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@dataclass
class WebWorld:
    settings: Settings
    sim: RunningSimulator
    web: WebSettings
    client: TestClient

    @property
    def domain(self) -> str:
        return self.sim.tenant.domain

    def upn(self, username: str) -> str:
        return f"{username}@{self.domain}"

    def token(self, username: str, failure: str | None = None) -> str:
        return self.sim.sim.oidc.test_token(username, self.sim.base_url, WEB_CLIENT_ID, failure)

    def forged(self, username: str, how: str) -> str:
        """A token an attacker could make: ``alg: none``, HS256 keyed with the public key, or a
        valid token with its payload changed."""
        valid = self.token(username)
        header, payload, _ = valid.split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        claims["roles"] = ["registry-admin", "archivist", "woo-officer", "auditor"]
        body = _b64(json.dumps(claims).encode())
        if how == "tampered":
            return f"{header}.{body}.{valid.split('.')[2]}"
        if how == "none":
            return f"{_b64(json.dumps({'alg': 'none', 'typ': 'JWT', 'kid': 'sim-1'}).encode())}.{body}."
        if how == "hs256":
            from cryptography.hazmat.primitives import serialization

            key = self.sim.sim.oidc.key.public_key  # the public key the JWKS publishes
            pem = key.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            head = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "sim-1"}).encode())
            signature = hmac.new(pem, f"{head}.{body}".encode(), hashlib.sha256).digest()
            return f"{head}.{body}.{_b64(signature)}"
        raise ValueError(how)

    def auth(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}


def web_settings(sim: RunningSimulator, **more: Any) -> WebSettings:
    return WebSettings(
        metadata_url=f"{sim.base_url}/{sim.tenant_id}/v2.0/.well-known/openid-configuration",
        client_id=WEB_CLIENT_ID,
        client_secret=SecretStr(WEB_CLIENT_SECRET),
        jwks_refresh_min_seconds=0,
        **more,
    )


@pytest.fixture(scope="module")
def web_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebWorld]:
    home = tmp_path_factory.mktemp("web") / "capstone-home"
    patch = pytest.MonkeyPatch()
    for name in ("CAPSTONE_VAULT", "CAPSTONE_DB_URL", "CAPSTONE_CONFIG"):
        patch.delenv(name, raising=False)
    patch.setenv("CAPSTONE_HOME", str(home))
    try:
        with run_simulator(seed=SEED, profile="small") as sim:
            settings = simulator_settings(Settings(home=home), sim)
            open_vault(settings, create=True).close()
            register_sample_officials(settings)
            run_capture(settings)  # also completes the search index
            officer = Actor(f"woo@{sim.tenant.domain}", frozenset({WOO_OFFICER}))
            woo = WooService(settings, officer)
            everyone = sorted({d.name for d in Registry(state_engine(settings)).designations()})
            woo.open_case(
                ref=CASE, received=date(2026, 11, 2), subject="Begroting",
                scope=woo.resolve_scope(officials=everyone),
            )  # fmt: skip
            web = web_settings(sim, jobs_dir=str(Path(home) / "jobs"))
            app = create_app(settings, web, secure_cookies=False)
            with TestClient(app, base_url="http://127.0.0.1") as client:
                yield WebWorld(settings, sim, web, client)
    finally:
        patch.undo()
