"""Exchange Web Services at ``/EWS/Exchange.asmx``: SOAP in, SOAP out, for clients such as
exchangelib configured with ``Configuration(service_endpoint=..., version=...)``.

Authentication as IIS offers it for on-premises Exchange: NTLM (the real three-leg handshake on one
connection, see :mod:`connectors.simulator.ews.ntlm`), Basic (the service accounts in
:class:`SimulatorConfig.ews_users`), or a bearer token for ``https://outlook.office365.com``
(hybrid modern auth); ``SimulatorConfig.ews_auth`` chooses which are offered. EWS throttling
(``EWSMaxConcurrency``, ``ErrorServerBusy`` with ``BackOffMilliseconds``, storms of budget errors):
:mod:`connectors.simulator.ews.throttle`. ``ExchangeImpersonation`` (``PrimarySmtpAddress``,
``SmtpAddress`` or ``PrincipalName``) picks the mailbox; without it, a ``Mailbox`` inside a
``DistinguishedFolderId`` does. Operations: see :mod:`connectors.simulator.ews.operations`.
"""

from __future__ import annotations

import base64
import hmac
import time
from typing import Any

from lxml import etree

from capstone.logging import get_logger
from connectors.simulator.ews import operations
from connectors.simulator.ews.ntlm import NtlmAcceptor, NtlmError
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
        self.ntlm = NtlmAcceptor(self._ntlm_password, dns_domain=sim.tenant.domain)

    def _ntlm_password(self, user: str, domain: str) -> str | None:
        users = self.sim.config.ews_users
        for name in (f"{domain}\\{user}".lower() if domain else None, user.lower()):
            if name and name in users:
                return users[name]
        return None

    def _challenge_headers(self) -> dict[str, str]:
        offered = []
        for method in self.sim.config.ews_auth:
            offered.append('Basic realm="simulator"' if method == "Basic" else method)
        return {"WWW-Authenticate": ", ".join(offered)}

    def _authenticate(
        self, headers: dict[str, str], connection: object
    ) -> tuple[str | None, dict[str, str] | None]:
        """(principal, None) when authenticated; (None, headers of the 401) otherwise."""
        offered = self.sim.config.ews_auth
        value = headers.get("authorization", "")
        scheme, _, credentials = value.partition(" ")
        scheme = scheme.lower()
        if scheme == "ntlm" and "NTLM" in offered:
            try:
                reply, user = self.ntlm.step(connection, base64.b64decode(credentials.strip()))
            except (NtlmError, ValueError):
                return None, self._challenge_headers()
            if reply is not None:
                return None, {"WWW-Authenticate": "NTLM " + base64.b64encode(reply).decode("ascii")}
            return (user, None) if user else (None, self._challenge_headers())
        if not value and "NTLM" in offered:
            user = self.ntlm.authenticated(connection)  # an NTLM-authenticated connection
            if user:
                return user, None
        if scheme == "basic" and "Basic" in offered:
            try:
                user, _, password = base64.b64decode(credentials.strip()).decode("utf-8").partition(":")
            except ValueError:
                return None, self._challenge_headers()
            expected = self.sim.config.ews_users.get(user.lower())
            if expected is not None and hmac.compare_digest(expected, password):
                return user.lower(), None
            return None, self._challenge_headers()
        if scheme == "bearer" and "Bearer" in offered:
            try:
                return "app:" + self.sim.tokens.authenticate(value, resource=EWS_RESOURCE), None
            except GraphError:
                return None, self._challenge_headers()
        return None, self._challenge_headers()

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

    def handle(
        self, body: bytes, headers: dict[str, str], connection: object = None
    ) -> tuple[int, bytes, dict[str, str]]:
        """One POST to the EWS endpoint; ``connection`` identifies its TCP connection (NTLM
        authenticates connections, not requests)."""
        principal, challenge = self._authenticate(headers, connection)
        if principal is None:
            return 401, b"", challenge or {}
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
        except EwsFault as exc:
            return 500, fault(exc.code, exc.message), {}
        # The budget charged: the impersonated mailbox's, else the caller's.
        refusal, release = self.sim.ews_throttle.admit(user.upn.lower() if user else principal)
        if refusal is not None:
            self.sim.count("ews-throttled")
            values: dict[str, str] = {}
            if refusal.back_off_ms is not None:
                values["BackOffMilliseconds"] = str(refusal.back_off_ms)
            if refusal.policy:
                values["Policy"] = refusal.policy
                values["MaxConcurrencyLimit"] = str(self.sim.ews_throttle.config.max_concurrency)
            return 500, fault(refusal.code, refusal.message, values), {}
        try:
            if self.sim.config.latency > 0:
                time.sleep(self.sim.config.latency)
            ctx = operations.EwsContext(self.sim, user, principal, headers.get("x-anchormailbox"))
            response = handler(ctx, request)
        except EwsFault as exc:
            return 500, fault(exc.code, exc.message), {}
        finally:
            release()
        self.sim.count("ews")
        self.sim.count(f"ews:{name}")  # per operation, for tests and benchmarks (/_sim/stats)
        log.debug("ews_request", operation=name, principal=principal)
        return 200, envelope(response), {}
