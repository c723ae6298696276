"""The OAuth2 client-credentials endpoint: tokens that expire, Entra-style errors, and the 401
every Graph call gets without a valid token (the SDK sees it as an ODataError)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from msgraph.generated.models.o_data_errors.o_data_error import ODataError

from connectors.simulator.server import RunningSimulator
from tests.simulator.conftest import run
from tests.simulator.graph_client import config, graph_client

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SCOPE = "https://graph.microsoft.com/.default"


def _token(sim: RunningSimulator, **overrides: str) -> httpx.Response:
    form = {
        "grant_type": "client_credentials",
        "client_id": sim.client_id,
        "client_secret": sim.client_secret,
        "scope": SCOPE,
    }
    form.update(overrides)
    return httpx.post(sim.token_url, data=form)


def test_token_endpoint_answers_like_entra(sim: RunningSimulator) -> None:
    ok = _token(sim)
    assert ok.status_code == 200
    body = ok.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0 and body["access_token"].count(".") == 2
    bad_secret = _token(sim, client_secret="nope")
    assert bad_secret.status_code == 401 and bad_secret.json()["error"] == "invalid_client"
    unknown = _token(sim, client_id="00000000-0000-0000-0000-000000000000")
    assert unknown.status_code == 400 and unknown.json()["error"] == "unauthorized_client"
    bad_scope = _token(sim, scope="Mail.Read")
    assert bad_scope.status_code == 400 and bad_scope.json()["error"] == "invalid_scope"
    assert "AADSTS1002012" in bad_scope.json()["error_description"]
    grant = _token(sim, grant_type="password")
    assert grant.status_code == 400 and grant.json()["error"] == "unsupported_grant_type"
    by_domain = httpx.post(
        f"{sim.base_url}/gemeente-demo.nl/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": sim.client_id,
            "client_secret": sim.client_secret,
            "scope": SCOPE,
        },
    )
    assert by_domain.status_code == 200
    ews = _token(sim, scope="https://outlook.office365.com/.default")
    assert ews.status_code == 200


def test_missing_forged_and_expired_tokens_are_401(fresh_sim: Any) -> None:
    with fresh_sim(token_lifetime=1.0) as sim:
        users = f"{sim.graph_url}/users"
        missing = httpx.get(users)
        assert missing.status_code == 401 and missing.json()["error"]["code"] == "InvalidAuthenticationToken"
        assert missing.headers["WWW-Authenticate"].startswith("Bearer")
        token = _token(sim).json()
        assert token["expires_in"] == 1
        assert (
            httpx.get(users, headers={"Authorization": f"Bearer {token['access_token']}"}).status_code == 200
        )
        forged = token["access_token"][:-4] + "AAAA"
        assert httpx.get(users, headers={"Authorization": f"Bearer {forged}"}).status_code == 401
        ews_token = _token(sim, scope="https://outlook.office365.com/.default").json()["access_token"]
        wrong_audience = httpx.get(users, headers={"Authorization": f"Bearer {ews_token}"})
        assert wrong_audience.status_code == 401
        time.sleep(1.1)
        expired = httpx.get(users, headers={"Authorization": f"Bearer {token['access_token']}"})
        assert expired.status_code == 401
        assert expired.json()["error"]["message"] == "Lifetime validation failed, the token is expired."

        async def sdk() -> None:
            stale = graph_client(sim, static_token=token["access_token"])
            with pytest.raises(ODataError) as err:
                await stale.users.get(request_configuration=config())
            assert err.value.response_status_code == 401
            assert err.value.error.code == "InvalidAuthenticationToken"
            fresh = graph_client(sim)  # fetches a new simulator-issued token
            users_page = await fresh.users.get(request_configuration=config())
            assert len(users_page.value) == 8

        run(sdk())
