"""Exchange Web Services at ``/EWS/Exchange.asmx``: SOAP in, SOAP out, for clients such as
exchangelib configured with ``Configuration(service_endpoint=..., version=...)``.

Authentication is Basic (the service accounts in :class:`SimulatorConfig.ews_users`) or a bearer
token for ``https://outlook.office365.com``. ``ExchangeImpersonation`` (``PrimarySmtpAddress``,
``SmtpAddress`` or ``PrincipalName``) picks the mailbox; without it, a ``Mailbox`` inside a
``DistinguishedFolderId`` does. Operations: see :mod:`connectors.simulator.ews.operations`.
"""

from __future__ import annotations

import base64
import hmac
from typing import Any

from lxml import etree

from capstone.logging import get_logger
from connectors.simulator.ews import operations
from connectors.simulator.ews.xml import MNS, SOAPNS, TNS, EwsFault, envelope, fault
from connectors.simulator.graph.auth import EWS_RESOURCE
from connectors.simulator.graph.common import GraphError
from connectors.simulator.model import NotFoundError, User
from connectors.simulator.state import Simulator

log = get_logger("simulator.ews")

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


class EwsService:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    def _authenticate(self, headers: dict[str, str]) -> str | None:
        value = headers.get("authorization", "")
        if value.lower().startswith("basic "):
            try:
                user, _, password = base64.b64decode(value[6:].strip()).decode("utf-8").partition(":")
            except ValueError:
                return None
            expected = self.sim.config.ews_users.get(user.lower())
            if expected is not None and hmac.compare_digest(expected, password):
                return user.lower()
            return None
        if value.lower().startswith("bearer "):
            try:
                return "app:" + self.sim.tokens.authenticate(value, resource=EWS_RESOURCE)
            except GraphError:
                return None
        return None

    def _impersonated(self, header: Any) -> User | None:
        if header is None:
            return None
        sid = header.find(f"{{{TNS}}}ExchangeImpersonation/{{{TNS}}}ConnectingSID")
        if sid is None:
            return None
        for name in ("PrimarySmtpAddress", "SmtpAddress", "PrincipalName"):
            node = sid.find(f"{{{TNS}}}{name}")
            if node is not None and node.text:
                try:
                    return self.sim.tenant.user(node.text)
                except NotFoundError:
                    raise EwsFault(
                        "ErrorNonExistentMailbox",
                        f"The SMTP address has no mailbox associated with it: {node.text}",
                    ) from None
        raise EwsFault(
            "ErrorInvalidExchangeImpersonationHeaderData", "The impersonation header is not valid."
        )

    def handle(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
        principal = self._authenticate(headers)
        if principal is None:
            return 401, b"", {"WWW-Authenticate": 'Basic realm="simulator", Bearer'}
        try:
            root = etree.fromstring(body, _PARSER)
        except etree.XMLSyntaxError as exc:
            return 500, fault("ErrorSchemaValidation", f"The request failed schema validation: {exc}"), {}
        if root.tag != f"{{{SOAPNS}}}Envelope":
            return 500, fault("ErrorSchemaValidation", "The request is not a SOAP envelope."), {}
        header = root.find(f"{{{SOAPNS}}}Header")
        soap_body = root.find(f"{{{SOAPNS}}}Body")
        if soap_body is None or len(soap_body) == 0:
            return 500, fault("ErrorSchemaValidation", "The SOAP body is empty."), {}
        request = soap_body[0]
        tag = str(request.tag)
        if not tag.startswith(f"{{{MNS}}}"):
            return 500, fault("ErrorInvalidRequest", "The request is invalid."), {}
        name = tag.split("}", 1)[1]
        handler = operations.OPERATIONS.get(name)
        if handler is None:
            return (
                500,
                fault("ErrorInvalidRequest", f"The operation {name} is not supported by the simulator."),
                {},
            )
        try:
            user = self._impersonated(header)
            ctx = operations.EwsContext(self.sim, user, principal, headers.get("x-anchormailbox"))
            response = handler(ctx, request)
        except EwsFault as exc:
            return 500, fault(exc.code, exc.message), {}
        self.sim.count("ews")
        log.debug("ews_request", operation=name, principal=principal)
        return 200, envelope(response), {}
