"""Authentication as on-premises Exchange offers it, through exchangelib unmodified: NTLM (the real
three-leg handshake of requests_ntlm, verified by the simulator per MS-NLMP), Basic, impersonation;
the secret never shown or logged."""

from __future__ import annotations

import base64
import logging
from dataclasses import replace

import pytest

from connectors.base import SourceError
from connectors.ews.config import EwsConfig, Secret
from connectors.ews.mailbox import EwsMailbox
from connectors.simulator.ews.ntlm import md4, ntowfv2
from connectors.simulator.server import RunningSimulator
from tests.ews.conftest import (
    BURGEMEESTER,
    GRIFFIER,
    SERVICE_PASSWORD,
    SERVICE_USER,
    connect,
    ews_config,
    run,
)


def _handshakes(sim: RunningSimulator) -> tuple[int, int]:
    ntlm = sim.sim.ews_service.ntlm
    return ntlm.handshakes, ntlm.refusals


def test_md4_and_ntowfv2_known_answers() -> None:
    # RFC 1320 test suite and MS-NLMP 4.2.4.1.1 (NTOWFv2 of "Password" for User/Domain)
    assert md4(b"").hex() == "31d6cfe0d16ae931b73c59d7e0c089c0"
    assert md4(b"message digest").hex() == "d9130a8164549fe818874806e1c7014b"
    assert ntowfv2("Password", "User", "Domain").hex() == "0c868a403bfd7a93a3001ef22ef02e3f"


@pytest.mark.parametrize("auth", ["ntlm", "basic"])
def test_folders_through_ntlm_and_basic(sim: RunningSimulator, auth: str) -> None:
    before = _handshakes(sim)
    connection = connect(sim, auth=auth)
    try:
        folders = run(EwsMailbox(connection, GRIFFIER).list_folders())
    finally:
        connection.close()
    assert any(f.path == "Inbox" for f in folders)
    after = _handshakes(sim)
    if auth == "ntlm":
        assert after[0] > before[0]  # a verified AUTHENTICATE_MESSAGE, not Basic in disguise
    else:
        assert after[0] == before[0]


@pytest.mark.parametrize("auth", ["ntlm", "basic"])
def test_wrong_password_is_refused(sim: RunningSimulator, auth: str) -> None:
    refusals = _handshakes(sim)[1]
    connection = connect(sim, auth=auth, secret=Secret("not-the-password"))
    try:
        with pytest.raises(SourceError) as caught:
            run(EwsMailbox(connection, GRIFFIER).list_folders())
    finally:
        connection.close()
    assert caught.value.status == 401 and caught.value.code == "UnauthorizedError"
    if auth == "ntlm":
        assert _handshakes(sim)[1] == refusals + 1


def test_ntlm_with_down_level_logon_name(fresh_sim: object) -> None:
    with fresh_sim(ews_users={"gemeente\\svc-capstone": "Geheim-2026!"}) as sim:  # type: ignore[operator]
        connection = connect(sim, username="GEMEENTE\\svc-capstone", secret=Secret("Geheim-2026!"))
        try:
            folders = run(EwsMailbox(connection, BURGEMEESTER).list_folders())
        finally:
            connection.close()
        assert any(f.path == "Recoverable Items/Deletions" for f in folders)
        assert sim.sim.ews_service.ntlm.handshakes >= 1


def test_impersonation_reaches_only_the_impersonated_mailbox(sim: RunningSimulator) -> None:
    connection = connect(sim)
    try:
        theirs = run(EwsMailbox(connection, BURGEMEESTER).list_folders())
        inbox = next(f for f in theirs if f.path == "Inbox")
        # impersonating the griffier, the burgemeester's inbox is out of reach
        with pytest.raises(SourceError) as caught:
            run(EwsMailbox(connection, GRIFFIER).list_item_ids(inbox.folder_id))
    finally:
        connection.close()
    assert caught.value.code == "ErrorAccessDenied" and caught.value.status == 403


def test_basic_and_ntlm_need_tls_unless_told_otherwise(sim: RunningSimulator) -> None:
    with pytest.raises(ValueError, match="TLS"):
        replace(ews_config(sim), allow_insecure_http=False)
    with pytest.raises(ValueError, match="EWS URL"):
        EwsConfig(username=SERVICE_USER, secret=Secret("x"))
    https = EwsConfig(
        username=SERVICE_USER,
        secret=Secret("x"),
        service_endpoint="https://mail.gemeente.nl/EWS/Exchange.asmx",
    )
    assert https.auth == "ntlm" and https.impersonation


def test_secret_never_shown_or_logged(
    sim: RunningSimulator, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    config = ews_config(sim, auth="basic")
    assert SERVICE_PASSWORD not in repr(config) and SERVICE_PASSWORD not in str(config.describe())
    caplog.set_level(logging.DEBUG)  # everything, exchangelib's request logging included
    connection = connect(sim, auth="basic")
    try:
        run(EwsMailbox(connection, GRIFFIER).list_folders())
    finally:
        connection.close()
    basic = base64.b64encode(f"{SERVICE_USER}:{SERVICE_PASSWORD}".encode()).decode()
    captured = capsys.readouterr()
    for text in (caplog.text, captured.out, captured.err):
        assert SERVICE_PASSWORD not in text and basic not in text
    assert caplog.records  # the handler did see records: the test looked at real output
